"""An unedited example's response is its teacher sample's text, held once (in the sample).

Every surface shows it, escaped; an edit puts the new text in the row; editing back to
the teacher's text empties the row again; a sample an example shows is not deleted alone.
"""

import pytest
from django.db.models.deletion import RestrictedError
from django.urls import reverse

from curation.models import Example, TeacherSample
from curation.services.review import decisions as review
from tests.factories import UserFactory
from tests.review_factories import TeacherSampleFactory

TEXT = "Reset it from the login page <b>now</b>."
ESCAPED = "Reset it from the login page &lt;b&gt;now&lt;/b&gt;."


@pytest.fixture
def unedited(approved):
    example = approved("How do I reset my password?")
    sample = TeacherSampleFactory(prompt=example.prompt, text=TEXT)
    Example.objects.filter(pk=example.pk).update(sample=sample, response="")
    example.refresh_from_db()
    assert example.response == "" and example.response_text == TEXT
    return example


def test_the_queue_the_focus_view_the_api_and_a_snapshot_show_the_samples_text(
    project, unedited, client_as, api, build
):
    client = client_as("reviewer")
    queue = client.get(reverse("review-queue", args=[project.slug]) + "?status=approved").content.decode()
    focus = client.get(reverse("review-focus", args=[project.slug, unedited.pk])).content.decode()
    assert ESCAPED in queue and ESCAPED in focus and TEXT not in queue + focus
    listed = api("reader").get(f"/api/v1/projects/{project.slug}/examples/").json()["results"]
    assert [(e["response"], e["original_response"]) for e in listed] == [(TEXT, TEXT)]
    [row] = build(project).rows.all()
    assert row.response == TEXT


def test_an_edit_is_held_in_the_row_and_editing_back_empties_it(unedited):
    alice = UserFactory(username="alice")
    edited = review.edit(unedited, alice, unedited.version, "Use the reset link.")
    edited.refresh_from_db()
    assert (edited.response, edited.original_response, edited.edited) == ("Use the reset link.", TEXT, True)
    back = review.edit(edited, alice, edited.version, TEXT)
    back.refresh_from_db()
    assert (back.response, back.original_response, back.edited, back.response_text) == ("", "", False, TEXT)


def test_a_sample_an_example_shows_goes_only_with_its_example(unedited):
    with pytest.raises(RestrictedError):
        TeacherSample.objects.get(pk=unedited.sample_id).delete()
    assert Example.objects.get(pk=unedited.pk).response_text == TEXT
    unedited.prompt.delete()  # takes its samples and examples together
    assert not Example.objects.exists() and not TeacherSample.objects.exists()

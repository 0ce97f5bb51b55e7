"""Classification examples show labels, not an empty response: in the queue rows and the focus view."""

import pytest
from django.urls import reverse

from curation.models import Example, Verdict
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.review_factories import example_with_sample

LABELS = ["billing", "account", "bug"]


@pytest.fixture
def triage(db):
    return ProjectFactory(task_type="classification", labels=LABELS)


@pytest.fixture
def reviewer(client, triage):
    user = UserFactory(username="cora")
    MembershipFactory(project=triage, user=user, role="reviewer")
    client.force_login(user)
    return client


def classified(project, predicted="billing", label=None, distribution=None):
    """An example as classification generation writes it: no response, the teacher's label."""
    example = example_with_sample(project, response="", label=label or predicted)
    example.sample.predicted_label = predicted
    example.sample.text = predicted
    example.sample.label_distribution = distribution or {"billing": 0.7, "account": 0.2, "bug": 0.1}
    example.sample.save()
    return example


def focus_page(client, example):
    return client.get(reverse("review-focus", args=[example.project.slug, example.pk])).content.decode()


def test_the_queue_shows_the_label_and_the_teachers_distribution(triage, reviewer):
    classified(triage, predicted="billing", label="account")
    page = reviewer.get(reverse("review-queue", args=[triage.slug])).content.decode()
    assert "<th>Label</th>" in page and "<th>Response</th>" not in page
    # The label once, with the teacher's probability for it; the teacher's own pick when it differs.
    rows = page.split('<table class="table queue')[1]
    assert rows.count(">account<") == 1 and '<b class="label">account</b>' in rows
    assert "20.0%" in page and 'data-width="20"' in page  # app.js sizes the bar (no inline style under the CSP)
    assert "teacher: billing 70.0%" in " ".join(page.split())
    assert 'title="the teacher\'s distribution: billing 70.0%, account 20.0%, bug 10.0%"' in page


def test_the_queue_of_a_generation_project_still_shows_responses(project, client_as):
    example_with_sample(project, response="A drafted reply.")
    page = client_as("reviewer").get(reverse("review-queue", args=[project.slug])).content.decode()
    assert 'Prompt <span class="th-sub">and response</span>' in page and ">A drafted reply.<" in page


def test_the_focus_view_shows_the_prediction_and_hides_the_text_tools(triage, reviewer):
    example = classified(triage, predicted="billing", label="bug")
    page = focus_page(reviewer, example)
    assert '<b id="current-label">bug</b>' in page
    assert '<b id="teacher-label">billing</b>' in page
    assert "changed by a reviewer" in page
    assert 'id="response-text"' not in page and 'name="response"' not in page
    assert 'id="heatmap"' not in page
    assert 'class="bar-row current"' in page  # the current label is marked in the bars
    assert 'id="edit-form"' not in page and 'data-shortcut="l"' not in page  # one way to change a label


def test_each_label_has_its_number_key_and_grades_move_to_shift(triage, reviewer):
    page = " ".join(focus_page(reviewer, classified(triage, label="account")).split())  # lines wrap in the template
    for number, name in enumerate(LABELS, start=1):
        assert f'<button name="label" value="{name}" data-shortcut="{number}"' in page
        assert f"<kbd>{number}</kbd> {name}</button>" in page
    assert 'value="account" data-shortcut="2" aria-pressed="true" class="current"' in page
    assert 'name="grade" value="3" data-shortcut="shift+3"' in page
    assert 'data-shortcut="3" title' not in page
    assert "Shift+1 – 5" in page and "Set the label shown with that number" in page


def test_a_generation_project_keeps_digits_for_grades(reviewer, db):
    from tests.factories import ProjectFactory as Projects

    project = Projects()
    MembershipFactory(project=project, user=UserFactory(username="gen"), role="reviewer")
    example = example_with_sample(project)
    reviewer.force_login(project.memberships.get().user)
    page = focus_page(reviewer, example)
    assert 'name="grade" value="3" data-shortcut="3"' in page and 'id="label-form"' not in page


def test_the_edit_action_sets_the_label(triage, reviewer):
    example = classified(triage)
    url = reverse("review-act", args=[triage.slug, example.pk, "edit"])
    response = reviewer.post(url, {"version": example.version, "label": "account"})
    assert response.status_code == 302
    example = Example.objects.get(pk=example.pk)
    assert example.label == "account" and example.response == ""
    assert Verdict.objects.get(example=example).action == Verdict.Action.LABEL


def test_editing_to_an_unknown_label_is_refused(triage, reviewer):
    example = classified(triage)
    url = reverse("review-act", args=[triage.slug, example.pk, "edit"])
    response = reviewer.post(url, {"version": example.version, "label": "nonsense"})
    assert response.status_code == 400
    assert "not one of this project&#x27;s labels" in response.content.decode()
    assert Example.objects.get(pk=example.pk).label == "billing"


def test_a_malformed_distribution_does_not_break_the_pages(triage, reviewer):
    example = classified(triage, distribution={"billing": "lots", "account": 0.4, "bug": None})
    assert '<span class="num">40.0%</span>' in focus_page(reviewer, example)
    assert reviewer.get(reverse("review-queue", args=[triage.slug])).status_code == 200

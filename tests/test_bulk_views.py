import re

import pytest
from django.urls import reverse

from curation.models import BulkAction, Example, Verdict
from tests.factories import ExampleFactory
from tests.review_factories import GoldItemFactory


@pytest.fixture
def reviewer(client_as):
    return client_as("reviewer")


@pytest.fixture
def rows(project):
    hard = project.tiers.get(name="hard")
    return [ExampleFactory(prompt__project=project, tier=hard if i < 60 else None) for i in range(75)]


def bulk_url(project, query):
    return reverse("review-bulk", args=[project.slug]) + f"?{query}"


def test_the_confirmation_states_how_many_examples_the_whole_filter_matches(project, rows, reviewer):
    page = reviewer.get(bulk_url(project, "tier=hard&status=pending&action=approve")).content.decode()
    assert "Approve 60 examples?" in page  # not only the 50 of a page
    assert 'name="expected" value="60"' in page
    assert "<b>tier</b> = hard" in page


def test_applying_changes_all_of_them_and_says_so(project, rows, reviewer):
    response = reviewer.post(
        bulk_url(project, "tier=hard&status=pending"), {"action": "approve", "expected": "60"}, follow=True
    )
    assert "Approved 60 examples" in response.content.decode()
    assert Example.objects.filter(project=project, status="approved").count() == 60
    bulk = BulkAction.objects.get()
    assert bulk.count == 60 and bulk.filter == {"tier": ["hard"], "status": ["pending"]}
    assert Verdict.objects.filter(bulk_id=bulk.id).count() == 60


def test_it_refuses_when_the_number_changed_since_the_confirmation(project, rows, reviewer):
    ExampleFactory(prompt__project=project, tier=project.tiers.get(name="hard"))
    response = reviewer.post(bulk_url(project, "tier=hard"), {"action": "reject", "expected": "60"})
    page = response.content.decode()
    assert response.status_code == 409
    assert "matched 60" in page and "matches 61 now" in page and 'name="expected" value="61"' in page
    assert not Example.objects.filter(status="rejected").exists()


def test_a_broken_filter_or_target_is_a_400_naming_the_field(project, rows, reviewer):
    response = reviewer.get(bulk_url(project, "tier=mythic&action=approve"))
    assert response.status_code == 400 and "mythic" in response.content.decode()
    response = reviewer.get(bulk_url(project, "action=stage&to_stage=orbit"))
    assert response.status_code == 400 and "to_stage" in response.content.decode()


def test_moving_by_filter_from_the_board_moves_every_match(project, rows, reviewer):
    Example.objects.filter(project=project, tier__name="hard").update(status="approved")
    query = "stage=pool&status=approved&tier=hard&action=stage&to_stage=stage+1"
    page = reviewer.get(bulk_url(project, query)).content.decode()
    assert "Move 60 examples to stage 1?" in page
    reviewer.post(
        bulk_url(project, "stage=pool&status=approved&tier=hard"),
        {"action": "stage", "to_stage": "stage 1", "expected": "60"},
    )
    assert Example.objects.filter(project=project, stage__name="stage 1").count() == 60


def test_the_board_counts_each_stage_by_tier_and_status_and_what_a_snapshot_holds(project, rows, client_as):
    stage1 = project.stages.get(name="stage 1")
    moved = rows[:10]
    Example.objects.filter(pk__in=[e.pk for e in moved]).update(stage=stage1, status="approved")
    GoldItemFactory(prompt=moved[0].prompt)
    page = client_as("reader").get(reverse("review-board", args=[project.slug])).content.decode()
    column = page[page.index(f'id="stage-{stage1.id}"') :]
    column = column[: column.index("</section>")]
    assert "<b>9</b> would go in a snapshot" in column
    assert "1 approved but gold-guarded" in column
    assert re.search(r"10 approved", column)


def test_readers_cannot_bulk_act(project, rows, client_as):
    response = client_as("reader").post(bulk_url(project, "tier=hard"), {"action": "approve", "expected": "60"})
    assert response.status_code == 403
    assert not Example.objects.filter(status="approved").exists()


def test_a_missing_target_stage_asks_again_with_the_filter_kept(project, rows, reviewer):
    response = reviewer.get(bulk_url(project, "tier=hard&action=stage&to_stage="))
    page = response.content.decode()
    assert response.status_code == 400 and 'id="bulk-error"' in page
    assert "Choose the action again" in page  # not a dead end: the form is on the page
    assert '<input type="hidden" name="tier" value="hard">' in page
    assert '<option value="stage" selected>' in page and 'data-for-action="stage"' in page


def test_ticked_rows_are_a_filter_of_their_own(project, rows, reviewer):
    picked = [rows[0].pk, rows[70].pk]
    query = f"id={picked[0]}&id={picked[1]}&action=reject"
    assert "Reject 2 examples?" in reviewer.get(bulk_url(project, query)).content.decode()
    response = reviewer.post(bulk_url(project, f"id={picked[0]}&id={picked[1]}"), {"action": "reject", "expected": "2"})
    assert response.status_code == 302
    assert set(Example.objects.filter(status="rejected").values_list("pk", flat=True)) == set(picked)
    assert reviewer.get(bulk_url(project, "id=12x&action=reject")).status_code == 400


def test_the_queue_has_a_checkbox_per_row_for_reviewers_only(project, rows, reviewer, client_as):
    page = reviewer.get(reverse("review-queue", args=[project.slug])).content.decode()
    assert page.count('type="checkbox" name="id"') == 50 and 'id="selection-form"' in page
    reader = client_as("reader")
    assert 'name="id"' not in reader.get(reverse("review-queue", args=[project.slug])).content.decode()

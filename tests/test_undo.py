"""Undo: a reviewer's last decision and a whole bulk action, exact values back, audited, in a window, locked."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from curation.models import BulkAction, Example, Verdict
from curation.services import review
from curation.services.review import ReviewError, StaleExample, apply_bulk, filtered_examples, plan_bulk
from tests.factories import ExampleFactory, MembershipFactory, UserFactory


@pytest.fixture
def rita(project):
    user = UserFactory(username="rita")
    MembershipFactory(project=project, user=user, role="reviewer")
    return user


@pytest.fixture
def bob(project):
    user = UserFactory(username="bob")
    MembershipFactory(project=project, user=user, role="reviewer")
    return user


def fresh(example):
    return Example.objects.select_related("tier", "stage").get(pk=example.pk)


def last_verdict(example):
    return Verdict.objects.filter(example_id=example.pk).order_by("-id").first()


def test_it_undoes_an_approval_exactly_and_audits_it(project, rita):
    example = ExampleFactory(prompt__project=project)
    review.apply(example, rita, "approve", example.version)
    approved = fresh(example)
    verdict = review.undoable_verdict(approved, rita)
    assert verdict is not None and verdict.action == "approve"
    done = review.undo_decision(approved, rita, verdict.pk, approved.version)
    example = fresh(example)
    assert (example.status, example.approvals, example.reviewed_by_id) == ("pending", 0, None)
    assert example.version == approved.version + 1
    undo = last_verdict(example)
    assert undo.action == "undo" and undo.changes["status"] == ["approved", "pending"] and undo.user == rita
    assert done.description == f"Undid the approval of #{example.pk}"
    assert review.undoable_verdict(example, rita) is None  # an undo is not undone by z again


def test_it_restores_the_tier_grade_and_label_before(project, rita):
    hard = project.tiers.get(name="hard")
    example = ExampleFactory(prompt__project=project, tier=hard, label="billing")
    project.task_type, project.labels = "classification", ["billing", "account"]
    project.save()
    for action, fields in (("tier", {"tier": "easy"}), ("grade", {"grade": 4}), ("label", {"label": "account"})):
        current = fresh(example)
        review.apply(current, rita, action, current.version, **fields)
        current = fresh(example)
        review.undo_decision(current, rita, last_verdict(current).pk, current.version)
    example = fresh(example)
    assert (example.tier, example.tier_locked, example.grade, example.label) == (hard, False, None, "billing")


def test_an_undo_is_refused_when_someone_changed_the_example_since(project, rita, bob):
    example = ExampleFactory(prompt__project=project)
    review.apply(example, rita, "approve", example.version)
    verdict = last_verdict(example)
    current = fresh(example)
    review.apply(current, bob, "grade", current.version, grade=2)
    current = fresh(example)
    assert review.undoable_verdict(current, rita) is None
    with pytest.raises(StaleExample) as err:
        review.undo_decision(current, rita, verdict.pk, current.version)
    assert "bob" in str(err.value)
    assert fresh(example).status == "approved" and fresh(example).grade == 2


def test_an_undo_is_refused_to_another_reviewer_after_the_window_and_for_edits(project, rita, bob, settings):
    example = ExampleFactory(prompt__project=project)
    review.apply(example, rita, "approve", example.version)
    current, verdict = fresh(example), last_verdict(example)
    with pytest.raises(ReviewError, match="Only the reviewer"):
        review.undo_decision(current, bob, verdict.pk, current.version)
    later = timezone.now() + timedelta(seconds=settings.REVIEW_UNDO_SECONDS + 1)
    assert review.undoable_verdict(current, rita, now=later) is None
    with pytest.raises(ReviewError, match="Undo is possible for 15 minutes"):
        review.undo_decision(current, rita, verdict.pk, current.version, now=later)
    review.apply(current, rita, "edit", current.version, text="A better answer.")
    current = fresh(example)
    with pytest.raises(ReviewError, match="cannot be undone"):
        review.undo_decision(current, rita, last_verdict(current).pk, current.version)
    assert fresh(example).status == "approved"


def bulk(project, user, params, action, **target):
    queryset, _ = filtered_examples(project, params)
    return apply_bulk(project, user, queryset, plan_bulk(project, action, **target), expected=queryset.count())


def test_a_bulk_undo_restores_each_examples_own_values(project, rita, bob):
    rows = [ExampleFactory(prompt__project=project) for _ in range(6)]
    review.apply(rows[0], bob, "approve", rows[0].version)  # approved, approvals 1
    review.apply(rows[1], bob, "reject", rows[1].version)
    before = {e.pk: (e.status, e.approvals, e.conflict, e.version) for e in map(fresh, rows)}
    action = bulk(project, rita, {}, "reject")
    assert set(Example.objects.filter(project=project).values_list("status", flat=True)) == {"rejected"}
    result = review.undo_bulk(action, rita)
    assert (result.restored, result.skipped) == (6, 0)
    for example in map(fresh, rows):
        status, approvals, conflict, version = before[example.pk]
        assert (example.status, example.approvals, example.conflict) == (status, approvals, conflict)
        assert example.version == version + 2  # the bulk action, then its undo
    undo = BulkAction.objects.get(undoes=action)
    assert undo.action == "undo" and undo.count == 6 and undo.user == rita
    assert Verdict.objects.filter(bulk_id=undo.pk, action="undo").count() == 6
    assert BulkAction.objects.get(pk=action.pk).undone_at is not None
    with pytest.raises(ReviewError, match="already undone"):
        review.undo_bulk(action, rita)


def test_a_bulk_undo_skips_examples_changed_since_and_says_so(project, rita, bob):
    rows = [ExampleFactory(prompt__project=project) for _ in range(4)]
    action = bulk(project, rita, {}, "stage", to_stage="stage 1")
    touched = fresh(rows[2])
    review.apply(touched, bob, "stage", touched.version, stage="pool")
    review.apply(fresh(rows[3]), bob, "grade", fresh(rows[3]).version, grade=5)
    result = review.undo_bulk(action, rita)
    assert (result.restored, result.skipped) == (2, 2)
    assert "2 changed since and keep their newer values" in result.describe()
    stages = {e.pk: e.stage.name for e in map(fresh, rows)}
    assert stages == {rows[0].pk: "pool", rows[1].pk: "pool", rows[2].pk: "pool", rows[3].pk: "stage 1"}
    assert fresh(rows[3]).grade == 5


def test_a_bulk_tier_undo_keeps_a_persons_tier_locked(project, rita):
    hard, easy = project.tiers.get(name="hard"), project.tiers.get(name="easy")
    auto = ExampleFactory(prompt__project=project, tier=hard)  # tiered by the machine
    by_person = ExampleFactory(prompt__project=project)
    review.apply(by_person, rita, "tier", by_person.version, tier="hard")
    action = bulk(project, rita, {}, "tier", to_tier="easy")
    assert {fresh(auto).tier, fresh(by_person).tier} == {easy}
    review.undo_bulk(action, rita)
    assert (fresh(auto).tier, fresh(auto).tier_locked) == (hard, False)
    assert (fresh(by_person).tier, fresh(by_person).tier_locked) == (hard, True)


def test_a_bulk_undo_is_refused_to_others_and_after_the_window(project, rita, bob, settings):
    ExampleFactory(prompt__project=project)
    action = bulk(project, rita, {}, "approve")
    with pytest.raises(ReviewError, match="Only the reviewer"):
        review.undo_bulk(action, bob)
    later = timezone.now() + timedelta(seconds=settings.REVIEW_UNDO_SECONDS + 1)
    assert review.undoable_bulk(project, rita, now=later) is None
    with pytest.raises(ReviewError, match="can be undone for 15 minutes"):
        review.undo_bulk(action, rita, now=later)
    assert review.undoable_bulk(project, rita) == action


def test_the_focus_view_names_the_decided_example_and_its_undo_button_works(client, project, rita):
    first, second = (ExampleFactory(prompt__project=project, prompt__text=f"Prompt <b>{i}</b>") for i in range(2))
    client.force_login(rita)
    url = reverse("review-act", args=[project.slug, first.pk, "approve"])
    page = client.post(url, {"version": first.version, "fragment": "focus"}, HTTP_HX_REQUEST="true").content.decode()
    assert f'data-example="{second.pk}"' in page
    assert f"#{first.pk} <q>Prompt &lt;b&gt;0&lt;/b&gt;</q>" in page  # names it, escaped
    assert 'data-shortcut="z" id="undo-button"' in page
    verdict = last_verdict(first)
    undo_url = reverse("review-undo", args=[project.slug, first.pk])
    form = {"verdict": verdict.pk, "version": fresh(first).version, "fragment": "focus"}
    page = client.post(undo_url, form, HTTP_HX_REQUEST="true").content.decode()
    assert f"Undid the approval of #{first.pk}: it is pending again." in page
    assert f'data-example="{first.pk}"' in page and fresh(first).status == "pending"
    again = client.post(undo_url, {**form, "version": fresh(first).version}, HTTP_HX_REQUEST="true")
    assert again.status_code == 409  # the undo itself changed the example since


def test_the_queue_offers_the_bulk_undo_and_it_restores(client, project, rita):
    rows = [ExampleFactory(prompt__project=project) for _ in range(3)]
    action = bulk(project, rita, {}, "approve")
    client.force_login(rita)
    page = client.get(reverse("review-queue", args=[project.slug])).content.decode()
    assert "You approved 3 examples" in page and 'id="bulk-undo"' in page
    response = client.post(reverse("review-bulk-undo", args=[project.slug, action.pk]), follow=True)
    assert "Undid approve on 3 examples." in response.content.decode()
    assert {fresh(e).status for e in rows} == {"pending"}
    assert 'id="bulk-undo"' not in client.get(reverse("review-queue", args=[project.slug])).content.decode()

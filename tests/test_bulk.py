import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from curation.models import BulkAction, Example, Verdict
from curation.services.review import BulkCountChanged, ReviewError, apply_bulk, filtered_examples, plan_bulk
from curation.services.review import decisions as review
from tests.factories import ExampleFactory, UserFactory


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def examples(project):
    hard = project.tiers.get(name="hard")
    rows = [ExampleFactory(prompt__project=project, tier=hard if i % 2 else None) for i in range(12)]
    return rows


def _bulk(project, user, params, action, **target):
    qs, _cleaned = filtered_examples(project, params)
    plan = plan_bulk(project, action, **target)
    return apply_bulk(project, user, qs, plan, expected=qs.count(), filter_description={"p": 1})


def test_it_approves_every_matching_example_with_one_audit_row_each(project, examples, alice):
    bulk = _bulk(project, alice, {"tier": "hard"}, "approve")
    hard_ids = {e.id for e in examples if e.tier_id}
    assert bulk.count == len(hard_ids) == 6
    approved = Example.objects.filter(project=project, status="approved")
    assert set(approved.values_list("id", flat=True)) == hard_ids
    assert set(approved.values_list("version", flat=True)) == {2}
    # reviewed_by names individual reviews; the bulk decision is attributed in its verdicts.
    assert set(approved.values_list("reviewed_by", flat=True)) == {None}
    verdicts = Verdict.objects.filter(bulk_id=bulk.id)
    assert set(verdicts.values_list("example_id", flat=True)) == hard_ids
    v = verdicts.first()
    assert v.action == "approve" and v.user == alice and v.version == 2 and v.project_id == project.id
    # Every value an undo must restore (approvals, conflict) is recorded next to the status.
    assert v.changes["status"] == ["pending", "approved"] and v.changes["approvals"] == [0, 1]
    assert not any(v.changes["conflict"])
    assert Example.objects.filter(project=project, status="pending").count() == 6


def test_it_uses_a_constant_number_of_statements(project, examples, alice):
    qs, _ = filtered_examples(project, {"tier": "hard"})
    plan = plan_bulk(project, "stage", to_stage="stage 2")
    with CaptureQueriesContext(connection) as few:
        apply_bulk(project, alice, qs, plan, expected=6)
    ExampleFactory.create_batch(30, prompt__project=project, tier=project.tiers.get(name="hard"))
    qs, _ = filtered_examples(project, {"tier": "hard"})
    with CaptureQueriesContext(connection) as many:
        apply_bulk(project, alice, qs, plan, expected=36)
    # Independent of the number of rows; on PostgreSQL one UPDATE per value the moved
    # column can hold before (here each stage), on SQLite two statements in all; one more reads
    # whether a stage became review-ready (review.stage_ready).
    assert len(many) == len(few) <= 8 + project.stages.count()


def test_the_audit_rows_keep_before_and_after_tier_and_stage(project, examples, alice):
    bulk = _bulk(project, alice, {"tier": "hard"}, "tier", to_tier="easy")
    assert {tuple(c["tier"]) for c in Verdict.objects.filter(bulk_id=bulk.id).values_list("changes", flat=True)} == {
        ("hard", "easy")
    }
    assert Example.objects.filter(project=project, tier__name="easy", tier_locked=True).count() == 6
    bulk = _bulk(project, alice, {"tier": "easy"}, "stage", to_stage="stage 1")
    assert {tuple(c["stage"]) for c in Verdict.objects.filter(bulk_id=bulk.id).values_list("changes", flat=True)} == {
        ("pool", "stage 1")
    }
    bulk = _bulk(project, alice, {"tier": "none"}, "tier", to_tier="hard")
    assert {tuple(c["tier"]) for c in Verdict.objects.filter(bulk_id=bulk.id).values_list("changes", flat=True)} == {
        (None, "hard")
    }


def test_it_refuses_when_the_filter_matches_a_different_number_now(project, examples, alice):
    qs, _ = filtered_examples(project, {"tier": "hard"})
    plan = plan_bulk(project, "reject")
    with pytest.raises(BulkCountChanged) as err:
        apply_bulk(project, alice, qs, plan, expected=5)
    assert err.value.actual == 6 and "5" in str(err.value) and "6" in str(err.value)
    assert not Verdict.objects.exists() and not BulkAction.objects.exists()
    assert not Example.objects.filter(status="rejected").exists()


def test_a_later_single_action_on_a_bulk_changed_example_sees_the_bumped_version(project, examples, alice):
    loaded = examples[1].version
    _bulk(project, alice, {"tier": "hard"}, "approve")
    with pytest.raises(review.StaleExample) as err:
        review.reject(examples[1], alice, loaded)
    assert err.value.changes()[0]["changes"]["status"] == ["pending", "approved"]


def test_bulk_approval_is_refused_when_a_second_approval_is_required(project):
    project.require_second_approval = True
    with pytest.raises(ReviewError, match="second approval"):
        plan_bulk(project, "approve")


def test_a_bad_target_names_its_field(project):
    with pytest.raises(ReviewError, match="to_stage"):
        plan_bulk(project, "stage", to_stage="nowhere")
    with pytest.raises(ReviewError, match="to_tier"):
        plan_bulk(project, "tier", to_tier="")
    with pytest.raises(ReviewError, match="action"):
        plan_bulk(project, "delete")


def test_bulk_approval_releases_leases(project, examples, alice):
    from django.utils import timezone

    Example.objects.filter(id=examples[1].id).update(leased_by=alice, lease_expires_at=timezone.now())
    _bulk(project, alice, {"tier": "hard"}, "approve")
    examples[1].refresh_from_db()
    assert examples[1].leased_by is None


def test_filters_with_joins_and_text_search_apply_to_exactly_their_matches(project, examples, alice):
    from curation.models import Prompt

    review.approve(examples[0], alice, 1)
    Prompt.objects.filter(pk=examples[3].prompt_id).update(text="Where is my refund?")
    bulk = _bulk(project, alice, {"reviewer": "alice"}, "stage", to_stage="stage 3")
    assert list(Verdict.objects.filter(bulk_id=bulk.id).values_list("example_id", flat=True)) == [examples[0].id]
    bulk = _bulk(project, alice, {"q": "refund"}, "reject")
    assert list(Example.objects.filter(status="rejected").values_list("id", flat=True)) == [examples[3].id]
    assert bulk.count == 1


def test_a_row_changed_during_the_one_statement_path_is_redone_lock_first(project, examples, alice, monkeypatch):
    from curation.services.review import bulk as bulk_module

    if connection.vendor != "postgresql":
        pytest.skip("the one-statement path is PostgreSQL's")

    real = bulk_module._update_and_audit
    calls = []

    def raced(*args):
        calls.append(real(*args) - 1)  # as if a matching row had changed under the statement
        return calls[-1]

    monkeypatch.setattr(bulk_module, "_update_and_audit", raced)
    bulk = _bulk(project, alice, {"tier": "hard"}, "approve")
    assert len(calls) == 1  # tried once, rolled back whole, then done lock-first
    assert BulkAction.objects.get().id == bulk.id and bulk.count == 6
    assert Verdict.objects.count() == 6 and set(Verdict.objects.values_list("version", flat=True)) == {2}
    assert set(Example.objects.filter(status="approved").values_list("version", flat=True)) == {2}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change, outcome", [("lease", "applied"), ("reject", "refused")])
def test_a_row_another_reviewer_is_changing_on_postgresql(project, change, outcome):
    """The bulk UPDATE waits for the other writer, then re-checks: exact audit rows, or nothing."""
    import threading

    from django.db import connections

    if connection.vendor != "postgresql":
        pytest.skip("row locks and re-checks are PostgreSQL's")
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    rows = [ExampleFactory(prompt__project=project) for _ in range(5)]
    holding, release = threading.Event(), threading.Event()

    def other_writer():
        try:
            with transaction.atomic():
                if change == "lease":  # still matches, same status and version
                    Example.objects.filter(pk=rows[2].pk).update(leased_by=bob)
                else:  # no longer matches status=pending
                    review.reject(rows[2], bob, rows[2].version)
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert holding.wait(10)
    threading.Timer(0.5, release.set).start()  # commits while the bulk UPDATE waits on its row lock
    try:
        if outcome == "applied":
            bulk = _bulk_expecting(project, alice, {"status": ["pending"]}, 5)
            assert bulk.count == 5
            assert Verdict.objects.filter(bulk_id=bulk.id).count() == 5
            assert set(Example.objects.values_list("status", "version")) == {("approved", 2)}
        else:
            with pytest.raises(BulkCountChanged):
                _bulk_expecting(project, alice, {"status": ["pending"]}, 5)
            assert not Verdict.objects.filter(bulk_id__isnull=False).exists()
            assert Example.objects.filter(status="pending").count() == 4
    finally:
        release.set()
        thread.join()


def _bulk_expecting(project, user, params, expected):
    qs, _ = filtered_examples(project, params)
    return apply_bulk(project, user, qs, plan_bulk(project, "approve"), expected=expected)

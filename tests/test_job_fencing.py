"""Exactly-once job execution: a claim fences out the attempt before it, the heartbeat
cannot be blocked by a job's own transaction, and every task records its Celery node."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.utils import timezone

from curation.models import Job
from curation.services import job_context, jobs


@pytest.fixture
def job(project):
    return Job.objects.create(project=project, kind=Job.Kind.SNAPSHOT, status=Job.Status.QUEUED)


def _go_stale(job, settings):
    Job.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 5)
    )


def test_each_claim_gets_its_own_token_and_attempt_row(job, settings):
    first = jobs.claim(job.id, "a@host:1")
    _go_stale(job, settings)
    second = jobs.claim(job.id, "b@host:2")
    assert first.claim_token and second.claim_token and first.claim_token != second.claim_token
    attempts = list(job.attempt_rows.order_by("number").values_list("number", "worker", "token"))
    assert attempts == [(1, "a@host:1", first.claim_token), (2, "b@host:2", second.claim_token)]


def test_a_fenced_out_attempt_can_no_longer_write_the_job_row(job, settings):
    old = jobs.JobContext(jobs.claim(job.id, "a@host:1"))
    _go_stale(job, settings)
    new = jobs.JobContext(jobs.claim(job.id, "b@host:2"))
    new.progress(5, 10, phase="new attempt", force=True)

    with pytest.raises(jobs.ClaimLost):
        old.progress(9, 10, phase="old attempt", force=True)
    with pytest.raises(jobs.ClaimLost):
        old.cancelled(force=True)
    assert jobs.finish(old, jobs.JobOutcome(message="old says done")) is False

    job.refresh_from_db()
    assert (job.status, job.phase, job.progress_done, job.message) == ("running", "new attempt", 5, "")
    assert jobs.finish(new, jobs.JobOutcome(message="done")) is True
    job.refresh_from_db()
    assert (job.status, job.message) == ("succeeded", "done")
    outcomes = dict(job.attempt_rows.values_list("number", "outcome"))
    assert outcomes == {1: "fenced", 2: "succeeded"}


def test_a_body_whose_claim_was_taken_stops_and_leaves_the_job_to_the_new_attempt(job, settings):
    def body(ctx):
        _go_stale(job, settings)
        jobs.claim(job.id, "other@host:7")  # a takeover while this attempt still runs (network partition)
        ctx.progress(1, 2, force=True)
        pytest.fail("the fenced attempt went on")

    assert jobs.run(job.id, body) == "fenced"
    job.refresh_from_db()
    assert job.status == "running" and job.worker == "other@host:7"


def test_recovery_clears_the_token_so_a_late_write_of_the_old_attempt_is_refused(job, settings, monkeypatch):
    monkeypatch.setattr(jobs, "enqueue", lambda job_id: None)
    ctx = jobs.JobContext(jobs.claim(job.id, "a@host:1"))
    _go_stale(job, settings)
    assert jobs.recover_jobs("b@host") == [job.id]
    with pytest.raises(jobs.ClaimLost):
        ctx.progress(1, force=True)
    job.refresh_from_db()
    assert job.status == "queued"


def test_a_beat_is_refused_once_the_claim_is_gone(job, settings):
    ctx = jobs.JobContext(jobs.claim(job.id, "a@host:1"))
    assert jobs.beat(job.id, ctx.token) is True
    _go_stale(job, settings)
    jobs.claim(job.id, "b@host:2")
    assert jobs.beat(job.id, ctx.token) is False


def test_progress_inside_a_job_transaction_never_locks_the_job_row(job):
    """The defect: progress() inside a long transaction held the row lock, the heartbeat
    waited behind it, and the stale sweep re-enqueued a job that was still running."""
    ctx = jobs.JobContext(jobs.claim(job.id, "a@host:1"))
    with transaction.atomic():
        ctx.progress(3, 10, phase="inside a transaction", force=True)
        ctx.error("item 1", "bad")
        if connection.vendor == "postgresql":
            from django.db import connections

            # Another connection (the heartbeat's) must find the row unlocked: NOWAIT fails at once if not.
            other = connections.create_connection("default")
            try:
                with other.cursor() as cursor:
                    cursor.execute("BEGIN")
                    cursor.execute("SELECT id FROM curation_job WHERE id = %s FOR UPDATE NOWAIT", [job.pk])
                    cursor.execute("ROLLBACK")
            finally:
                other.close()
        else:
            # SQLite has no row locks: the rule is that nothing was written on the body's connection.
            assert Job.objects.get(pk=job.pk).progress_done == 0
    ctx.progress(4, force=True)
    job.refresh_from_db()
    assert (job.progress_done, job.progress_total, job.errors) == (4, 10, [{"item": "item 1", "error": "bad"}])


def test_the_heartbeat_uses_a_short_transaction_with_a_lock_timeout(job):
    ctx = jobs.JobContext(jobs.claim(job.id, "a@host:1"))
    with mock.patch.object(job_context, "_beat_sql_prelude") as prelude:
        jobs.beat(job.id, ctx.token)
    assert prelude.called


@pytest.mark.parametrize(
    "module, task",
    [
        ("workers.tasks.snapshots", "build"),
        ("workers.tasks.experiments", "prepare"),
        ("workers.tasks.generation", "generate"),
        ("workers.tasks.generation", "score"),
        ("workers.tasks.training", "distill"),
        ("workers.tasks.training", "evaluate"),
    ],
)
def test_every_task_runs_its_job_under_the_celery_node_name(module, task, monkeypatch):
    import importlib

    from curation.services import jobs as jobs_module

    calls = []
    monkeypatch.setattr(jobs_module, "run", lambda job_id, body, node=None: calls.append(node) or "ok")
    the_task = getattr(importlib.import_module(module), task)
    with mock.patch("celery.app.task.gethostname", return_value="gpu-1@box"):  # what the worker's request carries
        the_task.apply(args=[1])
    assert calls == ["gpu-1@box"]


def test_a_body_that_loses_its_database_connection_puts_the_job_back_in_the_queue(job, monkeypatch):
    from django.db import OperationalError

    enqueued = []
    monkeypatch.setattr(jobs, "enqueue", enqueued.append)
    monkeypatch.setattr(jobs.connection, "close", lambda: None)

    class AdminShutdown(Exception):
        sqlstate = "57P01"  # what psycopg says when pg_terminate_backend ends the connection

    def body(ctx):
        try:
            raise AdminShutdown()
        except AdminShutdown as cause:
            raise OperationalError("terminating connection due to administrator command") from cause

    assert jobs.run(job.id, body) == "requeued"
    job.refresh_from_db()
    assert (job.status, job.claim_token, enqueued) == ("queued", "", [job.id])
    assert "database connection" in job.phase
    assert list(job.attempt_rows.values_list("outcome", flat=True)) == ["lost database"]


def test_an_integrity_error_on_a_live_connection_still_fails_the_job(job):
    from django.db import IntegrityError

    def body(ctx):
        raise IntegrityError("duplicate key")

    assert jobs.run(job.id, body) == "failed"

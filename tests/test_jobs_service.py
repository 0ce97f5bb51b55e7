import os
from datetime import timedelta

import pytest
from django.utils import timezone

from curation.models import Job, MetricPoint
from curation.services import jobs


@pytest.fixture
def job(project):
    return Job.objects.create(project=project, kind=Job.Kind.GENERATE, status=Job.Status.QUEUED)


@pytest.fixture
def enqueued(monkeypatch):
    calls = []
    monkeypatch.setattr(jobs, "enqueue", calls.append)
    return calls


def test_launch_enqueues_only_after_the_transaction_commits(project, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = jobs.launch(project, Job.Kind.GENERATE, {"n": 2})
        assert enqueued == []
    assert len(callbacks) == 1 and enqueued == [job.id]
    assert job.status == "queued" and job.params == {"n": 2}


def test_launch_refuses_an_unknown_kind(project):
    with pytest.raises(ValueError):
        jobs.launch(project, "dance")


def test_a_successful_body_ends_succeeded_with_its_progress(job):
    def body(ctx):
        ctx.progress(0, 3, phase="generating")
        for i in range(3):
            ctx.progress(i + 1, force=True)
        ctx.metric("loss", 1.5, step=1, stage="stage 1")
        return jobs.JobOutcome(message="3 done")

    assert jobs.run(job.id, body) == "succeeded"
    job.refresh_from_db()
    assert (job.status, job.progress_done, job.progress_total, job.message) == ("succeeded", 3, 3, "3 done")
    assert job.attempts == 1 and job.finished_at and job.worker.endswith(f":{os.getpid()}")
    assert MetricPoint.objects.get(job=job).value == 1.5


def test_a_job_error_fails_the_job_with_its_message(job):
    def body(ctx):
        ctx.error("prompt 7", "too long for the model's context")
        raise jobs.JobError("The teacher model path does not exist.")

    assert jobs.run(job.id, body) == "failed"
    job.refresh_from_db()
    assert job.message == "The teacher model path does not exist."
    assert job.errors == [{"item": "prompt 7", "error": "too long for the model's context"}]


def test_an_unexpected_exception_fails_the_job_and_keeps_the_traceback(job):
    def body(ctx):
        raise ZeroDivisionError("boom")

    assert jobs.run(job.id, body) == "failed"
    job.refresh_from_db()
    assert "ZeroDivisionError: boom" in job.message
    assert any("Traceback" in e["error"] for e in job.errors)


def test_a_cancel_request_reaches_the_running_body(job):
    def body(ctx):
        jobs.request_cancel(Job.objects.get(pk=ctx.job.pk))
        ctx._last_cancel_check = 0
        assert ctx.cancelled()
        return None

    assert jobs.run(job.id, body) == "cancelled"


def test_a_queued_job_is_cancelled_at_once_and_never_runs(job):
    jobs.request_cancel(job)
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert jobs.run(job.id, lambda ctx: pytest.fail("must not run")) == "skipped"


def test_a_second_delivery_skips_a_finished_job(job):
    jobs.run(job.id, lambda ctx: None)
    assert jobs.run(job.id, lambda ctx: pytest.fail("must not run twice")) == "skipped"


def test_a_running_job_with_a_live_worker_is_not_taken(job):
    job.status, job.worker, job.heartbeat_at = "running", "other@host:1", timezone.now()
    job.save()
    assert jobs.claim(job.id, "me@host:2") is None


def test_a_job_whose_worker_process_died_is_taken_over_by_its_node(job):
    dead_pid = 2**22 + 12345  # above Linux's default pid_max: no such process
    job.status, job.worker, job.heartbeat_at, job.attempts = "running", f"gpu@host:{dead_pid}", timezone.now(), 1
    job.save()
    claimed = jobs.claim(job.id, f"gpu@host:{os.getpid()}")
    assert claimed is not None and claimed.attempts == 2 and "resumed" in claimed.phase


def test_a_job_with_a_stale_heartbeat_is_taken_over_by_anyone(job, settings):
    job.status, job.worker = "running", "far@away:1"
    job.heartbeat_at = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 5)
    job.save()
    assert jobs.claim(job.id, "me@host:2") is not None


def test_a_starting_node_requeues_what_its_previous_life_was_running(job, enqueued, project):
    job.status, job.worker, job.heartbeat_at = "running", "gpu@host:999999", timezone.now()
    job.save()
    elsewhere = Job.objects.create(
        project=project, kind="generate", status="running", worker="cpu@other:1", heartbeat_at=timezone.now()
    )
    assert jobs.recover_jobs("gpu@host", startup=True) == [job.id]
    job.refresh_from_db()
    elsewhere.refresh_from_db()
    assert job.status == "queued" and enqueued == [job.id]
    assert elsewhere.status == "running"


def test_the_periodic_sweep_leaves_live_jobs_of_its_own_node_alone(job, enqueued):
    job.status, job.worker, job.heartbeat_at = "running", f"gpu@host:{os.getpid()}", timezone.now()
    job.save()
    assert jobs.recover_jobs("gpu@host") == []


@pytest.mark.parametrize(
    "kind, queue",
    [("generate", "gpu"), ("score", "gpu"), ("distill", "gpu"), ("evaluate", "gpu"), ("snapshot", "default")],
)
def test_a_job_goes_to_the_queue_the_routing_table_names(project, kind, queue, monkeypatch):
    from webapp.celery import app

    assert not app.conf.task_always_eager
    sent = []
    monkeypatch.setattr(
        app.amqp, "send_task_message", lambda producer, name, message, **options: sent.append((name, options))
    )
    job = Job.objects.create(project=project, kind=kind, status=Job.Status.QUEUED)
    jobs.enqueue(job.id)
    assert jobs.queue_of(kind) == queue
    assert [(name, options["queue"].name) for name, options in sent] == [(jobs.TASKS[kind], queue)]

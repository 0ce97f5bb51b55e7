"""Jobs: launch, run, report progress, cancel, and take over after a worker dies.

Job state lives in the ``Job`` table, not in a Celery result backend. A Celery task
is a thin adapter: ``run(job_id, body)`` claims the job row, hands ``body`` a
``JobContext`` (progress, heartbeat, cancel checks, per-item errors, metric points)
and records the outcome.

Reliability:
- A message may arrive twice (Redis redelivers unacknowledged messages; a restarted
  worker re-enqueues what it had). ``claim`` lets exactly one delivery run a job: a
  finished job is skipped, and so is a running job whose worker is alive.
- A worker killed mid-job (SIGKILL, OOM) stops its heartbeat. When the same worker
  node starts again it re-enqueues the jobs it was running (``recover_jobs``); any
  worker re-enqueues jobs whose heartbeat is older than ``JOB_STALE_AFTER_S``. Job
  bodies are idempotent (they skip what is already written), so a resumed job only
  does what is missing.
- Writes from the worker touch only the fields it owns (``update()``), so a cancel
  requested from a page is never overwritten by a progress write.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from curation.models import Job, MetricPoint
from curation.services import webhooks

log = logging.getLogger(__name__)

Kind = Job.Kind
Status = Job.Status
FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

# kind -> Celery task name. The queue is settings.CELERY_TASK_ROUTES' to decide, the one
# routing table: tasks under workers.tasks.gpu (generation, training) hold the GPU and go to
# queue "gpu", the rest to CELERY_TASK_DEFAULT_QUEUE ("default"). ``queue_of`` asks it.
TASKS = {
    Kind.GENERATE: "workers.tasks.gpu.generate",
    Kind.SCORE: "workers.tasks.gpu.score",
    Kind.DISTILL: "workers.tasks.gpu.distill",
    Kind.EVALUATE: "workers.tasks.gpu.evaluate",
    Kind.SNAPSHOT: "workers.tasks.snapshots.build",
    # Builds the raw arm's snapshot and launches the runs (distill jobs on "gpu").
    Kind.EXPERIMENT: "workers.tasks.experiments.prepare",
}
MAX_ERRORS = 1000
PROGRESS_EVERY_S = 1.0
HEARTBEAT_EVERY_S = 10.0


class JobError(Exception):
    """A failure of the whole job, with a message for the people who launched it."""


@dataclass
class JobOutcome:
    """What a job body returns: the final status (default succeeded) and a message."""

    status: str = Status.SUCCEEDED
    message: str = ""
    metrics: dict = field(default_factory=dict)


# ----------------------------------------------------------------- launching
def launch(project, kind: str, params: dict | None = None, *, by=None, model_spec=None) -> Job:
    """Create a queued job and enqueue its task once the surrounding transaction commits."""
    if kind not in TASKS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job.objects.create(
        project=project,
        kind=kind,
        params=params or {},
        created_by=by,
        model_spec=model_spec,
        status=Status.QUEUED,
    )
    transaction.on_commit(lambda: enqueue(job.id))
    return job


def enqueue(job_id: int) -> None:
    kind = Job.objects.values_list("kind", flat=True).get(id=job_id)
    # Through the registered task (not send_task) so CELERY_TASK_ALWAYS_EAGER applies too;
    # the app's router picks the queue.
    result = task_named(TASKS[kind]).apply_async(args=[job_id])
    Job.objects.filter(id=job_id).update(celery_id=result.id or "")


def queue_of(kind: str) -> str:
    """The queue a job of ``kind`` goes to, as settings.CELERY_TASK_ROUTES decides."""
    from webapp.celery import app

    queue = app.amqp.router.route({}, TASKS[kind]).get("queue") or app.conf.task_default_queue
    return getattr(queue, "name", queue)


def task_named(name: str):
    """The registered Celery task ``name``. Task modules are discovered lazily (when a
    worker starts); a web process that launches a job imports them on first use."""
    from webapp.celery import app

    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[name]


def request_cancel(job: Job) -> Job:
    """A queued or gated job is cancelled at once; a running one stops at its next check."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status in (Status.QUEUED, Status.GATED):
            job.status, job.finished_at = Status.CANCELLED, timezone.now()
            job.message = job.message or "Cancelled before it finished."
            job.cancel_requested = True
            job.save(update_fields=["status", "finished_at", "message", "cancel_requested"])
        elif job.status == Status.RUNNING:
            job.cancel_requested = True
            job.save(update_fields=["cancel_requested"])
    return job


def requeue(job: Job, reason: str) -> None:
    """Put a job back in the queue (after its worker died, or to resume a gated job)."""
    Job.objects.filter(pk=job.pk).update(status=Status.QUEUED, worker="", phase=reason[:100], finished_at=None)
    transaction.on_commit(lambda: enqueue(job.pk))


# ------------------------------------------------------------------ identity
def worker_identity(node: str | None = None) -> str:
    return f"{node or socket.gethostname()}:{os.getpid()}"


def _split(identity: str) -> tuple[str, int | None]:
    node, _, pid = (identity or "").rpartition(":")
    return node, int(pid) if pid.isdigit() else None


def _pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _worker_gone(job: Job, me: str) -> bool:
    """True when the job's recorded worker cannot still be running it."""
    if job.is_stale():
        return True
    node, pid = _split(job.worker)
    my_node, my_pid = _split(me)
    # Same node name, another process that no longer exists: our predecessor died.
    return node == my_node and pid != my_pid and not _pid_alive(pid)


# ------------------------------------------------------------------- running
def claim(job_id: int, me: str) -> Job | None:
    """Mark the job running under ``me``; None when this delivery must not run it."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            log.warning("job %s does not exist (deleted?); dropping its message", job_id)
            return None
        if job.status in FINISHED or job.status == Status.GATED:
            return None
        if job.status == Status.RUNNING and not _worker_gone(job, me):
            log.info("job %s is running on %s; this delivery skips it", job_id, job.worker)
            return None
        now = timezone.now()
        if job.cancel_requested:
            job.status, job.finished_at, job.message = Status.CANCELLED, now, job.message or "Cancelled."
            job.save(update_fields=["status", "finished_at", "message"])
            return None
        resumed = job.status == Status.RUNNING or job.attempts > 0
        job.status, job.worker, job.heartbeat_at = Status.RUNNING, me, now
        job.started_at = job.started_at or now
        job.attempts += 1
        if resumed and not job.phase.startswith("resum"):
            job.phase = "resumed after a worker restart"
        job.save(update_fields=["status", "worker", "heartbeat_at", "started_at", "attempts", "phase"])
        return job


class JobContext:
    """What a job body uses to talk to the Job row. Writes are throttled."""

    def __init__(self, job: Job):
        self.job = job
        self._last_progress = 0.0
        self._last_cancel_check = 0.0
        self._cancelled = False
        self._pending: dict = {}
        self._errors: list[dict] = []
        self._metrics: list[MetricPoint] = []
        self.warnings: list[str] = []

    @property
    def params(self) -> dict:
        return self.job.params

    def progress(self, done=None, total=None, *, tokens_per_s=None, eta_s=None, phase=None, force=False) -> None:
        for name, value in (
            ("progress_done", done),
            ("progress_total", total),
            ("tokens_per_s", tokens_per_s),
            ("eta_s", eta_s),
            ("phase", phase),
        ):
            if value is not None:
                if name == "phase":
                    value = str(value)[:100]
                self._pending[name] = value
                setattr(self.job, name, value)
        now = time.monotonic()
        if force or now - self._last_progress >= PROGRESS_EVERY_S:
            self.flush()
            self._last_progress = now

    def error(self, item, message: str) -> None:
        """A per-item failure: recorded on the job, and the job goes on."""
        self._errors.append({"item": item, "error": str(message)[:1000]})

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.error("warning", message)

    def metric(self, name: str, value: float, step: int, stage: str = "") -> None:
        self._metrics.append(MetricPoint(job_id=self.job.pk, name=name, value=float(value), step=step, stage=stage))

    def flush(self) -> None:
        fields = dict(self._pending, heartbeat_at=timezone.now())
        self._pending = {}
        Job.objects.filter(pk=self.job.pk).update(**fields)
        if self._errors:
            with transaction.atomic():
                current = Job.objects.select_for_update().only("errors").get(pk=self.job.pk)
                errors = (current.errors or []) + self._errors
                Job.objects.filter(pk=self.job.pk).update(errors=errors[-MAX_ERRORS:])
            self.job.errors = errors[-MAX_ERRORS:]
            self._errors = []
        if self._metrics:
            MetricPoint.objects.bulk_create(self._metrics, batch_size=500)
            self._metrics = []

    def cancelled(self) -> bool:
        """Whether someone asked to cancel (checked against the database at most once a second)."""
        now = time.monotonic()
        if not self._cancelled and now - self._last_cancel_check >= PROGRESS_EVERY_S:
            self._last_cancel_check = now
            self._cancelled = Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
        return self._cancelled


class _Heartbeat(threading.Thread):
    """Beats while the body runs, so a long model load or step never looks like a dead worker."""

    def __init__(self, job_id: int):
        super().__init__(daemon=True, name=f"job-{job_id}-heartbeat")
        self.job_id = job_id
        self.stopped = threading.Event()

    def run(self):
        try:
            while not self.stopped.wait(HEARTBEAT_EVERY_S):
                Job.objects.filter(pk=self.job_id, status=Status.RUNNING).update(heartbeat_at=timezone.now())
        except Exception:  # the job itself reports real problems; a lost beat only delays takeover
            log.exception("heartbeat of job %s failed", self.job_id)
        finally:
            connection.close()


def run(job_id: int, body: Callable[[JobContext], JobOutcome | None], *, node: str | None = None) -> str:
    """Claim job ``job_id``, run ``body`` on it and record the outcome; returns the final status."""
    me = worker_identity(node)
    job = claim(job_id, me)
    if job is None:
        return "skipped"
    ctx = JobContext(job)
    beat = _Heartbeat(job.pk)
    beat.start()
    try:
        outcome = body(ctx) or JobOutcome()
        if ctx.cancelled() and outcome.status == Status.SUCCEEDED:
            outcome = JobOutcome(Status.CANCELLED, outcome.message or "Cancelled.", outcome.metrics)
    except JobError as exc:
        outcome = JobOutcome(Status.FAILED, str(exc))
    except Exception as exc:
        log.exception("job %s failed", job_id)
        outcome = JobOutcome(
            Status.FAILED, f"Unexpected error ({type(exc).__name__}: {exc}). The worker log has the traceback."
        )
        ctx.error("traceback", traceback.format_exc()[-4000:])
    finally:
        beat.stopped.set()
    try:
        ctx.flush()
    finally:
        finish(job, outcome)
    return outcome.status


def finish(job: Job, outcome: JobOutcome) -> None:
    fields = {"status": outcome.status, "message": outcome.message[:5000], "heartbeat_at": timezone.now()}
    if outcome.status != Status.GATED:
        fields["finished_at"] = timezone.now()
    if outcome.metrics:
        fields["metrics"] = outcome.metrics
    if outcome.status == Status.SUCCEEDED:
        fields["eta_s"] = 0
    Job.objects.filter(pk=job.pk).update(**fields)
    event = FINISH_EVENTS.get(outcome.status)
    if event:
        webhooks.emit(
            job.project_id,
            event,
            {"job": {"id": job.pk, "kind": job.kind, "status": outcome.status, "message": fields["message"]}},
        )


# The webhook event each end of a job is (a cancelled job is someone's own doing: none).
FINISH_EVENTS = {Status.SUCCEEDED: "job.succeeded", Status.FAILED: "job.failed", Status.GATED: "gate.waiting"}


# ------------------------------------------------------------------ recovery
def recover_jobs(node: str, *, startup: bool = False, requeue_queued: bool = False) -> list[int]:
    """Re-enqueue the jobs a dead worker left behind; returns their ids.

    Called when a worker node starts (its previous incarnation's running jobs are
    orphans) and periodically (any running job with a stale heartbeat). With the
    filesystem broker a killed worker also loses the messages it had fetched, so
    there queued jobs are re-enqueued too; ``claim`` drops a duplicate delivery.
    """
    me = worker_identity(node)
    ids = []
    for job in Job.objects.filter(status=Status.RUNNING).only(
        "id", "worker", "status", "heartbeat_at", "started_at", "created_at"
    ):
        if _worker_gone(job, me) or (startup and _split(job.worker)[0] == node):
            with transaction.atomic():
                updated = Job.objects.filter(pk=job.pk, status=Status.RUNNING, worker=job.worker).update(
                    status=Status.QUEUED, phase="waiting to resume after a worker restart"
                )
            if updated:
                ids.append(job.pk)
    if requeue_queued:
        ids += list(Job.objects.filter(status=Status.QUEUED).exclude(pk__in=ids).values_list("pk", flat=True))
    for job_id in ids:
        try:
            enqueue(job_id)
        except Exception:
            log.exception("could not re-enqueue job %s", job_id)
    if ids:
        log.warning("re-enqueued jobs %s left by a stopped worker", ids)
    return ids

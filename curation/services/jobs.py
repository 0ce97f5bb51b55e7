"""Jobs: launch, run, report progress, cancel, and take over after a worker dies.

Job state lives in the ``Job`` table, not in a Celery result backend. A Celery task
is a thin adapter: ``run(job_id, body)`` claims the job row, hands ``body`` a
``JobContext`` (progress, heartbeat, cancel checks, per-item errors, metric points)
and records the outcome.

Reliability:
- A message may arrive twice (Redis redelivers unacknowledged messages; a restarted
  worker re-enqueues what it had). ``claim`` lets exactly one delivery run a job: a
  finished job is skipped, and so is a running job whose worker is alive.
- Each claim is an attempt with its own fencing token (``Job.claim_token``, a
  ``JobAttempt`` row). Every write of the running attempt (progress, errors, heartbeat,
  the outcome) is ``WHERE claim_token = <mine>``; once another attempt holds the job,
  they change nothing and the attempt stops with ``ClaimLost``. Data writes go through
  ``ctx.fenced()``, which holds a KEY SHARE lock on the job row that a new claim must
  wait for: two attempts never both commit.
- The heartbeat is a thread on its own connection, one short transaction per beat with
  a lock timeout; the body never writes the job row inside its own transactions, so
  nothing the job does can hold the heartbeat back.
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
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from curation.models import Job, JobAttempt

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
# The body's side (progress, heartbeat, the fence) lives in job_context; re-exported here.
from curation.services.job_context import (  # noqa: E402
    HEARTBEAT_EVERY_S,
    MAX_ERRORS,
    PROGRESS_EVERY_S,
    ClaimLost,
    JobContext,
    _beat_sql_prelude,
    _Heartbeat,
    _mine,
    beat,
)

__all__ = [
    "HEARTBEAT_EVERY_S",
    "MAX_ERRORS",
    "PROGRESS_EVERY_S",
    "ClaimLost",
    "JobContext",
    "_Heartbeat",
    "_beat_sql_prelude",
    "beat",
]


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
    Job.objects.filter(pk=job.pk).update(
        status=Status.QUEUED, worker="", phase=reason[:100], finished_at=None, claim_token=""
    )
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
    """Mark the job running under ``me`` with a fresh fencing token; None when this delivery must not run it."""
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
            job.claim_token = ""
            job.save(update_fields=["status", "finished_at", "message", "claim_token"])
            return None
        resumed = job.status == Status.RUNNING or job.attempts > 0
        job.status, job.worker, job.heartbeat_at = Status.RUNNING, me, now
        job.started_at = job.started_at or now
        job.attempts += 1
        job.claim_token = uuid.uuid4().hex
        if resumed and not job.phase.startswith("resum"):
            job.phase = "resumed after a worker restart"
        job.save(update_fields=["status", "worker", "heartbeat_at", "started_at", "attempts", "phase", "claim_token"])
        JobAttempt.objects.filter(job=job, closed_at__isnull=True).update(
            closed_at=now, outcome=JobAttempt.Outcome.TAKEN_OVER
        )
        JobAttempt.objects.create(job=job, number=job.attempts, worker=me, token=job.claim_token, claimed_at=now)
        return job


def run(job_id: int, body: Callable[[JobContext], JobOutcome | None], *, node: str | None = None) -> str:
    """Claim job ``job_id``, run ``body`` on it and record the outcome; returns the final status
    ("skipped" when this delivery must not run it, "fenced" when another attempt took it over,
    "requeued" when the worker lost its database connection and put the job back)."""
    me = worker_identity(node)
    job = claim(job_id, me)
    if job is None:
        return "skipped"
    ctx = JobContext(job)
    beat_thread = _Heartbeat(job.pk, ctx.token)
    beat_thread.start()
    outcome: JobOutcome | None = None
    try:
        outcome = body(ctx) or JobOutcome()
        if ctx.cancelled() and outcome.status == Status.SUCCEEDED:
            outcome = JobOutcome(Status.CANCELLED, outcome.message or "Cancelled.", outcome.metrics)
        ctx.flush()
    except ClaimLost:
        outcome = None
    except JobError as exc:
        outcome = JobOutcome(Status.FAILED, str(exc))
    except Exception as exc:
        if _connection_lost(exc):
            beat_thread.stopped.set()
            return _requeue_after_lost_connection(ctx, exc)
        log.exception("job %s failed", job_id)
        outcome = JobOutcome(
            Status.FAILED, f"Unexpected error ({type(exc).__name__}: {exc}). The worker log has the traceback."
        )
        ctx.error("traceback", traceback.format_exc()[-4000:])
    finally:
        beat_thread.stopped.set()
    try:
        if outcome is not None and outcome.status == Status.FAILED:
            ctx.flush()  # the traceback
        finished = outcome is not None and finish(ctx, outcome)
    except ClaimLost:
        finished = False
    except DatabaseError as exc:
        if not _connection_lost(exc):
            raise
        return _requeue_after_lost_connection(ctx, exc)
    if not finished:
        _fenced(ctx)
        log.warning("job %s: attempt %s lost its claim to another worker and stopped", job_id, me)
        return "fenced"
    return outcome.status


MAX_ATTEMPTS = 20  # claims of one job before a lost connection fails it instead of requeueing


# SQLSTATEs of a connection that is gone: class 08 (connection exception) and the server's
# own shutdown or termination of the backend (57P01 admin shutdown, 57P02 crash, 57P03 starting).
_LOST_STATES = ("57P01", "57P02", "57P03")


def _connection_lost(exc: Exception) -> bool:
    """Whether ``exc`` says the database connection itself died (not a bad query on a live one)."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    raw = getattr(connection, "connection", None)
    if raw is None:  # Django closed it: a rollback on it failed
        return True
    if getattr(raw, "broken", False) or getattr(raw, "closed", False) is True:
        return True
    cause = exc.__cause__ or exc.__context__
    state = getattr(cause, "sqlstate", None) or ""
    return state.startswith("08") or state in _LOST_STATES or isinstance(exc, InterfaceError)


def _requeue_after_lost_connection(ctx: JobContext, exc: Exception) -> str:
    """The database connection died under the body (a restart, a failover, a network cut).
    Job bodies resume from what they committed, so the job goes back to the queue under a
    fresh connection, unless it has been claimed too often already."""
    log.warning("job %s lost its database connection (%s); putting it back in the queue", ctx.job.pk, exc)
    connection.close()
    if ctx.job.attempts >= MAX_ATTEMPTS:
        failed = JobOutcome(Status.FAILED, f"Lost the database connection {ctx.job.attempts} times ({exc}).")
        return failed.status if finish(ctx, failed) else "fenced"
    with transaction.atomic():
        mine = _mine(ctx.job.pk, ctx.token).update(
            status=Status.QUEUED, claim_token="", phase="waiting to resume after a lost database connection"
        )
        JobAttempt.objects.filter(job_id=ctx.job.pk, token=ctx.token).update(
            outcome="lost database", closed_at=timezone.now()
        )
    if not mine:
        return "fenced"
    enqueue(ctx.job.pk)
    return "requeued"


def _fenced(ctx: JobContext) -> None:
    JobAttempt.objects.filter(job_id=ctx.job.pk, token=ctx.token).update(
        outcome=JobAttempt.Outcome.FENCED, closed_at=timezone.now()
    )


def finish(ctx: JobContext, outcome: JobOutcome) -> bool:
    """Record the outcome if this attempt still holds the claim; False (nothing written) when it does not."""
    now = timezone.now()
    fields = {"status": outcome.status, "message": outcome.message[:5000], "heartbeat_at": now}
    if outcome.status != Status.GATED:
        fields["finished_at"] = now
    if outcome.metrics:
        fields["metrics"] = outcome.metrics
    if outcome.status == Status.SUCCEEDED:
        fields["eta_s"] = 0
    with transaction.atomic():
        if not _mine(ctx.job.pk, ctx.token).update(**fields):
            _fenced(ctx)
            return False
        JobAttempt.objects.filter(job_id=ctx.job.pk, token=ctx.token).update(outcome=outcome.status, closed_at=now)
    return True


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
                # The token goes too: whatever the old attempt still writes is refused (ClaimLost).
                updated = Job.objects.filter(pk=job.pk, status=Status.RUNNING, worker=job.worker).update(
                    status=Status.QUEUED, phase="waiting to resume after a worker restart", claim_token=""
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

"""What a running job body talks to: ``JobContext`` (progress, errors, metric points, cancel
checks, the claim's fence) and the heartbeat. Every write here is fenced by the attempt's
claim token (``ClaimLost`` once another attempt holds the job); see ``curation.services.jobs``."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from curation.models import Job, MetricPoint

log = logging.getLogger(__name__)

MAX_ERRORS = 1000
PROGRESS_EVERY_S = 1.0
HEARTBEAT_EVERY_S = 10.0


class ClaimLost(Exception):
    """This attempt no longer holds the job: its heartbeat went stale and another worker claimed it
    (or a sweep put it back in the queue). The attempt stops at once and writes nothing more."""


def _mine(job_id: int, token: str):
    """The job's row, as long as ``token``'s attempt still holds the claim."""
    return Job.objects.filter(pk=job_id, claim_token=token).exclude(claim_token="")


class JobContext:
    """What a job body uses to talk to the Job row. Writes are throttled, fenced by the claim's
    token (``ClaimLost`` when another attempt took over), and never made inside the body's own
    transaction: a row lock held there would stall the heartbeat (see ``flush``)."""

    def __init__(self, job: Job):
        self.job = job
        self.token = job.claim_token
        # Transactions opened around the whole run (a test's) are not the body's own.
        self._outer_atomic = len(connection.atomic_blocks)
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
        """Write what is pending, if this attempt still holds the claim (else ``ClaimLost``).

        Inside the body's own transaction nothing is written: the row lock the UPDATE takes
        would be held until that transaction ends, and the heartbeat would wait behind it
        (the defect of a 400,000-row build). What is pending goes out at the next flush
        outside it."""
        if len(connection.atomic_blocks) > self._outer_atomic:
            return
        fields = dict(self._pending, heartbeat_at=timezone.now())
        if not _mine(self.job.pk, self.token).update(**fields):
            raise ClaimLost(self.job.pk)
        self._pending = {}
        if self._errors:
            with transaction.atomic():
                current = _mine(self.job.pk, self.token).select_for_update().only("errors").first()
                if current is None:
                    raise ClaimLost(self.job.pk)
                errors = ((current.errors or []) + self._errors)[-MAX_ERRORS:]
                Job.objects.filter(pk=self.job.pk).update(errors=errors)
            self.job.errors = errors
            self._errors = []
        if self._metrics:
            with self.fenced():
                MetricPoint.objects.bulk_create(self._metrics, batch_size=500)
            self._metrics = []

    def cancelled(self, *, force: bool = False) -> bool:
        """Whether someone asked to cancel (checked against the database at most once a second).
        Raises ``ClaimLost`` when another attempt took the job over: the body stops there."""
        now = time.monotonic()
        if force or (not self._cancelled and now - self._last_cancel_check >= PROGRESS_EVERY_S):
            self._last_cancel_check = now
            row = Job.objects.filter(pk=self.job.pk).values_list("claim_token", "cancel_requested").first()
            if row is None or row[0] != self.token or not self.token:
                raise ClaimLost(self.job.pk)
            self._cancelled = row[1]
        return self._cancelled

    def hold_claim(self) -> None:
        """Inside a transaction that writes the job's data: lock the job row in KEY SHARE mode
        while this attempt's claim stands, else ``ClaimLost``. The heartbeat's UPDATE does not
        conflict with that lock, but ``claim``'s FOR UPDATE does: a new attempt can only start
        after this transaction ends, and then this attempt's next ``hold_claim`` fails. So two
        attempts never both commit data. (SQLite has no row locks; it runs one writer at a time.)"""
        if not connection.in_atomic_block:
            raise RuntimeError("hold_claim() belongs inside the transaction that writes the data")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM curation_job WHERE id = %s AND claim_token = %s AND claim_token <> '' FOR KEY SHARE",
                    [self.job.pk, self.token],
                )
                held = cursor.fetchone() is not None
        else:
            held = _mine(self.job.pk, self.token).exists()
        if not held:
            raise ClaimLost(self.job.pk)

    @contextmanager
    def fenced(self):
        """``with ctx.fenced():`` a short transaction whose writes commit only under this attempt's claim."""
        with transaction.atomic():
            self.hold_claim()
            yield


def _beat_sql_prelude() -> None:
    """The beat's transaction gives up on a lock after 2 s instead of queueing behind it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")


def beat(job_id: int, token: str) -> bool:
    """One heartbeat in its own short transaction; False when the claim is no longer ``token``'s."""
    with transaction.atomic():
        _beat_sql_prelude()
        return bool(_mine(job_id, token).update(heartbeat_at=timezone.now()))


class _Heartbeat(threading.Thread):
    """Beats while the body runs, so a long model load or step never looks like a dead worker.

    A thread has its own database connection, so the beat never waits for the body's
    transaction; the body never holds the job row's lock (``JobContext.flush``)."""

    def __init__(self, job_id: int, token: str):
        super().__init__(daemon=True, name=f"job-{job_id}-heartbeat")
        self.job_id, self.token = job_id, token
        self.stopped = threading.Event()
        self.lost = threading.Event()

    def run(self):
        try:
            while not self.stopped.wait(HEARTBEAT_EVERY_S):
                try:
                    if not beat(self.job_id, self.token):
                        self.lost.set()  # the body finds out at its next write or cancel check
                        return
                except DatabaseError:  # a dropped connection or a lock timeout: reconnect, try at the next beat
                    log.warning("heartbeat of job %s failed; retrying", self.job_id, exc_info=True)
                    connection.close()
        finally:
            connection.close()

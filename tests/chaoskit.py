"""The chaos suite's scenarios: a job of each kind on two real workers, one fault in the
middle of it, and a count of what went wrong.

A scenario launches a job, waits until a worker is inside it, injects one fault, and waits
for the job to end. Faults:

- ``kill``: SIGKILL the worker running the job (its whole process group), then start it
  again under the same node name, as a supervisor would.
- ``redis``: SIGKILL the suite's own Redis (``redis-server --port 6390``, append-only file,
  fsync always: a Redis set up to keep its queue) and start it again on the same files.
- ``db``: ``pg_terminate_backend`` on every connection the workers hold to the test database.

What is counted, per scenario:

- ``lost``: rows the job should have written and did not (samples, snapshot rows, stage
  models, the report); a job that did not succeed counts its whole output as lost.
- ``duplicated``: rows written more than once (a sample index, an example in a snapshot,
  a stage's model, a report), and more than one file set for the snapshot.
- ``double_runs``: more than one attempt recorded as finishing the job.
- ``status_lies``: times the job's status said "queued" while an attempt of it was open on
  a worker process that was alive (sampled every 0.1 s by a watcher thread).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.db import close_old_connections, connection, transaction

from curation.models import EvalReport, Job, JobAttempt, ModelVersion, Snapshot, SnapshotRow, TeacherSample
from curation.services import jobs

FAULTS = ("kill", "redis", "db")
KINDS = ("generate", "distill", "snapshot", "evaluate")
REDIS_PORT = 6390


@dataclass
class Outcome:
    kind: str
    fault: str
    status: str = ""
    attempts: int = 0
    lost: int = 0
    duplicated: int = 0
    double_runs: int = 0
    status_lies: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            self.status == "succeeded"
            and not self.lost
            and not self.duplicated
            and not self.double_runs
            and not self.status_lies
        )


# ----------------------------------------------------------------------- Redis
class OwnRedis:
    """A redis-server of the suite's own on port 6390 (never the machine's shared one)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{REDIS_PORT}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(REDIS_PORT),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=open(self.folder / "redis.log", "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        import redis

        for _ in range(200):
            try:
                redis.Redis(port=REDIS_PORT).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("the suite's redis-server did not start")

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.kill()


def drop_worker_connections() -> int:
    """Terminate every other backend on the test database (the workers' body and heartbeat connections)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return len(cursor.fetchall())


# ----------------------------------------------------------------------- watching
class StatusWatcher(threading.Thread):
    """Samples the job's status; a "queued" while an open attempt's worker process lives is a lie."""

    def __init__(self, job_id: int):
        super().__init__(daemon=True)
        self.job_id = job_id
        self.stop = threading.Event()
        self.lies = 0

    def run(self):
        try:
            while not self.stop.wait(0.1):
                try:
                    self._sample()
                except Exception:  # our own connection dropped by the db fault: reconnect at the next sample
                    connection.close()
        finally:
            connection.close()

    def _sample(self):
        # One snapshot for both reads: a claim committing between them is no lie.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            status = Job.objects.filter(pk=self.job_id).values_list("status", flat=True).first()
            if status != "queued":
                return
            open_on = list(
                JobAttempt.objects.filter(job_id=self.job_id, closed_at__isnull=True).values_list("worker", flat=True)
            )
        for worker in open_on:
            pid = jobs._split(worker)[1]
            if jobs._pid_alive(pid) and _is_worker(pid):
                self.lies += 1


def _is_worker(pid: int) -> bool:
    try:
        return "celery" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def wait(predicate, timeout: float, what: str, workers=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_old_connections()
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    tails = "\n".join(w.log_tail(3000) for w in workers)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")


def worker_running(job: Job, workers):
    """The RealWorker whose process runs ``job`` now, or None."""
    job.refresh_from_db()
    if job.status != "running":
        return None
    pid = jobs._split(job.worker)[1]
    return next((w for w in workers if w.proc is not None and w.proc.pid == pid), None)


# ----------------------------------------------------------------------- counting
def count(kind: str, job: Job, expected: dict, outcome: Outcome) -> None:
    job.refresh_from_db()
    outcome.status, outcome.attempts = job.status, job.attempts
    finishing = JobAttempt.objects.filter(job=job, outcome__in=[s.value for s in jobs.FINISHED])
    outcome.double_runs = max(0, finishing.count() - 1)
    if kind == "generate":
        rows = list(TeacherSample.objects.filter(job=job).values_list("prompt_id", "sample_index"))
        want = {(p, i) for p in expected["prompts"] for i in range(expected["n"])}
        outcome.lost = len(want - set(rows))
        outcome.duplicated = len(rows) - len(set(rows))
    elif kind == "snapshot":
        snap = Snapshot.objects.get(pk=expected["snapshot"])
        ids = list(SnapshotRow.objects.filter(snapshot=snap).values_list("example_id", flat=True))
        outcome.lost = max(0, expected["rows"] - len(set(ids)))
        outcome.duplicated = len(ids) - len(set(ids))
        root = Path(expected["artifacts"]) / "snapshots"
        sets = list(root.iterdir()) if root.exists() else []
        outcome.duplicated += max(0, len([p for p in sets if not p.name.startswith(".tmp")]) - 1)
        if snap.status != "ready":
            outcome.notes.append(f"snapshot {snap.status}: {snap.message}")
    elif kind == "distill":
        stages = Counter(ModelVersion.objects.filter(job=job).values_list("stage", flat=True))
        want = set(expected["stages"]) | {""}  # every stage's model and the final one
        outcome.lost = len(want - set(stages))
        outcome.duplicated = sum(n - 1 for n in stages.values())
    elif kind == "evaluate":
        reports = EvalReport.objects.filter(job=job).count()
        outcome.lost = 1 - min(reports, 1)
        outcome.duplicated = max(0, reports - 1)
    if job.status != "succeeded":
        outcome.notes.append(f"job {job.status}: {job.message[:300]}")


def table(outcomes: list[Outcome]) -> str:
    head = (
        f"{'job':<10} {'fault':<6} {'status':<10} {'tries':>5} {'lost':>4} {'dup':>4} "
        f"{'double':>6} {'lies':>4} {'s':>6}  ok"
    )
    lines = [head, "-" * len(head)]
    for o in outcomes:
        lines.append(
            f"{o.kind:<10} {o.fault:<6} {o.status:<10} {o.attempts:>5} {o.lost:>4} {o.duplicated:>4} "
            f"{o.double_runs:>6} {o.status_lies:>4} {o.seconds:>6.1f}  {'yes' if o.passed else 'NO'}"
        )
        lines += [f"    {note}" for note in o.notes]
    return "\n".join(lines)


def summary(outcomes: list[Outcome]) -> dict:
    return {
        "scenarios": len(outcomes),
        "passed": sum(o.passed for o in outcomes),
        "lost": sum(o.lost for o in outcomes),
        "duplicated": sum(o.duplicated for o in outcomes),
        "double_runs": sum(o.double_runs for o in outcomes),
        "status_lies": sum(o.status_lies for o in outcomes),
    }

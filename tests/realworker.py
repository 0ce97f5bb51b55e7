"""A real ``celery -A webapp worker`` subprocess on the test database, for tests that
kill and restart workers.

- The worker must see the test's rows, so those tests use ``transactional_db``. On
  PostgreSQL the worker gets a DATABASE_URL naming pytest-django's ``test_<name>``
  database. SQLite's test database is in memory, so when a selected test uses the
  ``real_worker`` fixture, ``django_db_modify_db_settings`` in conftest.py
  puts the whole session's test database in a file named ``db.sqlite3``, and the
  worker gets that file's folder as its DATA_DIR (where the settings look for it).
- Broker: Redis when REDIS_URL is set, with a key prefix unique to the test
  (``CELERY_BROKER_KEY_PREFIX``), so queues with the production names (``gpu``; a
  restarted worker re-enqueues there) are private to the test; otherwise the
  filesystem broker under the worker's DATA_DIR, emptied for each test.
- The worker runs in its own process group (``kill()`` sends SIGKILL to all of it) with
  a node name chosen by the test, so a restart under the same name takes over its jobs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _database_env() -> dict:
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        name = str(s["NAME"])
        if name == ":memory:" or "mode=memory" in name or Path(name).name != "db.sqlite3":
            raise RuntimeError(
                "the SQLite test database is not a file named db.sqlite3; request the real_worker fixture"
            )
        return {"DATA_DIR": str(Path(name).parent)}
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return {"DATABASE_URL": f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"}


class RealWorker:
    """``start()``, ``kill()`` (SIGKILL to the process group), ``stop()``, and ``enqueue``
    (a drop-in for ``curation.services.jobs.enqueue`` that sends through this worker's broker)."""

    def __init__(self, tmp_path: Path, *, queues: str = "gpu,default", node: str | None = None):
        from django.conf import settings

        self.tmp = tmp_path
        self.node = node or f"test-{uuid.uuid4().hex[:8]}"
        self.queues = queues
        self.prefix = f"test-{uuid.uuid4().hex[:12]}:"
        self.redis_url = os.environ.get("REDIS_URL")
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATA_DIR", "CELERY_BROKER_URL")}
        self.env.update(_database_env())
        self.env.setdefault("DATA_DIR", str(tmp_path / "worker-data"))
        self.env.update(
            {
                "ARTIFACT_DIR": str(settings.ARTIFACT_DIR),
                "OMP_NUM_THREADS": "1",
                "PYTHONUNBUFFERED": "1",
                "CELERY_BROKER_KEY_PREFIX": self.prefix,
                "JOB_STALE_AFTER_S": "120",
            }
        )
        self.broker_dir = Path(self.env["DATA_DIR"]) / "broker"
        if not self.redis_url:
            shutil.rmtree(self.broker_dir, ignore_errors=True)
        self.proc: subprocess.Popen | None = None
        self.logs: list[Path] = []
        self._client = None

    # -- the worker process
    def start(self) -> RealWorker:
        log = self.tmp / f"worker-{len(self.logs)}.log"
        self.logs.append(log)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "webapp",
                "worker",
                "-Q",
                self.queues,
                "--pool",
                "solo",
                "-n",
                f"{self.node}@%h",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=open(log, "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker's whole process group, as an OOM killer or a lost machine would."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if not self.alive():
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def log_tail(self, chars: int = 4000) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-chars:]}" for p in self.logs if p.exists())

    # -- sending
    def client(self):
        from celery import Celery

        if self._client is None:
            if self.redis_url:
                self._client = Celery(broker=self.redis_url, broker_transport_options={"global_keyprefix": self.prefix})
            else:
                for sub in ("queue", "processed", "control"):
                    (self.broker_dir / sub).mkdir(parents=True, exist_ok=True)
                self._client = Celery(
                    broker="filesystem://",
                    broker_transport_options={
                        "data_folder_in": str(self.broker_dir / "queue"),
                        "data_folder_out": str(self.broker_dir / "queue"),
                        "processed_folder": str(self.broker_dir / "processed"),
                        "store_processed": False,
                        "control_folder": str(self.broker_dir / "control"),
                    },
                )
        return self._client

    def enqueue(self, job_id: int) -> None:
        from curation.models import Job
        from curation.services.jobs import TASKS, queue_of

        kind = Job.objects.values_list("kind", flat=True).get(pk=job_id)
        self.client().send_task(TASKS[kind], args=[job_id], queue=queue_of(kind))

    def close(self) -> None:
        self.stop()
        if self._client is not None:
            self._client.close()
        if self.redis_url:  # the test's private keys, e.g. a killed worker's unacknowledged message
            import redis

            conn = redis.Redis.from_url(self.redis_url)
            keys = list(conn.scan_iter(match=f"{self.prefix}*"))
            if keys:
                conn.delete(*keys)
            conn.close()


def wait_for(
    predicate, *, timeout: float, worker: RealWorker | None = None, what: str = "the condition", every: float = 0.1
):
    """Poll ``predicate`` until it returns something truthy; fail with the worker's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if worker is not None and not worker.alive():
            pytest.fail(f"the worker exited while waiting for {what}:\n{worker.log_tail()}")
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}" + (f":\n{worker.log_tail()}" if worker else ""))


@pytest.fixture
def real_worker(transactional_db, tmp_path, settings, monkeypatch):
    """real_worker(node=...) -> a RealWorker (not started); jobs launched in the test go to its broker."""
    from curation.services import jobs

    settings.ARTIFACT_DIR = tmp_path / "artifacts"
    settings.ARTIFACT_DIR.mkdir(exist_ok=True)
    made: list[RealWorker] = []

    def make(**kw) -> RealWorker:
        worker = RealWorker(tmp_path, **kw)
        made.append(worker)
        monkeypatch.setattr(jobs, "enqueue", worker.enqueue)
        return worker

    yield make
    for worker in made:
        worker.close()

"""A real Celery worker killed with SIGKILL mid-job loses nothing, and the job completes after a restart.

The worker is ``celery -A webapp worker`` in its own process group, on the test database
(PostgreSQL's ``test_<name>``, or the SQLite test database as a file: see
``django_db_modify_db_settings`` in conftest.py) and on a broker nobody else reads:
Redis under a unique key prefix when REDIS_URL is set, else the filesystem broker in
the worker's own DATA_DIR.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection

from curation.models import Example, Job, TeacherSample
from curation.services import jobs
from curation.services.teacher import launch_generation
from tests.factories import ProjectFactory, UserFactory
from tests.genkit import add_prompts, teacher_spec
from workers.softtargets import read_soft_targets

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


class Worker:
    """Starts, kills and restarts `celery -A webapp worker` processes sharing one node name."""

    def __init__(self, tmp_path: Path):
        self.node = f"gen-{uuid.uuid4().hex[:8]}"
        self.artifacts = tmp_path / "artifacts"
        self.log = tmp_path / "worker.log"
        self.procs: list[subprocess.Popen] = []
        db = connection.settings_dict
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DATABASE_URL", "DATA_DIR"))}
        env.update(PYTHONUNBUFFERED="1", ARTIFACT_DIR=str(self.artifacts), LOG_LEVEL="WARNING")
        if db["ENGINE"].endswith("postgresql"):
            env["DATABASE_URL"] = (
                f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:"
                f"{db['PORT'] or 5432}/{db['NAME']}"
            )
            env["DATA_DIR"] = str(tmp_path / "data")
        else:
            name = Path(str(db["NAME"]))
            assert name.name == "db.sqlite3" and name.exists(), "the SQLite test database must be a file"
            env["DATA_DIR"] = str(name.parent)  # settings open DATA_DIR/db.sqlite3: the test database
        redis_url = os.environ.get("REDIS_URL")
        if redis_url:
            self.prefix = f"{self.node}:"
            env["CELERY_BROKER_KEY_PREFIX"] = self.prefix
            self.client = Celery(broker=redis_url, broker_transport_options={"global_keyprefix": self.prefix})
        else:
            self.prefix = None
            folder = Path(env["DATA_DIR"]) / "broker"
            for sub in ("queue", "processed", "control"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            env["CELERY_BROKER_URL"] = "filesystem://"
            self.client = Celery(
                broker="filesystem://",
                broker_transport_options={
                    "data_folder_in": str(folder / "queue"),
                    "data_folder_out": str(folder / "queue"),
                    "processed_folder": str(folder / "processed"),
                    "store_processed": False,
                    "control_folder": str(folder / "control"),
                },
            )
        self.env = env

    def start(self) -> subprocess.Popen:
        log = open(self.log, "ab")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "webapp",
                "worker",
                "-Q",
                "gpu",
                "--concurrency",
                "1",
                "-n",
                f"{self.node}@%h",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def enqueue(self, job_id: int) -> None:
        kind = Job.objects.get(pk=job_id).kind
        self.client.send_task(jobs.TASKS[kind], args=[job_id], queue=jobs.queue_of(kind))

    def kill(self, proc) -> None:
        os.killpg(proc.pid, signal.SIGKILL)  # the main process and its pool child
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
        self.client.close()
        if self.prefix:
            import redis

            r = redis.Redis.from_url(os.environ["REDIS_URL"])
            for key in r.scan_iter(f"{self.prefix}*"):
                r.delete(key)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "(no log)"


@pytest.fixture
def worker_process(transactional_db, tmp_path, monkeypatch):
    worker = Worker(tmp_path)
    monkeypatch.setattr(jobs, "enqueue", worker.enqueue)
    yield worker
    worker.stop()


def wait_for(condition, timeout, worker, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for proc in worker.procs[-1:]:
            assert proc.poll() is None, (
                f"the worker exited ({proc.returncode}) while waiting for {what}:\n{worker.log_tail()}"
            )
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}\n{worker.log_tail()}")


def test_a_worker_killed_mid_job_loses_nothing_and_the_restarted_worker_completes_it(worker_process, tiny_model_dir):
    worker = worker_process
    project = ProjectFactory()
    n, prompt_count = 2, 40
    prompts = add_prompts(project, [f"Ticket {i}: my invoice shows a double charge" for i in range(prompt_count)])
    spec = teacher_spec(project, tiny_model_dir, options={"max_batch_size": 2})
    total = n * prompt_count

    first = worker.start()
    job = launch_generation(
        project,
        by=UserFactory(),
        model_spec=spec.pk,
        params={"n": n, "max_new_tokens": 16, "min_new_tokens": 16, "seed": 5},
    )

    written = wait_for(
        lambda: (c := TeacherSample.objects.filter(job=job).count()) >= 6 and c, 180, worker, "the first batches"
    )
    worker.kill(first)
    at_kill = TeacherSample.objects.filter(job=job).count()
    job.refresh_from_db()
    assert job.status == "running" and written <= at_kill < total, (at_kill, job.status)
    assert Example.objects.filter(sample__job=job).count() == at_kill  # samples and examples commit together
    kept = dict(TeacherSample.objects.filter(job=job).values_list("id", "soft_targets"))

    worker.start()  # same node name: it takes over the job its previous incarnation left
    wait_for(lambda: Job.objects.filter(pk=job.pk, status__in=jobs.FINISHED).exists(), 180, worker, "the job to finish")

    job.refresh_from_db()
    assert job.status == "succeeded", f"{job.message}\n{worker.log_tail()}"
    assert job.attempts == 2 and job.progress_done == job.progress_total == total
    rows = list(TeacherSample.objects.filter(job=job).values_list("prompt_id", "sample_index"))
    assert len(rows) == len(set(rows)) == total
    assert sorted(rows) == sorted((p.id, i) for p in prompts for i in range(n))
    assert Counter(Example.objects.filter(sample__job=job).values_list("prompt_id", flat=True)) == {
        p.id: n for p in prompts
    }
    assert dict(TeacherSample.objects.filter(id__in=kept).values_list("id", "soft_targets")) == kept
    for pointer in TeacherSample.objects.filter(job=job).values_list("soft_targets", flat=True):
        assert len(read_soft_targets(worker.artifacts, pointer)) == 16


def test_a_web_process_knows_the_job_tasks_it_enqueues_by_name(tmp_path):
    """jobs.enqueue looks tasks up by name; a process that is not a worker must have them too."""
    code = (
        "import django; django.setup(); from webapp.celery import app; "
        "print(sorted(n for n in app.tasks if n.startswith('workers.tasks.gpu.')))"
    )
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "webapp.settings"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'workers.tasks.gpu.generate'" in out.stdout and "'workers.tasks.gpu.score'" in out.stdout

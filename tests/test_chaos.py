"""The chaos suite: two real workers on PostgreSQL + Redis; a worker killed (SIGKILL), Redis
killed and restarted, or the database connections dropped, in the middle of a generation,
a distillation stage, a snapshot build and an evaluation. Each job must finish once, with
nothing lost or duplicated, and its status must never say "queued" while a worker runs it.

``make chaos`` runs every job kind with every fault (CHAOS=full) and prints a table and one
JSON line; ``make test`` runs the short version (a snapshot build under each fault).
Needs PostgreSQL (DATABASE_URL) and a ``redis-server`` binary (the suite starts its own on
port 6390; the machine's Redis is never touched).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from curation.models import Example, ExampleStatus, Prompt
from curation.services import jobs
from tests import chaoskit
from tests.conftest import require_service
from tests.factories import UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.redis]

FULL = os.environ.get("CHAOS") == "full"
SCENARIOS = (
    [(k, f) for k in chaoskit.KINDS for f in chaoskit.FAULTS] if FULL else [("snapshot", f) for f in chaoskit.FAULTS]
)
REPORT = Path(os.environ.get("CHAOS_REPORT", "var/chaos-report.txt"))
_outcomes: list[chaoskit.Outcome] = []


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    if not _outcomes:
        return
    text = chaoskit.table(_outcomes) + "\n" + json.dumps(chaoskit.summary(_outcomes))
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text + "\n")
    print("\n" + text)


@pytest.fixture
def chaos(real_worker, tmp_path, monkeypatch, settings):
    url = require_service("DATABASE_URL")
    if not url.startswith("postgres"):
        pytest.skip("the chaos suite drops PostgreSQL connections")
    if not shutil.which("redis-server"):
        if os.environ.get("CI_REQUIRE_SERVICES"):
            pytest.fail("redis-server is needed for the chaos suite")
        pytest.skip("no redis-server binary")
    redis = chaoskit.OwnRedis(tmp_path / "redis")
    redis.start()
    monkeypatch.setenv("REDIS_URL", redis.url)
    workers = []
    for name in ("chaos-a", "chaos-b"):
        worker = real_worker(node=name)
        worker.env.update({"SNAPSHOT_FREEZE_BATCH": "20", "JOB_STALE_AFTER_S": "30"})
        workers.append(worker)
    # One broker prefix for both, so they share the queues; each worker's enqueue sends through it.
    for worker in workers[1:]:
        worker.prefix = workers[0].prefix
        worker.env["CELERY_BROKER_KEY_PREFIX"] = workers[0].prefix
    yield redis, workers
    for worker in workers:  # before our Redis goes: close() removes the test's keys from it
        worker.close()
        worker.redis_url = None
    redis.stop()


def _snapshot_job(project, tmp_path, kit):
    from curation.services.datasets import start_snapshot

    stage = project.stages.get(name="stage 1")
    n = 3000
    prompts = Prompt.objects.bulk_create(
        [Prompt(project=project, text=f"Chaos prompt {i}", content_hash=f"h{i:06d}") for i in range(n)]
    )
    Example.objects.bulk_create(
        [
            Example(project=project, prompt=p, response=f"Answer {i}", status=ExampleStatus.APPROVED, stage=stage)
            for i, p in enumerate(prompts)
        ]
    )
    user = UserFactory()
    snap = start_snapshot(project, user, name="chaos", stage="stage 1")
    return snap.job, {"snapshot": snap.pk, "rows": n, "artifacts": str(django_settings.ARTIFACT_DIR)}


def _generation_job(project, tmp_path, kit):
    from curation.services.teacher import launch_generation
    from tests.genkit import add_prompts, teacher_spec

    prompts = add_prompts(project, [f"Ticket {i}: my invoice shows a double charge" for i in range(30)])
    spec = teacher_spec(project, kit["teacher"], options={"max_batch_size": 2})
    job = launch_generation(
        project, by=UserFactory(), model_spec=spec.pk, params={"n": 2, "max_new_tokens": 16, "min_new_tokens": 16}
    )
    return job, {"prompts": [p.pk for p in prompts], "n": 2}


def _distill_job(project, tmp_path, kit):
    from curation.services.training import launch_distillation
    from tests import distillkit

    teacher = distillkit.spec(project, "teacher", kit["teacher"])
    student = distillkit.spec(project, "student", kit["student"])
    easy = distillkit.generation_snapshot(project, kit["teacher"], "easy")
    hard = distillkit.generation_snapshot(project, kit["teacher"], "hard")
    job = launch_distillation(
        project,
        {
            "student_spec": student.pk,
            "teacher_spec": teacher.pk,
            "batch_size": 4,
            "progress_every_s": 0,
            "checkpoint_every": 5,
            "budget": "given",
            "stages": [distillkit.stage(easy, steps=20), distillkit.stage(hard, steps=60, lr=1e-4)],
        },
    )
    return job, {"stages": ["easy", "hard"]}


def _evaluation_job(project, tmp_path, kit):
    from curation.models import ModelVersion
    from curation.services.training import launch_evaluation
    from tests import distillkit

    teacher = distillkit.spec(project, "teacher", kit["teacher"], name="teacher")
    final = Path(django_settings.ARTIFACT_DIR) / "jobs" / "chaos" / "final"
    shutil.copytree(kit["student"], final)
    distillkit.gold(project, classification=project.is_classification)
    version = ModelVersion.objects.create(
        project=project, name="student", is_final=True, teacher_spec=teacher, artifact_path=str(final)
    )
    return launch_evaluation(project, {"model_version": version.pk}), {}


SETUP = {
    "snapshot": _snapshot_job,
    "generate": _generation_job,
    "distill": _distill_job,
    "evaluate": _evaluation_job,
}


def _inside(kind, job, expected):
    """True once the job is doing the work the fault must interrupt."""
    job.refresh_from_db()
    if job.status in jobs.FINISHED:
        pytest.fail(f"the {kind} job finished ({job.status}) before the fault could hit it: make it bigger")
    if job.status != "running":
        return False
    if kind == "snapshot":  # a committed chunk (the progress bar is throttled: a fast build shows none)
        from curation.models import Snapshot

        return (Snapshot.objects.get(pk=expected["snapshot"]).freeze_state or {}).get("consumed", 0) > 0
    if kind == "generate":
        from curation.models import TeacherSample

        return TeacherSample.objects.filter(job=job).count() >= 4
    if kind == "distill":
        return job.phase.startswith(("hard", "stage 2")) or "hard" in job.phase or job.progress_done >= 25
    return True  # evaluation: running is inside it (loading or scoring the gold set)


@pytest.mark.parametrize("kind, fault", SCENARIOS)
def test_a_job_finishes_once_through_a_fault(kind, fault, chaos, project, tmp_path, request):
    redis, workers = chaos
    kit = {}
    if kind != "snapshot":
        kit = {
            "teacher": request.getfixturevalue("tiny_model_dir"),
            "student": request.getfixturevalue("tiny_student_dir"),
        }
    outcome = chaoskit.Outcome(kind, fault)
    started = time.monotonic()
    for worker in workers:
        worker.start()
    job, expected = SETUP[kind](project, tmp_path, kit)
    watcher = chaoskit.StatusWatcher(job.pk)
    watcher.start()
    try:
        chaoskit.wait(lambda: _inside(kind, job, expected), 600, f"the {kind} job to get going", workers)
        if fault == "kill":
            victim = chaoskit.worker_running(job, workers)
            if victim is None:
                outcome.notes.append("the job had left the running state before the kill")
            else:
                victim.kill()
                victim.start()  # the same node name: it re-enqueues what its previous life ran
        elif fault == "redis":
            redis.restart()
        else:
            outcome.notes.append(f"dropped {chaoskit.drop_worker_connections()} connections")
        chaoskit.wait(
            lambda: jobs.Job.objects.filter(pk=job.pk, status__in=jobs.FINISHED).exists(),
            900,
            f"the {kind} job to finish after the {fault}",
            workers,
        )
        time.sleep(1)  # a second delivery of the message, if any, has had its chance to run twice
    finally:
        watcher.stop.set()
        watcher.join(timeout=5)
        outcome.status_lies = watcher.lies
        outcome.seconds = time.monotonic() - started
        chaoskit.count(kind, job, expected, outcome)
        _outcomes.append(outcome)
    assert outcome.passed, chaoskit.table([outcome]) + "\n" + "\n".join(w.log_tail(2000) for w in workers)

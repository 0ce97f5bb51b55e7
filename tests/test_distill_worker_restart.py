"""A distillation survives SIGKILL of its real Celery worker: the restarted node (same
name) takes the job over and finishes it from the checkpoint, without training the
finished stage again."""

import pytest
from transformers import AutoModelForCausalLM

from curation.models import Job, MetricPoint, ModelVersion
from curation.services.training import launch_distillation, output_dir
from tests import distillkit as kit
from tests.realworker import wait_for
from workers.distill.checkpoint import CheckpointStore

pytestmark = pytest.mark.slow

LONG_STAGE = 400


def test_a_job_killed_mid_stage_resumes_on_the_restarted_worker_without_redoing_the_finished_stage(
    real_worker, project, tiny_model_dir, tiny_student_dir
):
    teacher = kit.spec(project, "teacher", tiny_model_dir)
    student = kit.spec(project, "student", tiny_student_dir)
    easy = kit.generation_snapshot(project, tiny_model_dir, "easy")
    hard = kit.generation_snapshot(project, tiny_model_dir, "hard")
    worker = real_worker()
    job = launch_distillation(
        project,
        {
            "student_spec": student.pk,
            "teacher_spec": teacher.pk,
            "batch_size": 4,
            "progress_every_s": 0,
            "checkpoint_every": 5,
            "budget": "given",  # each stage's own steps: the test kills the worker inside the long second stage
            "stages": [kit.stage(easy, steps=3), kit.stage(hard, steps=LONG_STAGE, lr=1e-4)],
        },
    )
    store = CheckpointStore(output_dir(job) / "checkpoints")

    worker.start()

    def mid_second_stage():
        state = store.read_state()
        return state if state and state["stage_index"] == 1 and state["step"] >= 20 else None

    wait_for(mid_second_stage, timeout=180, worker=worker, what="a checkpoint inside the second stage", every=0.05)
    worker.kill()
    killed_at = store.read_state()
    job.refresh_from_db()
    assert job.status == "running" and killed_at["status"] == "running" and 0 < killed_at["step"] < LONG_STAGE, (
        job.message
    )
    first_stage = ModelVersion.objects.get(job=job, stage="easy")
    first_weights = output_dir(job) / "stages" / "00-easy" / "model.safetensors"
    written_at = first_weights.stat().st_mtime_ns

    worker.start()  # the same node name: it re-enqueues the job its previous life was running
    wait_for(
        lambda: Job.objects.filter(pk=job.pk, status__in=["succeeded", "failed", "cancelled"]).exists(),
        timeout=240,
        worker=worker,
        what="the job to finish after the restart",
    )

    job.refresh_from_db()
    assert job.status == "succeeded", f"{job.message}\n{worker.log_tail()}"
    assert job.attempts == 2
    resumed = [h for h in store.read_state()["history"] if h["event"] == "resumed"]
    assert len(resumed) == 1 and resumed[0]["stage_index"] == 1 and resumed[0]["step"] >= killed_at["step"]
    # The finished stage was not trained again: its curve has each step once, its
    # saved model was not rewritten, and its registry row is the same.
    assert sorted(MetricPoint.objects.filter(job=job, stage="easy", name="loss").values_list("step", flat=True)) == [
        1,
        2,
        3,
    ]
    assert first_weights.stat().st_mtime_ns == written_at
    assert ModelVersion.objects.get(job=job, stage="easy").pk == first_stage.pk
    # The second stage's curve is whole: points after the checkpoint were trained again and replace the lost ones.
    hard_steps = list(
        MetricPoint.objects.filter(job=job, stage="hard", name="loss").order_by("step").values_list("step", flat=True)
    )
    assert hard_steps == list(range(1, LONG_STAGE + 1))
    final = ModelVersion.objects.get(job=job, is_final=True)
    assert AutoModelForCausalLM.from_pretrained(final.artifact_path).num_parameters() == final.card["parameters"]

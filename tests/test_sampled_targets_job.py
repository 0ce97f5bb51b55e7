"""Sampled (RS-KD) soft targets end to end: a generation job on the tiny local teacher stores
importance-sampled tokens instead of the top-k, a snapshot carries them, and a distillation trains
on them with the sampled loss; the launch refuses what that loss cannot estimate without bias."""

import numpy as np
import pytest

from curation.models import Example, Job, ModelSpec
from curation.services import jobs
from curation.services.datasets import snapshot_job, snapshots
from curation.services.errors import Invalid
from curation.services.teacher import launch_generation, launch_scoring, run_generation
from curation.services.training import launch_distillation, run_distill_job
from tests import distillkit as kit
from tests.distillkit import artifacts  # noqa: F401  (fixture)
from tests.genkit import TICKETS, add_prompts, teacher_spec
from workers.softtargets import read_soft_targets, shard_kind

pytestmark = pytest.mark.slow


@pytest.fixture
def engineer(project, member):
    return member("engineer", "alice")


def sampled_snapshot(project, engineer, teacher, artifacts):
    add_prompts(project, TICKETS)
    job = launch_generation(
        project,
        by=engineer,
        model_spec=teacher.pk,
        params={"n": 2, "max_new_tokens": 6, "seed": 1, "soft_targets": "sampled", "draws": 12},
    )
    assert jobs.run(job.pk, run_generation) == "succeeded"
    examples = Example.objects.filter(sample__job=job)
    for ex in examples:
        st = read_soft_targets(artifacts, ex.soft_targets)
        assert st.k == 0 and st.sample_ids.shape == (ex.token_count, 12) and ex.mean_entropy > 0
    examples.update(status=Example.Status.APPROVED, stage=project.stages.exclude(name="pool").order_by("order")[0])
    stage = project.stages.exclude(name="pool").order_by("order")[0].name
    snap = snapshots.start_snapshot(project, engineer, name="sampled", stage=stage, validation_fraction=0.0)
    assert jobs.run(snap.job_id, snapshot_job.run_build_job) == "succeeded"
    snap.refresh_from_db()
    return snap


def test_a_sampled_generation_trains_a_student_with_the_sampled_loss(
    project, engineer, artifacts, tiny_model_dir, tiny_student_dir
):
    teacher = teacher_spec(project, tiny_model_dir)
    student = kit.spec(project, "student", tiny_student_dir, name="tiny student")
    snap = sampled_snapshot(project, engineer, teacher, artifacts)
    assert snap.row_count == len(TICKETS) * 2
    request = {"student_spec": student.pk, "teacher_spec": teacher.pk, "batch_size": 4, "progress_every_s": 0}

    # What the unbiased estimator cannot do is refused at launch, under its field.
    with pytest.raises(Invalid) as refused:
        launch_distillation(project, {**request, "stages": [kit.stage(snap, temperature=2.0)]}, by=engineer)
    assert "stages.0.temperature" in refused.value.errors
    with pytest.raises(Invalid) as refused:
        launch_distillation(project, {**request, "stages": [kit.stage(snap, divergence="reverse_kl")]}, by=engineer)
    assert "stages.0.divergence" in refused.value.errors

    job = launch_distillation(project, {**request, "stages": [kit.stage(snap, steps=4)]}, by=engineer)
    assert jobs.run(job.pk, run_distill_job) == "succeeded"
    job.refresh_from_db()
    assert job.metrics["kd_mode"] == "token"
    kd = [p.value for p in job.metric_points.filter(name="kd_loss")]
    # The sampled KD term estimates the cross-entropy to the teacher: positive (top-k KL can be ~0).
    assert kd and all(np.isfinite(v) and v > 0 for v in kd)


def test_a_server_teacher_is_refused_sampled_targets_at_launch(project, engineer):
    add_prompts(project, TICKETS[:2])
    server = ModelSpec.objects.create(
        project=project, name="vllm", backend="openai", base_url="http://127.0.0.1:9/v1", role="teacher"
    )
    with pytest.raises(Invalid) as refused:
        launch_generation(project, by=engineer, model_spec=server.pk, params={"soft_targets": "sampled"})
    assert "top log-probabilities" in str(refused.value.errors["params"]["soft_targets"])
    with pytest.raises(Invalid) as refused:
        launch_scoring(project, by=engineer, model_spec=server.pk, params={"soft_targets": "sampled"})
    assert "soft_targets" in refused.value.errors["params"]
    assert not Job.objects.filter(project=project).exists()


def test_the_snapshot_knows_its_soft_targets_are_sampled(project, engineer, artifacts, tiny_model_dir):
    snap = sampled_snapshot(project, engineer, teacher_spec(project, tiny_model_dir), artifacts)
    pointer = snap.rows.exclude(soft_targets="").first().soft_targets
    assert shard_kind(artifacts, pointer) == "sampled"

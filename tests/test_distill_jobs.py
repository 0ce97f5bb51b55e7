"""Distillation jobs end to end through ``jobs.run``, on CPU with tiny models built here."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from curation.models import EvalReport, Job, MetricPoint, ModelVersion
from curation.services import jobs
from curation.services.errors import Invalid
from curation.services.training import (
    launch_distillation,
    registry,
    resume_distillation,
    run_distill_job,
    run_evaluation_job,
)
from tests import distillkit as kit
from tests.distillkit import artifacts, specs  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


@pytest.fixture
def engineer(project, member):
    return member("engineer", "alice")


@pytest.fixture
def triage(project, tiny_model_dir, tiny_student_dir):
    """A classification project with a teacher and a student spec and one snapshot of tickets."""
    project.task_type, project.labels = "classification", kit.LABELS
    project.save()
    specs = (kit.spec(project, "teacher", tiny_model_dir), kit.spec(project, "student", tiny_student_dir))
    return specs, kit.classification_snapshot(project, "all tickets")


def request(specs, stages, **kw):
    teacher, student = specs
    return {
        "student_spec": student.pk,
        "teacher_spec": teacher.pk,
        "stages": stages,
        "batch_size": 4,
        "progress_every_s": 0,
        **kw,
    }


def run(job, body=run_distill_job):
    status = jobs.run(job.pk, body)
    job.refresh_from_db()
    return status


def test_a_two_stage_job_whose_gates_pass_registers_versions_and_launches_its_evaluation(
    project, specs, engineer, tiny_model_dir
):
    easy = kit.generation_snapshot(project, tiny_model_dir, "easy")
    hard = kit.generation_snapshot(project, tiny_model_dir, "hard", tier="hard")
    kit.gold(project, classification=False)
    job = launch_distillation(
        project,
        request(
            specs,
            [
                kit.stage(easy, gate={"metric": "teacher_agreement", "threshold": 0.0}),
                kit.stage(
                    hard, replay_fraction=0.5, temperature=2.0, gate={"metric": "val_kd_loss", "threshold": 100.0}
                ),
            ],
            budget="given",  # each stage's own steps: this test follows the stages, not the budget
        ),
        by=engineer,
    )

    assert run(job) == "succeeded", job.message
    assert job.metrics["kd_mode"] == "token"
    assert [job.metrics["stages"][i]["outcome"] for i in ("0", "1")] == ["passed", "passed"]
    assert (
        job.metrics["stages"]["1"]["gate"]["metric"] == "val_kd_loss"
        and job.metrics["stages"]["1"]["gate"]["value"] < 100
    )

    stage_versions = list(ModelVersion.objects.filter(job=job, is_final=False).order_by("stage_index"))
    final = ModelVersion.objects.get(job=job, is_final=True)
    assert [v.stage for v in stage_versions] == ["easy", "hard"]
    assert stage_versions[1].parent == stage_versions[0] and final.parent == stage_versions[1]
    assert stage_versions[0].gate["passed"] and final.kd_mode == "token"
    assert set(final.snapshots.all()) == {easy, hard} and list(stage_versions[0].snapshots.all()) == [easy]
    assert final.card["snapshots"] == {"easy": easy.content_hash, "hard": hard.content_hash}
    assert final.card["parameters"] > 0 and final.card["code_version"]
    # what else the weights depend on: the same job on another thread count trains others
    assert final.card["environment"]["cpu_threads"] == torch.get_num_threads() >= 1
    assert f"{torch.get_num_threads()} CPU thread(s)" in (Path(final.artifact_path) / "README.md").read_text()
    model = AutoModelForCausalLM.from_pretrained(final.artifact_path)
    AutoTokenizer.from_pretrained(final.artifact_path)
    assert model.num_parameters() == final.card["parameters"]

    for stage_name in ("easy", "hard"):
        steps = list(MetricPoint.objects.filter(job=job, stage=stage_name, name="loss").values_list("step", flat=True))
        assert sorted(steps) == [1, 2, 3]
    assert set(MetricPoint.objects.filter(job=job).values_list("name", flat=True)) == {
        "loss",
        "kd_loss",
        "ce_loss",
        "lr",
        "val_kd_loss",
        "val_ce_loss",
        "val_teacher_agreement",
        "val_accuracy",
    }
    # The validation curves: val_points (4) passes per phase, the last one the gate's, on the loss curves' steps.
    for stage_name, gate in (
        ("easy", job.metrics["stages"]["0"]["gate"]),
        ("hard", job.metrics["stages"]["1"]["gate"]),
    ):
        points = MetricPoint.objects.filter(
            job=job, stage=stage_name, name=f"val_{gate['metric'].removeprefix('val_')}"
        )
        assert sorted(points.values_list("step", flat=True)) == [1, 2, 3]
        assert points.get(step=3).value == pytest.approx(gate["value"])
    assert (job.progress_done, job.progress_total) == (6, 6)  # one bar over the whole job: 3 steps x 2 stages
    assert job.metrics["memory"]["peak_rss_mb"] >= job.metrics["memory"]["start_rss_mb"] > 0

    evaluation = Job.objects.get(pk=job.metrics["evaluation_job"])
    assert (
        evaluation.kind == "evaluate" and evaluation.params["model_version"] == final.pk and evaluation.params["auto"]
    )
    assert f"Evaluation job #{evaluation.pk}" in job.message
    assert run(evaluation, run_evaluation_job) == "succeeded", evaluation.message
    report = EvalReport.objects.get(job=evaluation)
    assert report.model_version == final and report.metrics["n_items"] == 3
    assert set(report.by_tier["student"]) == {"easy", "hard"}
    assert report.speed["student"]["parameters"] < report.speed["teacher"]["parameters"]
    assert report.speedup == pytest.approx(
        report.speed["teacher"]["latency_p50_ms"] / report.speed["student"]["latency_p50_ms"]
    )


def test_a_failing_gate_waits_and_resumes_with_a_lowered_threshold_that_is_recorded(
    project, specs, engineer, tiny_model_dir
):
    easy = kit.generation_snapshot(project, tiny_model_dir, "easy")
    hard = kit.generation_snapshot(project, tiny_model_dir, "hard")
    job = launch_distillation(
        project,
        request(
            specs,
            [
                kit.stage(easy, gate={"metric": "val_kd_loss", "threshold": 1e-9, "patience": 1}),
                kit.stage(hard),
            ],
        ),
        by=engineer,
    )

    assert run(job) == "gated"
    gate = job.metrics["gated"]["gate"]
    assert gate["value"] > 1e-9 and not gate["passed"]
    assert job.finished_at is None
    assert "Stage 1 of 2 (easy) did not pass its gate after 1 extra epoch of patience" in job.message
    assert f"val_kd_loss = {gate['value']:.4g}, needs ≤ 1e-09" in job.message
    gated_version = ModelVersion.objects.get(job=job, stage="easy")
    assert gated_version.gate["passed"] is False
    archive = registry.archive_for(gated_version)  # someone downloads the gated stage to look at it
    assert not ModelVersion.objects.filter(job=job, is_final=True).exists()
    patience_steps = sorted(
        MetricPoint.objects.filter(job=job, stage="easy", name="loss").values_list("step", flat=True)
    )
    assert patience_steps == list(range(1, len(patience_steps) + 1)) and len(patience_steps) > 3

    threshold = math.ceil(gate["value"] * 10) / 10 + 1
    resumed = resume_distillation(job, by=engineer, threshold=threshold, comment="hard tier is noisy")
    assert resumed.status == "queued" and "threshold" in resumed.message and "alice" in resumed.message
    assert resumed.params["resumes"][-1]["threshold"] == threshold and resumed.params["resumes"][-1]["by"] == "alice"
    assert resumed.params["resumes"][-1]["configured_threshold"] == 1e-9

    assert run(job) == "succeeded", job.message
    assert not archive.exists()  # the stage was saved again with its new gate: the old archive is gone
    gated_version.refresh_from_db()
    assert gated_version.gate["passed"] and gated_version.gate["threshold"] == threshold
    overrides = [h for h in job.metrics["history"] if h["event"] == "gate_override"]
    assert (
        overrides[0]["threshold"] == threshold
        and overrides[0]["by"] == "alice"
        and overrides[0]["comment"] == "hard tier is noisy"
    )
    final = ModelVersion.objects.get(job=job, is_final=True)
    assert any(h["event"] == "gate_override" for h in final.card["history"])
    # The first stage was not trained again after the resume.
    assert (
        sorted(MetricPoint.objects.filter(job=job, stage="easy", name="loss").values_list("step", flat=True))
        == patience_steps
    )


def test_resuming_is_refused_unless_the_job_waits_at_a_gate(project, specs, engineer):
    job = Job.objects.create(project=project, kind="distill", status="running", params={"resumes": []})
    with pytest.raises(Invalid, match="not waiting at a gate"):
        resume_distillation(job, by=engineer, threshold=0.5)
    job.status = "gated"
    job.save()
    with pytest.raises(Invalid) as info:
        resume_distillation(job, by=engineer, extra_epochs=-1)
    assert "extra_epochs" in info.value.errors


def test_a_stopped_gated_job_cannot_be_resumed(project, specs, engineer):
    job = Job.objects.create(project=project, kind="distill", status="gated", params={"resumes": []})
    jobs.request_cancel(job)
    job.refresh_from_db()
    assert job.status == "cancelled"
    with pytest.raises(Invalid):
        resume_distillation(job, by=engineer, force=True)


def test_differing_tokenizers_fall_back_to_sequence_level_kd_visibly(project, engineer, tiny_model_dir, tmp_path):
    from tests.tinymodels import build_tiny_model

    other = build_tiny_model(tmp_path / "other-student", n_layer=1, n_embd=32, vocab_size=300, seed=2)
    specs = (kit.spec(project, "teacher", tiny_model_dir), kit.spec(project, "student", other))
    snap = kit.generation_snapshot(project, tiny_model_dir, "easy")
    job = launch_distillation(project, request(specs, [kit.stage(snap)]), by=engineer)

    assert run(job) == "succeeded", job.message
    assert job.metrics["kd_mode"] == "sequence" and "CE on the approved responses" in job.metrics["kd_note"]
    warnings = [e["error"] for e in job.errors if e["item"] == "warning"]
    assert any("tokenizers differ" in w for w in warnings)
    assert "(Sequence-level KD)" in job.message and job.phase == "1 stage trained"
    assert ModelVersion.objects.get(job=job, is_final=True).kd_mode == "sequence"


def test_a_classification_project_trains_on_label_distributions(project, engineer, triage):
    specs, snap = triage
    kit.gold(project)
    job = launch_distillation(
        project,
        request(specs, [kit.stage(snap, steps=4, lr=1e-2, gate={"metric": "accuracy", "threshold": 0.0})]),
        by=engineer,
    )

    assert run(job) == "succeeded", job.message
    assert job.metrics["kd_mode"] == "label"
    gate = job.metrics["stages"]["0"]["gate"]
    assert set(gate["metrics"]) >= {"val_kd_loss", "teacher_agreement", "accuracy"}
    evaluation = Job.objects.get(pk=job.metrics["evaluation_job"])
    assert run(evaluation, run_evaluation_job) == "succeeded", evaluation.message
    report = EvalReport.objects.get(job=evaluation)
    assert report.metrics["task"] == "classification"
    assert report.per_item["validation"]["source"] == "snapshots" and "dev" not in job.metrics  # no dev set
    assert len(report.reliability["student"]["bins"]) == 15
    assert sum(b["count"] for b in report.reliability["student"]["bins"]) == 3


def test_a_snapshot_deleted_after_launch_ends_the_job_with_a_clear_message(project, specs, engineer, tiny_model_dir):
    snap = kit.generation_snapshot(project, tiny_model_dir, "easy", soft=False)
    job = launch_distillation(project, request(specs, [kit.stage(snap, name="warm-up")]), by=engineer)
    snapshot_id = snap.pk
    snap.delete()

    assert run(job) == "failed"
    assert f"stage 'warm-up': snapshot #{snapshot_id} no longer exists" in job.message


def test_a_nan_loss_ends_the_job_with_a_clear_message(project, specs, engineer, tiny_model_dir, artifacts):
    from workers.softtargets import ShardWriter, SoftTargets

    snap = kit.generation_snapshot(project, tiny_model_dir, "easy")
    writer = ShardWriter(artifacts, prefix="broken")
    for row in snap.rows.all():
        writer.add(
            f"r{row.pk}",
            SoftTargets(
                token_ids=[5, 6],
                topk_ids=[[1, 2], [3, 4]],
                topk_logprobs=np.full((2, 2), np.nan),
                tail_logprob=[-1.0, -1.0],
            ),
        )
    pointers = writer.flush()
    for row in snap.rows.all():
        row.soft_targets = pointers[f"r{row.pk}"]
        row.save()
    job = launch_distillation(project, request(specs, [kit.stage(snap)]), by=engineer)

    assert run(job) == "failed"
    assert "the loss became nan" in job.message and "lower the learning rate" in job.message


def test_a_cancelled_job_stops_at_its_next_step(project, specs, engineer, tiny_model_dir):
    snap = kit.generation_snapshot(project, tiny_model_dir, "easy", soft=False)
    job = launch_distillation(project, request(specs, [kit.stage(snap, steps=50)]), by=engineer)

    def body(ctx):
        Job.objects.filter(pk=ctx.job.pk).update(cancel_requested=True)
        return run_distill_job(ctx)

    assert run(job, body) == "cancelled"
    assert "Stopped on request in stage 'easy' at step" in job.message
    assert not ModelVersion.objects.filter(job=job).exists()


def test_the_launch_records_what_the_card_needs(project, specs, engineer, tiny_model_dir):
    snap = kit.generation_snapshot(project, tiny_model_dir, "easy", soft=False)
    job = launch_distillation(project, request(specs, [kit.stage(snap)]), by=engineer)
    stage = job.params["stages"][0]
    assert stage["snapshot_hash"] == snap.content_hash and stage["name"] == "easy"
    assert job.model_spec == specs[1] and job.params["resumes"] == []
    json.dumps(job.params)


def test_a_web_process_finds_the_training_tasks_when_it_launches_a_job():
    """The web server never starts a worker, so it has not discovered the task modules."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import django; django.setup(); from curation.services.jobs import task_named; "
        "print(task_named('workers.tasks.gpu.distill').name, task_named('workers.tasks.gpu.evaluate').name)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "webapp.settings"},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["workers.tasks.gpu.distill", "workers.tasks.gpu.evaluate"]


def test_a_launched_job_runs_through_its_celery_task(
    project, specs, engineer, tiny_model_dir, monkeypatch, django_capture_on_commit_callbacks
):
    from webapp.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    snap = kit.generation_snapshot(project, tiny_model_dir, "easy", soft=False)
    with django_capture_on_commit_callbacks(execute=True):
        job = launch_distillation(project, request(specs, [kit.stage(snap, steps=1)]), by=engineer)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.celery_id and job.worker, job.message


def test_a_resumed_job_whose_config_drifted_shows_the_warning(project, specs, engineer, tiny_model_dir, client):
    from django.urls import reverse

    easy = kit.generation_snapshot(project, tiny_model_dir, "easy", soft=False)
    job = launch_distillation(
        project,
        request(
            specs, [kit.stage(easy, gate={"metric": "accuracy", "threshold": 1.01}), kit.stage(easy, name="again")]
        ),
        by=engineer,
    )
    assert run(job) == "gated"
    params = dict(job.params)
    params["stages"][1]["lr"] = 5e-4  # someone edited the job behind the recipe's back
    Job.objects.filter(pk=job.pk).update(params=params)
    resume_distillation(job, by=engineer, force=True, extra_epochs=1)
    assert run(job) == "succeeded", job.message
    # The extra epoch continues the stage's curve after its training steps.
    assert [r["phase"] for r in job.metrics["curves"]["easy"]] == ["train", "extra-1"]
    steps = sorted(MetricPoint.objects.filter(job=job, stage="easy", name="loss").values_list("step", flat=True))
    assert steps == list(range(1, len(steps) + 1)) and len(steps) > 3
    assert job.metrics["stages"]["0"]["gate"]["forced"]
    drift = [e["error"] for e in job.errors if e["item"] == "warning" and "config differs" in e["error"]]
    assert drift and "stage 'again' lr: 0.001 -> 0.0005" in drift[0]
    client.force_login(engineer)
    page = client.get(reverse("job-detail", args=[project.slug, job.pk])).content.decode()
    assert 'id="job-warnings"' in page and "stage &#x27;again&#x27; lr: 0.001 -&gt; 0.0005" in page


@pytest.mark.parametrize(
    "where, message",
    [
        ("_loss_step", "out of memory in stage 'easy' at step 1 (batch_size 4, max_seq_len 512): lower batch_size"),
        ("setup", "Out of memory while loading or training the student: lower batch_size"),
    ],
)
def test_out_of_memory_ends_the_job_with_advice(project, specs, engineer, tiny_model_dir, monkeypatch, where, message):
    import torch

    from workers.distill.recipe import DistillRecipe

    def exhausted(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(DistillRecipe, where, exhausted)
    easy = kit.generation_snapshot(project, tiny_model_dir, "easy", soft=False)
    job = launch_distillation(project, request(specs, [kit.stage(easy)]), by=engineer)
    assert run(job) == "failed"
    assert job.message.startswith(message)


def test_a_label_a_reviewer_changed_trains_on_the_human_label_not_the_overruled_distribution(project):
    from curation.services.training import snapshot_records

    project.task_type, project.labels = "classification", kit.LABELS
    project.save()
    agreed, changed = kit.LABELS[0], kit.LABELS[1]
    teacher = {label: (0.7 if label == agreed else 0.1) for label in kit.LABELS}
    snap = kit.snapshot(
        project,
        "relabelled",
        [
            {"prompt_text": "kept", "label": agreed, "label_distribution": teacher, "split": "train"},
            {"prompt_text": "changed", "label": changed, "label_distribution": teacher, "split": "train"},
        ],
    )

    kept, relabelled = snapshot_records(snap.pk, "train", task="classification", labels=kit.LABELS)
    assert kept["teacher_probs"] == [teacher[label] for label in kit.LABELS]
    # No teacher target: the loss gives this row full CE weight on the reviewer's label, whatever alpha.
    assert relabelled["label"] == changed and relabelled["teacher_probs"] is None


def test_gold_is_evaluated_once_per_trained_student(project, specs, engineer, tiny_model_dir):
    # Gold is a test set: the finished job launches one evaluation of its final student, and
    # a redelivered or restarted body finds it instead of evaluating gold again.
    from curation.services.training.distillation_job import _launch_automatic_evaluation

    easy = kit.generation_snapshot(project, tiny_model_dir, "easy")
    kit.gold(project, classification=False)
    job = launch_distillation(project, request(specs, [kit.stage(easy)]), by=engineer)
    assert run(job) == "succeeded", job.message
    final = ModelVersion.objects.get(job=job, is_final=True)
    again = _launch_automatic_evaluation(job, final, specs[0], ctx=None)
    assert again.pk == job.metrics["evaluation_job"]
    assert Job.objects.filter(kind=Job.Kind.EVALUATE, params__model_version=final.pk).count() == 1
    # The run recorded what its budget planned and drew (here one stage: every draw is its own).
    assert job.metrics["plan"][0]["steps"] == 3 and sum(job.metrics["visits"].values()) == 3 * 4


def test_a_job_trains_the_same_weights_as_the_core_on_its_snapshot_rows(
    project, engineer, triage, tiny_model_dir, tiny_student_dir, tmp_path
):
    """The product's path (launch, checkpoints, validation curve, gate) adds nothing to the
    weights: the core trained directly on the snapshot's train rows gives them bit for bit."""
    from safetensors.torch import load_file

    from curation.services.recipes import CURRICULUM_DEFAULTS
    from curation.services.training import snapshot_records
    from workers.distill import run_distillation

    specs, snap = triage
    settings = {"steps": 6, "lr": 1e-2, "temperature": 2.0, "alpha": 1.0}
    gate = {"metric": "accuracy", "threshold": 0.0}
    job = launch_distillation(
        project, request(specs, [kit.stage(snap, gate=gate, **settings)], checkpoint_every=2, seed=3), by=engineer
    )
    assert run(job) == "succeeded", job.message
    assert job.metrics["stages"]["0"]["gate"]["metrics"]  # validation rows were read
    product = ModelVersion.objects.get(job=job, is_final=True).artifact_path

    records = snapshot_records(snap.pk, "train", task="classification", labels=kit.LABELS)
    run_distillation(
        {
            "student": tiny_student_dir,
            "task": "classification",
            "labels": kit.LABELS,
            "teacher_tokenizer": tiny_model_dir,
            "output_dir": str(tmp_path / "direct"),
            "batch_size": 4,
            "seed": 3,
            **CURRICULUM_DEFAULTS,  # the product's curriculum defaults (its budget differs from the core's)
            "stages": [{"name": job.params["stages"][0]["name"], "records": records, **settings}],
        }
    )
    ours, theirs = load_file(f"{product}/model.safetensors"), load_file(tmp_path / "direct/final/model.safetensors")
    assert set(ours) == set(theirs)
    assert all(ours[k].equal(theirs[k]) for k in ours)


DEV_TICKETS = [
    ("refund not received", "billing", "easy"),
    ("two factor code never arrives", "account", "medium"),
    ("export hangs at 99 percent", "technical", "hard"),
    ("card declined at checkout", "billing", "easy"),
]


def test_a_finished_job_scores_its_student_on_the_dev_set_and_the_evaluation_routes_on_it(project, engineer, triage):
    # The dev set is what selection reads: the final student's dev accuracy is on its version and
    # job, equal to the student's per-item scores from the evaluation core; the report scores the
    # test set only and chooses its routing threshold on the dev set.
    from curation.services.training import routing_of
    from workers.evaluation import evaluate

    specs, snap = triage
    test_items = kit.gold(project)
    dev_items = kit.gold(project, DEV_TICKETS, purpose="dev")
    job = launch_distillation(project, request(specs, [kit.stage(snap, steps=4, lr=1e-2)]), by=engineer)
    assert run(job) == "succeeded", job.message
    final = ModelVersion.objects.get(job=job, is_final=True)
    dev = final.metrics["dev"]
    items = [
        {"id": g.pk, "prompt": g.prompt.model_input, "label": g.label, "tier": None}
        for g in sorted(dev_items, key=lambda g: g.pk)
    ]
    core = evaluate(final.artifact_path, final.artifact_path, items, task="classification", labels=kit.LABELS)
    assert dev["metric"] == "accuracy" and dev["n"] == len(DEV_TICKETS)
    assert dev["per_item"] == core["per_item"]["student"]
    assert dev["value"] == pytest.approx(sum(core["per_item"]["student"]) / len(DEV_TICKETS))
    assert dev["ci95"][0] <= dev["value"] <= dev["ci95"][1]
    assert job.metrics["dev"] == {k: v for k, v in dev.items() if k != "per_item"}
    assert f"Dev accuracy: {dev['value']:.3f} over 4 items." in job.message
    evaluation = Job.objects.get(pk=job.metrics["evaluation_job"])
    assert run(evaluation, run_evaluation_job) == "succeeded", evaluation.message
    report = EvalReport.objects.get(job=evaluation)
    assert report.per_item["gold_ids"] == [g.pk for g in test_items]
    assert report.per_item["validation"]["source"] == "dev"
    assert report.per_item["validation"]["ids"] == [g.pk for g in sorted(dev_items, key=lambda g: g.pk)]
    report = EvalReport.objects.select_related("model_version__student_spec", "teacher_spec").get(pk=report.pk)
    assert routing_of(report)["basis"] == "the dev set"


def test_a_dev_set_that_cannot_be_scored_warns_once_and_the_trained_job_still_succeeds(project, engineer, triage):
    from curation.models import GoldItem

    specs, snap = triage
    kit.gold(project)
    (bad,) = kit.gold(project, DEV_TICKETS[:1], purpose="dev")
    GoldItem.objects.filter(pk=bad.pk).update(label="refunds")  # a label the project no longer has
    job = launch_distillation(project, request(specs, [kit.stage(snap, steps=2)]), by=engineer)
    assert run(job) == "succeeded", job.message
    warnings = [e["error"] for e in job.errors if e["item"] == "warning" and e["error"].startswith("No dev score")]
    assert warnings == ["No dev score: confirmed dev items carry labels that are not project labels: 'refunds'"]
    assert "dev" not in job.metrics and "dev" not in ModelVersion.objects.get(job=job, is_final=True).metrics
    evaluation = Job.objects.get(pk=job.metrics["evaluation_job"])
    assert run(evaluation, run_evaluation_job) == "succeeded", evaluation.message
    notes = EvalReport.objects.get(job=evaluation).metrics["notes"]
    assert any(n.startswith("the routing threshold was chosen on the snapshots' rows: confirmed dev") for n in notes)

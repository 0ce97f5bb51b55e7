"""Builders for experiment tests: a classification project with curated stage snapshots, teacher
examples (for the raw arm), gold items and the tiny model specs; and finished runs with
evaluation reports whose per-item scores the test chooses, so results need no training."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from curation.models import EvalReport, Example, Experiment, Job, Prompt, TeacherSample
from curation.normalize import content_hash
from curation.services.experiments import launch_experiment
from tests import distillkit as kit


@pytest.fixture
def triage(project, tiny_model_dir, tiny_student_dir):
    """A classification project: two stage snapshots, three gold items, teacher examples, two specs."""
    project.task_type, project.labels = "classification", kit.LABELS
    project.save()
    stage1, stage2 = project.stages.filter(is_pool=False).order_by("order")[:2]
    easy = kit.classification_snapshot(project, "easy v1", repeat=2)
    hard = kit.classification_snapshot(project, "hard v1", repeat=1, tier="hard")
    easy.stage, hard.stage = stage1, stage2
    easy.save()
    hard.save()
    kit.gold(project)
    for i, (text, label) in enumerate(kit.TICKETS):
        teacher_example(project, f"{text} #{i}", label, status=["approved", "pending", "rejected"][i % 3])
    teacher = kit.spec(project, "teacher", tiny_model_dir, name="tiny teacher")
    student = kit.spec(project, "student", tiny_student_dir, name="tiny student")
    return {"project": project, "snapshots": [easy, hard], "teacher": teacher, "student": student}


def teacher_example(project, text, label, *, status="pending"):
    prompt = Prompt.objects.create(
        project=project, text=kit.ticket_prompt(text), content_hash=content_hash(kit.ticket_prompt(text), None)
    )
    sample = TeacherSample.objects.create(
        prompt=prompt,
        predicted_label=label,
        label_distribution={other: (0.7 if other == label else 0.15) for other in kit.LABELS},
    )
    return Example.objects.create(
        project=project, prompt=prompt, sample=sample, label=label, status=status, stage=project.pool
    )


def request(triage, **kw) -> dict:
    data = {
        "name": "Does it pay?",
        "student_spec": triage["student"].pk,
        "teacher_spec": triage["teacher"].pk,
        "snapshots": [s.pk for s in triage["snapshots"]],
        "seeds": 2,
        "recipe": {"batch_size": 4, "max_seq_len": 64, "checkpoint_every": 0, "stage": {"steps": 2, "lr": 1e-3}},
    }
    data.update(kw)
    return data


def launch(triage, by=None, **kw) -> Experiment:
    return launch_experiment(triage["project"], request(triage, **kw), by=by)


def finish_run(run, scores: list[float], teacher: list[float] | None = None, gold_ids=None) -> EvalReport:
    """Mark ``run`` trained and evaluated, with these per-item student scores."""
    project = run.experiment.project
    now = timezone.now()
    gold_ids = gold_ids or list(project.gold_items.order_by("id").values_list("id", flat=True))
    evaluation = Job.objects.create(
        project=project, kind=Job.Kind.EVALUATE, status=Job.Status.SUCCEEDED, started_at=now, finished_at=now
    )
    job = run.job or Job.objects.create(project=project, kind=Job.Kind.DISTILL)
    job.status, job.started_at, job.finished_at = Job.Status.SUCCEEDED, now - timedelta(seconds=60), now
    job.metrics = {**(job.metrics or {}), "evaluation_job": evaluation.pk}
    job.save()
    run.job = job
    run.save()
    return EvalReport.objects.create(
        project=project,
        job=evaluation,
        per_item={
            "gold_ids": gold_ids,
            "metric": "accuracy",
            "student": scores,
            "teacher": teacher if teacher is not None else [1.0] * len(scores),
        },
    )


def drain(project, limit=200) -> list[tuple[str, str]]:
    """Run the project's queued jobs (the experiment's preparation, its runs, their evaluations)
    through ``jobs.run`` in launch order, as a worker would, until none is left; returns
    (kind, status) per job run."""
    from curation.services import jobs
    from curation.services.datasets import run_build_job
    from curation.services.experiments import run_experiment_job
    from curation.services.hygiene import run_hygiene_job
    from curation.services.training import run_distill_job, run_evaluation_job

    bodies = {
        Job.Kind.EXPERIMENT: run_experiment_job,
        Job.Kind.DISTILL: run_distill_job,
        Job.Kind.EVALUATE: run_evaluation_job,
        Job.Kind.SNAPSHOT: run_build_job,
        Job.Kind.HYGIENE: run_hygiene_job,  # an import's follow-up checks
    }
    ran = []
    for _ in range(limit):
        job = Job.objects.filter(project=project, status=Job.Status.QUEUED).order_by("id").first()
        if job is None:
            return ran
        ran.append((job.kind, jobs.run(job.pk, bodies[job.kind])))
    raise AssertionError(f"jobs still queued after {limit} runs")

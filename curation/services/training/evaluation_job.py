"""The body of an evaluation job (``kind=evaluate``), run by the worker: a model version against
the teacher on the project's gold set, stored in one ``EvalReport``."""

from __future__ import annotations

from curation.models import EvalReport, ModelSpec, ModelVersion, Project
from curation.services import jobs, webhooks
from curation.services.training.evaluation import (
    MAX_NEW_TOKENS,
    dev_set,
    gold_problems,
    gold_set,
    validation_set,
)
from curation.services.training.judging import graded_examples, run_judge
from curation.services.training.registry import ArtifactMissing, model_dir

OOM_MESSAGE = "Out of memory while evaluating: lower max_new_tokens, or evaluate on a machine with more memory."


def _check_fn(project: Project):
    if not project.checks:
        return None
    from workers.checks import all_passed, run_checks

    return lambda text: all_passed(run_checks(text, project.checks))


def report_fields(result: dict) -> dict:
    """``workers.evaluation.evaluate``'s report as EvalReport fields."""

    def overall(side):
        return {k: v for k, v in result[side]["overall"].items() if k != "reliability"}

    def tiers(side):
        return {t: {k: v for k, v in m.items() if k != "reliability"} for t, m in result[side]["by_tier"].items()}

    reliability = {}
    if result["task"] == "classification":
        reliability = {
            side: {"ece": result[side]["overall"]["ece"], "bins": result[side]["overall"]["reliability"]}
            for side in ("student", "teacher")
        }
    return {
        "metrics": {
            "task": result["task"],
            "n_items": result["n_items"],
            "quality_basis": result["quality_basis"],
            "quality_retained_ci95": result.get("quality_retained_ci95"),
            "quality_retained_n": result.get("quality_retained_n"),
            "same_threads": result.get("same_threads"),
            "notes": result["notes"],
            "samples": result["samples"],
            "student": overall("student"),
            "teacher": overall("teacher"),
            "generation": result.get("generation"),
        },
        "by_tier": {"student": tiers("student"), "teacher": tiers("teacher")},
        "speed": {
            "student": result["student"]["speed"],
            "teacher": result["teacher"]["speed"],
            **({"per_token": result["per_token"]} if result.get("per_token") else {}),
        },
        "reliability": reliability,
        "quality_retained": result["quality_retained"],
        "speedup": result["speedup"],
        "per_item": {
            "gold_ids": result["per_item"]["ids"],
            **{k: v for k, v in result["per_item"].items() if k != "ids"},
        },
    }


def run_evaluation_job(ctx: jobs.JobContext) -> jobs.JobOutcome:
    from workers.evaluation import evaluate

    job = ctx.job
    project = job.project
    existing = EvalReport.objects.filter(job=job).first()
    if existing is not None:  # a redelivered message: the report is written
        return jobs.JobOutcome(message=_summary(existing))
    version = ModelVersion.objects.filter(project=project, pk=job.params.get("model_version")).first()
    teacher = ModelSpec.objects.filter(project=project, pk=job.params.get("teacher_spec")).first()
    if version is None:
        raise jobs.JobError("The model version was deleted after the evaluation was launched.")
    if teacher is None:
        raise jobs.JobError("The teacher model spec was deleted after the evaluation was launched.")
    try:
        path = model_dir(version)
    except ArtifactMissing as exc:
        raise jobs.JobError(str(exc)) from None
    gold = gold_set(project)
    problem = gold_problems(project)
    if problem:
        raise jobs.JobError(problem[0].upper() + problem[1:] + ".")
    # The routing threshold is chosen on the dev set when the project has one (items drawn like gold,
    # labelled by experts); else on the snapshots' validation rows. Never on the test set.
    dev, dev_problem = dev_set(project)
    ctx.progress(0, 2, phase=f"student on {len(gold)} gold items, then the teacher", force=True)
    try:
        result = evaluate(
            str(path),
            teacher.path,
            gold,
            task=project.task_type,
            labels=list(project.labels or []),
            check_fn=_check_fn(project),
            max_new_tokens=int(job.params.get("max_new_tokens") or MAX_NEW_TOKENS),
            validation=dev or validation_set(project, version),
        )
    except ValueError as exc:
        raise jobs.JobError(str(exc)) from None
    except OSError as exc:
        raise jobs.JobError(f"Cannot load a model for the evaluation: {exc}") from None
    except MemoryError:
        raise jobs.JobError(OOM_MESSAGE) from None
    except RuntimeError as exc:  # torch.OutOfMemoryError, or the CPU allocator's message
        if "out of memory" in str(exc).lower() or "can't allocate memory" in str(exc).lower():
            raise jobs.JobError(OOM_MESSAGE) from None
        raise
    fields = report_fields(result)
    if fields["per_item"].get("validation"):
        fields["per_item"]["validation"]["source"] = "dev" if dev else "snapshots"
    if dev_problem:
        fields["metrics"]["notes"].append(f"the routing threshold was chosen on the snapshots' rows: {dev_problem}")
    if job.params.get("judge") and result["task"] == "generation":
        ctx.progress(1, 2, phase="the judge grades the answers and the reviewed examples", force=True)
        block, note = run_judge(job.params["judge"], gold, result["per_item"], graded_examples(project))
        fields["metrics"]["judge"] = block
        retained = (block or {}).get("retained") or {}
        if retained.get("ratio") is not None:
            # Free text: the headline is the judged score the student keeps (chrF retained beside it).
            metrics = fields["metrics"]
            metrics["match_basis"] = {
                "quality_basis": metrics["quality_basis"],
                "quality_retained": fields["quality_retained"],
                "quality_retained_ci95": metrics["quality_retained_ci95"],
            }
            fields["quality_retained"] = retained["ratio"]
            metrics.update(
                quality_basis="judged", quality_retained_ci95=retained["ci95"], quality_retained_n=block["n"]
            )
        if note:
            fields["metrics"]["notes"].append(note)
    report = EvalReport.objects.create(project=project, job=job, model_version=version, teacher_spec=teacher, **fields)
    ctx.progress(2, 2, phase="report written", force=True)
    webhooks.emit(
        project,
        "evaluation.ready",
        {
            "report": {
                "id": report.pk,
                "model_version": version.pk,
                "quality_retained": report.quality_retained,
                "speedup": report.speedup,
            }
        },
    )
    return jobs.JobOutcome(
        message=_summary(report),
        metrics={"eval_report": report.pk, "quality_retained": report.quality_retained, "speedup": report.speedup},
    )


def _summary(report: EvalReport) -> str:
    parts = [f"Report #{report.pk}"]
    if report.quality_retained is not None:
        parts.append(f"quality retained {report.quality_retained:.0%} ({report.metrics.get('quality_basis')})")
    if report.speedup is not None:
        parts.append(f"speed-up ×{report.speedup:.2f}")
    return ": ".join([parts[0], ", ".join(parts[1:])]) if len(parts) > 1 else parts[0]

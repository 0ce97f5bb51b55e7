"""Evaluation jobs: a model version against the teacher on the project's gold set.

The body loads the confirmed gold items (reference answers or labels, with their
tiers), runs ``workers.evaluation.evaluate`` and stores everything it returns in an
``EvalReport``:

- ``metrics``: ``{"task", "n_items", "quality_basis", "notes", "samples",
  "student": {...overall}, "teacher": {...overall}}`` (without the reliability bins)
- ``by_tier``: ``{"student": {tier: {...}}, "teacher": {tier: {...}}}``
- ``speed``: ``{"student": {latency_p50_ms, latency_p95_ms, tokens_per_s, parameters,
  param_buffer_bytes, peak_rss_delta_mb}, "teacher": {...}}``
- ``reliability`` (classification): ``{"student": {"ece", "bins"}, "teacher": {...}}``
- ``quality_retained`` and ``speedup``: the headline ratios.
"""

from __future__ import annotations

from curation.models import EvalReport, GoldItem, Job, ModelSpec, ModelVersion, Project
from curation.services import jobs
from curation.services.distill_request import FieldErrors, LaunchInvalid, parse_number
from curation.services.registry import ArtifactMissing, model_dir

MAX_NEW_TOKENS = 32
OOM_MESSAGE = "Out of memory while evaluating: lower max_new_tokens, or evaluate on a machine with more memory."


def gold_set(project: Project) -> list[dict]:
    """The confirmed gold items in the core's format (prompt, reference or label, tier)."""
    items = GoldItem.objects.filter(project=project, confirmed=True).select_related("prompt", "tier").order_by("id")
    out = []
    for g in items:
        item = {"prompt": g.prompt.model_input, "tier": g.tier.name if g.tier_id else None}
        if project.is_classification:
            item["label"] = g.label
        else:
            item["reference"] = g.reference
        out.append(item)
    return out


def _gold_problems(project: Project) -> str | None:
    gold = GoldItem.objects.filter(project=project, confirmed=True)
    if not gold.exists():
        return "the project has no confirmed gold items to evaluate on; confirm some on the gold page first"
    if project.is_classification:
        labels = set(project.labels or [])
        bad = sorted(set(gold.exclude(label__in=labels).values_list("label", flat=True)))[:5]
        if bad:
            return f"confirmed gold items carry labels that are not project labels: {', '.join(map(repr, bad))}"
    elif gold.filter(reference="").exists():
        return f"{gold.filter(reference='').count()} confirmed gold items have no reference answer"
    return None


def validate_evaluation(project: Project, data: dict) -> dict:
    errors = FieldErrors()
    if not isinstance(data, dict):
        raise LaunchInvalid({"__all__": ["The request must be a JSON object."]})
    for key in sorted(set(data) - {"model_version", "teacher_spec", "max_new_tokens"}):
        errors.add(key, "unknown setting")
    raw = data.get("model_version")
    version = ModelVersion.objects.filter(project=project, pk=raw).first() if str(raw or "").isdigit() else None
    if raw in (None, ""):
        errors.add("model_version", "Choose the model version to evaluate.")
    elif version is None:
        errors.add("model_version", f"no model version #{raw} in this project")
    else:
        try:
            model_dir(version)
        except ArtifactMissing as exc:
            errors.add("model_version", str(exc))
    raw_teacher = data.get("teacher_spec") or (version.teacher_spec_id if version else None)
    teacher = (
        ModelSpec.objects.filter(project=project, pk=raw_teacher).first() if str(raw_teacher or "").isdigit() else None
    )
    if raw_teacher in (None, ""):
        errors.add("teacher_spec", "Choose the teacher to compare with.")
    elif teacher is None:
        errors.add("teacher_spec", f"no model spec #{raw_teacher} in this project")
    elif teacher.role != ModelSpec.Role.TEACHER:
        errors.add("teacher_spec", f"{teacher.name!r} is registered as a {teacher.role}, not a teacher")
    elif teacher.backend != ModelSpec.Backend.TRANSFORMERS:
        errors.add(
            "teacher_spec",
            f"{teacher.name!r} is served over HTTP; the speed and calibration comparison runs "
            "both models on this worker, so it needs a local transformers teacher",
        )
    max_new = parse_number(
        data.get("max_new_tokens"), "max_new_tokens", errors, kind=int, default=MAX_NEW_TOKENS, minimum=1, maximum=2048
    )
    problem = _gold_problems(project)
    if problem:
        errors.add("__all__", problem)
    if errors:
        raise LaunchInvalid(dict(errors))
    return {"model_version": version.pk, "teacher_spec": teacher.pk, "max_new_tokens": max_new}


def launch_evaluation(project: Project, data: dict, by=None, *, auto: bool = False) -> Job:
    """Validate (``LaunchInvalid`` names the fields) and queue an evaluation job."""
    params = validate_evaluation(project, data)
    params["auto"] = auto
    return jobs.launch(
        project, Job.Kind.EVALUATE, params, by=by, model_spec=ModelSpec.objects.get(pk=params["teacher_spec"])
    )


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
            "notes": result["notes"],
            "samples": result["samples"],
            "student": overall("student"),
            "teacher": overall("teacher"),
        },
        "by_tier": {"student": tiers("student"), "teacher": tiers("teacher")},
        "speed": {"student": result["student"]["speed"], "teacher": result["teacher"]["speed"]},
        "reliability": reliability,
        "quality_retained": result["quality_retained"],
        "speedup": result["speedup"],
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
    problem = _gold_problems(project)
    if problem:
        raise jobs.JobError(problem[0].upper() + problem[1:] + ".")
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
    report = EvalReport.objects.create(
        project=project, job=job, model_version=version, teacher_spec=teacher, **report_fields(result)
    )
    ctx.progress(2, 2, phase="report written", force=True)
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

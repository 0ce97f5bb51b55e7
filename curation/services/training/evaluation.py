"""Evaluation jobs: a model version against the teacher on the project's gold set (the body is
``evaluation_job``).

The body loads the confirmed gold items (reference answers or labels, with their
tiers), runs ``workers.evaluation.evaluate`` and stores everything it returns in an
``EvalReport``:

- ``metrics``: ``{"task", "n_items", "quality_basis", "notes", "samples",
  "student": {...overall}, "teacher": {...overall}}`` (without the reliability bins)
- ``by_tier``: ``{"student": {tier: {...}}, "teacher": {tier: {...}}}``
- ``speed``: ``{"student": {latency_p50_ms, latency_p95_ms, tokens_per_s, parameters,
  param_buffer_bytes, peak_rss_mb}, "teacher": {...}}``
- ``reliability`` (classification): ``{"student": {"ece", "bins"}, "teacher": {...}}``
- ``quality_retained`` and ``speedup``: the headline ratios.
- generation: ``metrics["generation"]`` (chrF, ROUGE-L, checks, lengths: ``workers.genmetrics``)
  and ``metrics["judge"]`` (judged quality and the judge's agreement with reviewers:
  ``judging.py``).
"""

from __future__ import annotations

from curation.models import Job, ModelSpec, ModelVersion, Project
from curation.services import gold, jobs
from curation.services.errors import NON_FIELD, Invalid
from curation.services.inputs import by_id, parse_number
from curation.services.training.judging import judge_config
from curation.services.training.registry import ArtifactMissing, model_dir

MAX_NEW_TOKENS = 32


def gold_set(project: Project, purpose: str = "test") -> list[dict]:
    """The confirmed gold items of the test set (``purpose="dev"``: of the dev set) in the core's
    format (id, prompt, reference or label, tier)."""
    items = (gold.dev_items(project) if purpose == "dev" else gold.test_items(project)).select_related("prompt", "tier")
    out = []
    for g in items.order_by("id"):
        item = {"id": g.pk, "prompt": g.prompt.model_input, "tier": g.tier.name if g.tier_id else None}
        if project.is_classification:
            item["label"] = g.label
        else:
            item["reference"] = g.reference
        out.append(item)
    return out


# Enough to choose a routing threshold; more only slows every evaluation down.
MAX_VALIDATION_ITEMS = 500


def validation_set(project: Project, version) -> list[dict]:
    """The validation rows of the snapshots ``version`` trained on, in the core's gold format:
    one per prompt (the first row by ordinal), at most MAX_VALIDATION_ITEMS, in a fixed order.
    The routing simulation picks its threshold on them when the project has no dev items it can
    score; they never decide anything on gold."""
    from curation.models import SnapshotRow

    rows = (
        SnapshotRow.objects.filter(snapshot__in=version.snapshots.all(), split=SnapshotRow.Split.VALIDATION)
        .order_by("prompt_hash", "snapshot_id", "ordinal")
        .only("id", "prompt_hash", "prompt_text", "prompt_messages", "label", "response", "tier")
    )
    out, seen = [], set()
    for row in rows.iterator():
        if row.prompt_hash in seen:
            continue
        seen.add(row.prompt_hash)
        item = {"id": row.pk, "prompt": row.prompt_messages or row.prompt_text, "tier": row.tier or None}
        if project.is_classification:
            if row.label not in (project.labels or []):
                continue
            item["label"] = row.label
        else:
            if not row.response:
                continue
            item["reference"] = row.response
        out.append(item)
        if len(out) >= MAX_VALIDATION_ITEMS:
            break
    return out


def gold_problems(project: Project, purpose: str = "test") -> str | None:
    """Why the confirmed test items (or dev items) cannot be scored, or None."""
    items = gold.dev_items(project) if purpose == "dev" else gold.test_items(project)
    noun = "dev" if purpose == "dev" else "gold"
    if not items.exists():
        return f"the project has no confirmed {noun} items to evaluate on; confirm some on the gold page first"
    if project.is_classification:
        labels = set(project.labels or [])
        bad = sorted(set(items.exclude(label__in=labels).values_list("label", flat=True)))[:5]
        if bad:
            return f"confirmed {noun} items carry labels that are not project labels: {', '.join(map(repr, bad))}"
    elif items.filter(reference="").exists():
        return f"{items.filter(reference='').count()} confirmed {noun} items have no reference answer"
    return None


def dev_set(project: Project) -> tuple[list[dict], str | None]:
    """The confirmed dev items in the core's format, and why they cannot be scored: a project
    without dev items has an empty set and no problem; one whose dev items cannot be scored (labels
    it no longer has, missing references) has the problem, to be said, not skipped."""
    if not gold.dev_items(project).exists():
        return [], None
    problem = gold_problems(project, "dev")
    return ([], problem) if problem else (gold_set(project, "dev"), None)


def score_on_dev(project: Project, version: ModelVersion) -> dict | None:
    """The version's score on the project's dev set (``workers.devscore``); None when the project
    has no dev set, ValueError naming what is wrong with one that cannot be scored. Selection reads
    it; reports do not. The caller stores it (``distillation_job.score_final_on_dev``)."""
    from workers.devscore import dev_score

    items, problem = dev_set(project)
    if problem:
        raise ValueError(problem)
    if not items:
        return None
    return dev_score(
        str(model_dir(version)),
        items,
        task=project.task_type,
        labels=list(project.labels or []),
        max_new_tokens=MAX_NEW_TOKENS,
    )


def validate_evaluation(project: Project, data: dict) -> dict:
    errors = Invalid()
    if not isinstance(data, dict):
        raise Invalid({NON_FIELD: ["The request must be a JSON object."]})
    for key in sorted(set(data) - {"model_version", "teacher_spec", "max_new_tokens"}):
        errors.add(key, "unknown setting")
    raw = data.get("model_version")
    version = by_id(ModelVersion.objects.filter(project=project), raw)
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
    teacher = by_id(ModelSpec.objects.filter(project=project), raw_teacher)
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
    problem = gold_problems(project)
    if problem:
        errors.add(NON_FIELD, problem)
    errors.raise_if_any()
    params = {"model_version": version.pk, "teacher_spec": teacher.pk, "max_new_tokens": max_new}
    if not project.is_classification:
        params["judge"] = judge_config(project, teacher)
    return params


def launch_evaluation(project: Project, data: dict, by=None, *, auto: bool = False) -> Job:
    """Validate (``Invalid`` names the fields) and queue an evaluation job."""
    params = validate_evaluation(project, data)
    params["auto"] = auto
    return jobs.launch(
        project, Job.Kind.EVALUATE, params, by=by, model_spec=ModelSpec.objects.get(pk=params["teacher_spec"])
    )

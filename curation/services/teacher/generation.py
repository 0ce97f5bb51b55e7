"""Teacher generation jobs (``kind=generate``): the launch, validated (the body is ``generation_job``).

Launch (``launch_generation``) checks everything a person can get wrong up front and
names the field: the teacher spec, every generation setting, the prompt filter (and
that it matches a prompt), the project's checks and labels. It freezes what the job
will do into ``Job.params``:

    {"task": "generation" | "classification", "labels": [...],
     "teacher": {spec fields; the API key only by its variable's name},
     "generation": {n, temperature, top_p, max_new_tokens, min_new_tokens, stop, seed, top_k},
     "prompt_filter": {...}, "frozen": {"max_prompt_id": ..., "count": ...}}
"""

from __future__ import annotations

from curation.models import Job, ModelSpec, TeacherSample
from curation.services import jobs
from curation.services.modelspecs import SpecProblem, resolve_generation_params, teacher_config
from curation.services.teacher.prompt_filter import FilterInvalid, freeze, parse_filter
from workers.checks import validate_checks_config


class LaunchInvalid(ValueError):
    """``errors``: {field: [messages]}, with ``params`` and ``prompt_filter`` nested."""

    def __init__(self, errors: dict):
        self.errors = errors
        super().__init__(_flatten_message(errors))


def _flatten_message(errors: dict, prefix: str = "") -> str:
    parts = []
    for key, value in errors.items():
        if isinstance(value, dict):
            parts.append(_flatten_message(value, f"{prefix}{key}."))
        else:
            parts.append(f"{prefix}{key}: {' '.join(value)}")
    return "; ".join(parts)


def teacher_spec_for(project, value, errors: dict) -> ModelSpec | None:
    """The project's teacher spec named by ``value`` (an id or a ModelSpec)."""
    if isinstance(value, ModelSpec):
        value = value.pk
    if value in (None, ""):
        errors["model_spec"] = ["choose the teacher model spec (register one on the Model specs page)"]
        return None
    try:
        spec = ModelSpec.objects.filter(project=project, pk=int(value)).first()
    except (TypeError, ValueError):
        spec = None
    if spec is None:
        errors["model_spec"] = [f"no model spec {value!r} in this project"]
    elif spec.role != ModelSpec.Role.TEACHER:
        errors["model_spec"] = [f"{spec.name!r} is a student spec; generation needs a teacher"]
        return None
    return spec


def prepare_generation(project, *, model_spec, params=None, prompt_filter=None) -> tuple[ModelSpec, dict]:
    """(spec, job params) for a valid launch; ``LaunchInvalid`` naming every bad field."""
    errors: dict = {}
    spec = teacher_spec_for(project, model_spec, errors)
    classification = project.is_classification
    generation = None
    try:
        generation = resolve_generation_params(spec, params or {}, classification=classification)
    except SpecProblem as exc:
        for key, messages in exc.errors.items():
            if key == "model_spec":
                errors.setdefault("model_spec", []).extend(messages)
            else:
                errors.setdefault("params", {})[key] = messages
    pf = None
    try:
        pf = parse_filter(prompt_filter, project)
    except FilterInvalid as exc:
        errors["prompt_filter"] = exc.errors
    if classification and not project.labels:
        errors.setdefault("project", []).append("this classification project has no labels to choose from")
    try:
        validate_checks_config(project.checks or [])
    except ValueError as exc:
        errors.setdefault("project", []).append(f"the project's checks are invalid ({exc}); fix them in its settings")
    frozen = None
    if pf is not None and "model_spec" not in errors:
        frozen = freeze(project, pf, spec.pk if spec else None)
        if not frozen["count"]:
            errors["prompt_filter"] = {"prompt_filter": ["no prompt matches this filter (gold prompts never do)"]}
    if errors:
        raise LaunchInvalid(errors)
    return spec, {
        "task": "classification" if classification else "generation",
        "labels": list(project.labels or []) if classification else [],
        "teacher": teacher_config(spec),
        "generation": generation,
        "prompt_filter": pf.as_dict(),
        "frozen": frozen,
    }


def launch_generation(project, *, by, model_spec, params=None, prompt_filter=None) -> Job:
    spec, job_params = prepare_generation(project, model_spec=model_spec, params=params, prompt_filter=prompt_filter)
    return jobs.launch(project, Job.Kind.GENERATE, job_params, by=by, model_spec=spec)


# ------------------------------------------------------------------------ body


def retry(job: Job) -> Job:
    """Run a failed or cancelled generate/score job again: it does only what is missing.

    A job that has written nothing yet takes its teacher's current spec (the usual fix
    after "cannot load" is to correct the spec); one that has written samples keeps the
    teacher it started with, so a job never mixes two models.
    """
    if job.kind not in (Job.Kind.GENERATE, Job.Kind.SCORE):
        raise ValueError(f"{job} cannot be retried here")
    if job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
        raise ValueError(f"{job} is {job.get_status_display().lower()}; only a failed or cancelled job can be retried")
    fields = {"cancel_requested": False, "message": ""}
    if job.model_spec_id and "teacher" in job.params and not TeacherSample.objects.filter(job=job).exists():
        fields["params"] = {**job.params, "teacher": teacher_config(job.model_spec)}
    Job.objects.filter(pk=job.pk).update(**fields)
    jobs.requeue(job, "resuming: only what is missing")
    job.refresh_from_db()
    return job

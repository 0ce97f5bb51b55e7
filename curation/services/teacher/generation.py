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
from curation.services.errors import Invalid
from curation.services.inputs import by_id
from curation.services.modelspecs import resolve_generation_params, teacher_config
from curation.services.teacher.prompt_filter import freeze, parse_filter
from workers.checks import validate_checks_config


def teacher_spec_for(project, value, errors: Invalid) -> ModelSpec | None:
    """The project's teacher spec named by ``value`` (an id or a ModelSpec)."""
    if isinstance(value, ModelSpec):
        value = value.pk
    if value in (None, ""):
        errors.add("model_spec", "choose the teacher model spec (register one on the Model specs page)")
        return None
    spec = by_id(ModelSpec.objects.filter(project=project), value)
    if spec is None:
        errors.add("model_spec", f"no model spec {value!r} in this project")
    elif spec.role != ModelSpec.Role.TEACHER:
        errors.add("model_spec", f"{spec.name!r} is a student spec; generation needs a teacher")
        return None
    return spec


def prepare_generation(project, *, model_spec, params=None, prompt_filter=None) -> tuple[ModelSpec, dict]:
    """(spec, job params) for a valid launch; ``Invalid`` naming every bad field (``params`` and
    ``prompt_filter`` nested: ``{"params": {"top_k": [...]}}``)."""
    errors = Invalid()
    spec = teacher_spec_for(project, model_spec, errors)
    classification = project.is_classification
    generation = None
    try:
        generation = resolve_generation_params(spec, params or {}, classification=classification)
    except Invalid as exc:
        settings = Invalid()
        for key, messages in exc.errors.items():
            for message in messages:
                (errors if key == "model_spec" else settings).add(key, message)
        if settings:
            errors.nest("params", settings)
    pf = None
    try:
        pf = parse_filter(prompt_filter, project)
    except Invalid as exc:
        errors.nest("prompt_filter", exc)
    if classification and not project.labels:
        errors.add("project", "this classification project has no labels to choose from")
    try:
        validate_checks_config(project.checks or [])
    except ValueError as exc:
        errors.add("project", f"the project's checks are invalid ({exc}); fix them in its settings")
    frozen = None
    if pf is not None and "model_spec" not in errors:
        frozen = freeze(project, pf, spec.pk if spec else None)
        if not frozen["count"]:
            errors.nest(
                "prompt_filter",
                Invalid({"prompt_filter": ["no prompt matches this filter (gold prompts never do)"]}),
            )
    errors.raise_if_any()
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

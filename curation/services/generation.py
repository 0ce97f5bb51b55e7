"""Teacher generation jobs (``kind=generate``): launch, validated; the body the worker runs.

Launch (``launch_generation``) checks everything a person can get wrong up front and
names the field: the teacher spec, every generation setting, the prompt filter (and
that it matches a prompt), the project's checks and labels. It freezes what the job
will do into ``Job.params``:

    {"task": "generation" | "classification", "labels": [...],
     "teacher": {spec fields; the API key only by its variable's name},
     "generation": {n, temperature, top_p, max_new_tokens, min_new_tokens, stop, seed, top_k},
     "prompt_filter": {...}, "frozen": {"max_prompt_id": ..., "count": ...}}

The body (``run_generation``) is idempotent: for each chunk of the job's prompts it
asks the teacher only for the (prompt, sample index) pairs this job has no row for,
and writes each finished batch as a shard plus one transaction of rows
(``teacher_output``). A re-run, or a run resumed after its worker was killed, fills in
exactly what is missing, so every prompt ends with exactly n samples. When generation
ends (also after a cancel or a teacher failure) the job's examples get their
difficulty and tiers (``tiering``).
"""

from __future__ import annotations

import gc
import time

from celery.exceptions import SoftTimeLimitExceeded

from curation.models import Job, ModelSpec, TeacherSample
from curation.services import jobs
from curation.services.modelspecs import SpecProblem, load_spec, resolve_generation_params, teacher_config
from curation.services.prompt_filter import FilterInvalid, PromptFilter, freeze, frozen_prompts, parse_filter
from curation.services.teacher_output import SampleWriter, existing_keys
from curation.services.tiering import score_and_tier
from workers.checks import validate_checks_config
from workers.teacher import (
    CANCEL,
    ClassifyRequest,
    GenerationParams,
    GenerationRequest,
    TeacherError,
    load_teacher,
)

REQUESTS_PER_CALL = 1024  # one teacher call buckets this many requests by length


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
def filter_of(job) -> PromptFilter:
    d = dict(job.params.get("prompt_filter") or {})
    d["ids"] = tuple(d.get("ids") or ())
    return PromptFilter(**d)


def job_prompts(job):
    """The job's prompts in id order, in chunks, with the filter's limit applied."""
    pf = filter_of(job)
    qs = frozen_prompts(job, pf)
    per_chunk = max(1, REQUESTS_PER_CALL // max(1, int(job.params["generation"].get("n", 1))))
    remaining = pf.limit
    last = 0
    while remaining is None or remaining > 0:
        size = per_chunk if remaining is None else min(per_chunk, remaining)
        chunk = list(qs.filter(id__gt=last).only("id", "text", "messages", "source")[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].id
        if remaining is not None:
            remaining -= len(chunk)


def open_teacher(job):
    try:
        return load_teacher(load_spec(job.params["teacher"]))
    except SpecProblem as exc:
        raise jobs.JobError(str(exc)) from None
    except TeacherError as exc:
        raise jobs.JobError(f"Cannot start the teacher: {exc}") from None


def close_teacher(teacher) -> None:
    teacher.close()
    if getattr(teacher, "model", None) is not None:
        import torch

        teacher.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def drive_teacher(ctx, job, calls, phase: str, progress: Progress) -> tuple[str | None, bool]:
    """Open the job's teacher and make ``calls`` (each ``fn(teacher)``) until one is cancelled.

    Returns ``(failure, cancelled)``: a whole-run teacher problem after the start (an
    unreachable server, the soft time limit) is a message, so the caller can still tier
    what was written before failing the job. A teacher that cannot start fails at once.
    """
    try:
        teacher = open_teacher(job)
    except jobs.JobError:
        ctx.progress(phase="could not start the teacher", force=True)
        raise
    ctx.progress(phase=phase, force=True)
    progress.restart()  # tokens/s and the ETA measure the teacher, not its loading
    try:
        for call in calls:
            call(teacher)
            if (teacher.last_run is not None and teacher.last_run.cancelled) or ctx.cancelled():
                return None, True
    except TeacherError as exc:
        return f"The teacher stopped: {exc}", False
    except SoftTimeLimitExceeded:
        return (
            "The job reached the worker's time limit (CELERY_TASK_SOFT_TIME_LIMIT). Everything written "
            "is kept; Retry continues with what is missing."
        ), False
    finally:
        close_teacher(teacher)
        ctx.flush()
    return None, False


class Progress:
    """done/total, tokens/s and ETA for one run of a job (earlier runs count as done)."""

    def __init__(self, ctx, done_before: int, total: int):
        self.ctx, self.done, self.total = ctx, done_before, total
        self.restart()

    def restart(self) -> None:
        self.run_done, self.tokens = 0, 0
        self.started = time.monotonic()

    def add(self, samples: int, tokens: int, phase: str) -> None:
        self.done += samples
        self.run_done += samples
        self.tokens += tokens
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.run_done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else None
        self.ctx.progress(
            self.done,
            self.total,
            tokens_per_s=round(self.tokens / elapsed, 1),
            eta_s=round(max(eta, 0.0), 1) if eta is not None else None,
            phase=phase,
        )


def run_generation(ctx: jobs.JobContext) -> jobs.JobOutcome:
    job = ctx.job
    project = job.project
    params = job.params
    classification = params.get("task") == "classification"
    gen = GenerationParams.from_dict(params["generation"])
    try:
        checks = validate_checks_config(project.checks or [])
    except ValueError as exc:
        raise jobs.JobError(f"The project's checks are invalid ({exc}); fix them in its settings and retry.") from None
    pf = filter_of(job)
    n_prompts = frozen_prompts(job, pf).count()
    if pf.limit:
        n_prompts = min(n_prompts, pf.limit)
    total = n_prompts * gen.n
    done_before = TeacherSample.objects.filter(job=job).count()
    ctx.progress(done_before, total, phase="loading the teacher", force=True)

    failure, cancelled = None, False
    if done_before < total:
        progress = Progress(ctx, done_before, total)
        writer = SampleWriter(job, project, checks)

        def calls():
            for chunk in job_prompts(job):
                writer.prompts = {p.id: p for p in chunk}
                have = existing_keys(job, writer.prompts)

                def on_batch(results, stats):
                    out = (writer.write_classifications if classification else writer.write_generations)(results)
                    for prompt_id, (message, count) in out.errors.items():
                        ctx.error(f"prompt {prompt_id}", message + (f" ({count} samples)" if count > 1 else ""))
                    progress.add(out.written + out.failed, out.tokens, "generating")
                    return CANCEL if ctx.cancelled() else None

                if classification:
                    requests = [
                        ClassifyRequest(key=(p.id, 0), prompt=p.model_input) for p in chunk if 0 not in have[p.id]
                    ]
                    if requests:
                        yield lambda teacher, r=requests, cb=on_batch: teacher.classify(
                            r, params["labels"], on_batch=cb
                        )
                else:
                    requests = [
                        GenerationRequest(key=(p.id, i), prompt=p.model_input, sample_index=i)
                        for p in chunk
                        for i in range(gen.n)
                        if i not in have[p.id]
                    ]
                    if requests:
                        yield lambda teacher, r=requests, cb=on_batch: teacher.generate(r, gen, on_batch=cb)

        failure, cancelled = drive_teacher(ctx, job, calls(), "generating", progress)

    ctx.progress(phase="scoring difficulty and tiers", force=True)
    tiering = score_and_tier(job, project, classification=classification)
    if tiering.get("warning"):
        ctx.warn(tiering["warning"])
    metrics = _metrics(job, n_prompts, gen.n, tiering)
    message = _summary(metrics, classification)
    return conclude(
        ctx,
        failure=failure,
        cancelled=cancelled,
        message=message,
        metrics=metrics,
        all_failed=metrics["samples_written"] == 0 and metrics["failed_samples"] > 0,
    )


def conclude(ctx, *, failure, cancelled, all_failed, message, metrics) -> jobs.JobOutcome:
    """The outcome of a generate or score run; raises ``JobError`` for a failed one."""
    if failure:
        ctx.progress(phase="stopped: the teacher failed", force=True)
        raise jobs.JobError(f"{failure}\n{message}")
    if cancelled:
        ctx.progress(phase="cancelled", force=True)
        return jobs.JobOutcome(Job.Status.CANCELLED, f"Cancelled. {message}", metrics)
    if all_failed:
        ctx.progress(phase="every item failed", force=True)
        raise jobs.JobError(f"Nothing could be done: every item failed (see the problems below). {message}")
    ctx.progress(phase="done", force=True)
    return jobs.JobOutcome(Job.Status.SUCCEEDED, message, metrics)


def _metrics(job, n_prompts: int, n: int, tiering: dict) -> dict:
    rows = TeacherSample.objects.filter(job=job)
    return {
        "prompts": n_prompts,
        "samples_per_prompt": n,
        "samples_written": rows.filter(error="").count(),
        "failed_samples": rows.exclude(error="").count(),
        "failed_checks": rows.filter(error="", checks_passed=False).count(),
        "tiers": tiering.get("tiers", {}),
        "kept_human_tiers": tiering.get("kept_human_tiers", 0),
    }


def _summary(m: dict, classification: bool) -> str:
    what = "label distributions" if classification else "samples"
    wanted = m["prompts"] * m["samples_per_prompt"]
    text = f"Wrote {m['samples_written']:,}" + (f" of {wanted:,}" if m["samples_written"] != wanted else "")
    text += f" {what} for {m['prompts']:,} prompt{'s' if m['prompts'] != 1 else ''}"
    if not classification:
        text += f" ({m['samples_per_prompt']} per prompt)"
    text += "."
    if m["failed_samples"]:
        text += f" {m['failed_samples']:,} failed (listed under problems)."
    if m["failed_checks"]:
        text += f" {m['failed_checks']:,} failed a check (flagged in the queue, not deleted)."
    if m["tiers"]:
        text += " Tiers: " + ", ".join(f"{k} {v:,}" for k, v in m["tiers"].items()) + "."
    if m["kept_human_tiers"]:
        text += f" {m['kept_human_tiers']:,} tier{'s' if m['kept_human_tiers'] != 1 else ''} set by reviewers kept."
    return text


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

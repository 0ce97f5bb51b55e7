"""The body of a generation job (``kind=generate``), run by the worker.

It is idempotent: for each chunk of the job's prompts it asks the teacher only for the
(prompt, sample index) pairs this job has no row for, and writes each finished batch as a
shard plus one transaction of rows (``output.SampleWriter``). A re-run, or a run resumed
after its worker was killed, fills in exactly what is missing, so every prompt ends with
exactly n samples. When generation ends (also after a cancel or a teacher failure) the
job's examples get their difficulty and tiers (``tiering``)."""

from __future__ import annotations

from curation.models import TeacherSample
from curation.services import jobs
from curation.services.teacher.output import SampleWriter, existing_keys
from curation.services.teacher.prompt_filter import filter_of, frozen_prompts
from curation.services.teacher.run import Progress, conclude, drive_teacher
from curation.services.teacher.tiering import score_and_tier
from workers.checks import validate_checks_config
from workers.teacher import (
    CANCEL,
    ClassifyRequest,
    GenerationParams,
    GenerationRequest,
)

REQUESTS_PER_CALL = 1024  # one teacher call buckets this many requests by length


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
    server: dict = {}  # an HTTP teacher's requests, retries, errors and throughput (job page)
    if done_before < total:
        progress = Progress(ctx, done_before, total)
        writer = SampleWriter(job, project, checks, fenced=ctx.fenced)

        def calls():
            for chunk in job_prompts(job):
                writer.prompts = {p.id: p for p in chunk}
                have = existing_keys(job, writer.prompts)

                def on_batch(results, stats):
                    if stats.server:
                        server.update(stats.server)
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
    if server:
        metrics["teacher_server"] = server
    message = _summary(metrics, classification)
    return conclude(
        ctx,
        failure=failure,
        cancelled=cancelled,
        message=message,
        metrics=metrics,
        all_failed=metrics["samples_written"] == 0 and metrics["failed_samples"] > 0,
    )


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

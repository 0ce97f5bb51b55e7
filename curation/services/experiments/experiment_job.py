"""The body of an experiment's preparation job (``kind=experiment``, queue ``default``).

It builds the raw arm's snapshot (the teacher's output as it came) when the experiment has a
raw arm, then launches every run that has no job yet as an ordinary distillation job (queue
``gpu``), seed by seed so that complete seeds, the unit the statistics pair on, finish first.
It is idempotent: a re-run (a restarted worker) builds nothing twice and launches only the
runs still missing, each claimed in its own transaction.
"""

from __future__ import annotations

from django.db import transaction

from curation.models import Experiment, ExperimentRun, Job, Snapshot
from curation.services import jobs
from curation.services.datasets import BuildCancelled, build_snapshot, fail_snapshot
from curation.services.errors import Invalid
from curation.services.experiments.arms import arm_request
from curation.services.training import launch_distillation


def _raw_snapshot(ctx: jobs.JobContext, experiment: Experiment) -> str | None:
    """Build the raw snapshot if needed; the reason the raw arm cannot run, or None."""
    raw = experiment.raw_snapshot
    if raw is None:
        return "its raw snapshot was deleted before the runs were launched"
    if raw.status == Snapshot.Status.READY:
        return None if raw.train_count else f"the raw snapshot {raw.name!r} has no training rows"
    ctx.progress(phase="building the raw snapshot (the teacher's output as it came)", force=True)
    try:
        raw = build_snapshot(raw, progress=ctx.progress, cancelled=ctx.cancelled)
    except Invalid as exc:
        fail_snapshot(raw, str(exc))
        return f"the raw snapshot could not be built: {exc}"
    return None if raw.train_count else f"the raw snapshot {raw.name!r} has no training rows (no teacher examples?)"


def _launch(experiment: Experiment, run: ExperimentRun) -> Job | None:
    request = arm_request(
        experiment.params, run.arm, run.seed, raw_snapshot=experiment.raw_snapshot_id if run.arm == "raw" else None
    )
    with transaction.atomic():
        claimed = ExperimentRun.objects.select_for_update().filter(pk=run.pk, job__isnull=True, error="").first()
        if claimed is None:  # another delivery of this job launched it
            return None
        job = launch_distillation(experiment.project, request, by=experiment.created_by)
        job.params["experiment"] = {"id": experiment.pk, "arm": run.arm, "seed": run.seed}
        Job.objects.filter(pk=job.pk).update(params=job.params)
        claimed.job = job
        claimed.save(update_fields=["job"])
    return job


def run_experiment_job(ctx: jobs.JobContext) -> jobs.JobOutcome:
    experiment = (
        Experiment.objects.select_related("project", "raw_snapshot", "created_by")
        .filter(pk=ctx.params.get("experiment"), project_id=ctx.job.project_id)
        .first()
    )
    if experiment is None:
        raise jobs.JobError("The experiment was deleted before its runs were launched.")
    if experiment.status == Experiment.Status.CANCELLED:
        return jobs.JobOutcome(jobs.Status.CANCELLED, "The experiment was cancelled.")
    pending = experiment.runs.filter(job__isnull=True, error="")
    if "raw" in experiment.arms and pending.filter(arm="raw").exists():
        try:
            problem = _raw_snapshot(ctx, experiment)
        except BuildCancelled:
            fail_snapshot(experiment.raw_snapshot, "The build was cancelled.")
            return jobs.JobOutcome(jobs.Status.CANCELLED, "Cancelled while building the raw snapshot.")
        if problem:
            pending.filter(arm="raw").update(error=f"Not launched: {problem}.")
            ctx.warn(f"The raw arm does not run: {problem}.")
    runs = list(pending.order_by("seed_index", "id"))
    total, launched = experiment.runs.count(), experiment.runs.filter(job__isnull=False).count()
    for run in runs:
        if ctx.cancelled():
            return jobs.JobOutcome(jobs.Status.CANCELLED, f"Cancelled after launching {launched} of {total} runs.")
        try:
            if _launch(experiment, run) is not None:
                launched += 1
        except Invalid as exc:
            ExperimentRun.objects.filter(pk=run.pk).update(error=f"Not launched: {exc}")
            ctx.warn(f"{run.arm} at seed {run.seed} was not launched: {exc}")
        ctx.progress(launched, total, phase=f"launched {launched} of {total} runs")
    Experiment.objects.filter(pk=experiment.pk, status=Experiment.Status.PREPARING).update(
        status=Experiment.Status.RUNNING
    )
    not_launched = experiment.runs.exclude(error="").count()
    shape = f"{len(experiment.arms)} arms × {experiment.seeds} seeds"
    message = f"Launched {launched} of {total} runs ({shape}) on the gpu queue."
    if not_launched:
        message += f" {not_launched} could not be launched (see the experiment's page)."
    return jobs.JobOutcome(message=message, metrics={"launched": launched, "total": total})

"""What the job pages show: a project's job, and the teacher job panels' counts.

The generation and score panels sit in the progress fragment that polls every 2 s while
the job runs, so while it runs only the sample counts (one aggregate over the job's
index) are read; examples and tiers are counted once the job has finished.
"""

from __future__ import annotations

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from curation.models import Example, Job, TeacherSample
from curation.services.jobs import TASKS, queue_of
from curation.services.teacher import filter_of, job_tier_counts


def job_for(project, pk) -> Job:
    """The project's job ``pk`` with who started it and its model (404 for another project's)."""
    return get_object_or_404(Job.objects.select_related("created_by", "model_spec"), project=project, pk=pk)


def teacher_job_summary(job: Job) -> dict:
    """Samples written, failed, failing a check and gold (scoring), examples and tiers when done."""
    counts = TeacherSample.objects.filter(job=job).aggregate(
        written=Count("id", filter=Q(error="")),
        failed=Count("id", filter=~Q(error="")),
        failed_checks=Count("id", filter=Q(error="", checks_passed=False, scored=False)),
        gold=Count("id", filter=Q(error="", scored=True, sample_index=0)),
    )
    finished = not job.is_active
    if job.kind == "generate":
        # Samples and their examples are written in one transaction: equal while it runs.
        counts["examples"] = Example.objects.filter(sample__job=job).count() if finished else counts["written"]
        counts["tiers"] = job_tier_counts(job) if finished else []
        counts["filter"] = filter_of(job).describe()
    else:
        counts["edits"] = counts["written"] - counts["gold"]
    return counts


def status_line(job: Job) -> str:
    """What an active job is doing now, in words, read afresh at every poll of the progress
    fragment (a launch message saying "queued" would go stale the moment a worker took it)."""
    if job.status == Job.Status.QUEUED:
        if job.cancel_requested:
            return "Queued, and cancelled: it will not start."
        queue = queue_of(job.kind)
        kinds = [kind for kind in TASKS if queue_of(kind) == queue]
        same_queue = Job.objects.filter(kind__in=kinds).exclude(pk=job.pk)
        ahead = same_queue.filter(status=Job.Status.RUNNING).count()
        ahead += same_queue.filter(status=Job.Status.QUEUED, id__lt=job.pk).count()
        waiting = f"Queued: waiting for a worker of the “{queue}” queue; "
        if ahead:
            return waiting + f"{ahead} job{'s are' if ahead != 1 else ' is'} ahead of it."
        return waiting + "no job is ahead of it, so if it stays queued no such worker is running."
    if job.status == Job.Status.RUNNING:
        if job.cancel_requested:
            return "Stopping: it stops after its current batch and keeps what it wrote."
        since = f" since {timezone.localtime(job.started_at):%H:%M:%S}" if job.started_at else ""
        return f"Running{since}" + (f": {job.phase}." if job.phase else ".")
    return ""

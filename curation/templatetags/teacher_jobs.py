"""What the generation and score job panels show, counted from the job's rows.

The panel sits in the progress fragment that polls every 2 s while the job runs, so
while it runs only the sample counts (one aggregate over the job's index) are read;
examples and tiers are counted once the job has finished.
"""

from django import template
from django.db.models import Count, Q

from curation.models import Example, TeacherSample
from curation.services.teacher import filter_of, job_tier_counts

register = template.Library()


@register.simple_tag
def teacher_job_summary(job):
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

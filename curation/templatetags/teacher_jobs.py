"""What the generation and score job panels show, counted from the job's rows."""
from django import template
from django.db.models import Count, Q

from curation.models import Example, TeacherSample
from curation.services.generation import filter_of
from curation.services.tiering import job_tier_counts

register = template.Library()


@register.simple_tag
def teacher_job_summary(job):
    counts = TeacherSample.objects.filter(job=job).aggregate(
        written=Count("id", filter=Q(error="")),
        failed=Count("id", filter=~Q(error="")),
        failed_checks=Count("id", filter=Q(error="", checks_passed=False, scored=False)),
        gold=Count("id", filter=Q(error="", scored=True, sample_index=0)),
    )
    counts["examples"] = Example.objects.filter(sample__job=job).count()
    counts["tiers"] = job_tier_counts(job) if job.kind == "generate" else []
    counts["edits"] = counts["written"] - counts["gold"] if job.kind == "score" else 0
    counts["filter"] = filter_of(job).describe() if job.kind == "generate" else ""
    return counts

"""The generation and score job panels' counts (read by ``curation.pages.jobs``)."""

from django import template

from curation.pages import jobs

register = template.Library()


@register.simple_tag
def teacher_job_summary(job):
    return jobs.teacher_job_summary(job)

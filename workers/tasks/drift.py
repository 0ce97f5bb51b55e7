"""Drift checks (queue ``default``): one project's pending windows, or every project's (Celery beat)."""

from celery import shared_task


@shared_task(name="workers.tasks.drift.check")
def check(project_id: int) -> int:
    from curation.models import Project
    from curation.services import drift

    project = Project.objects.filter(pk=project_id).first()
    return len(drift.check_drift(project)) if project else 0


@shared_task(name="workers.tasks.drift.check_all")
def check_all() -> int:
    """Queue a check for every project that captured production requests (the periodic entry)."""
    from curation.models import CapturedRequest

    ids = list(CapturedRequest.objects.values_list("project_id", flat=True).distinct().order_by())
    for project_id in ids:
        check.delay(project_id)
    return len(ids)

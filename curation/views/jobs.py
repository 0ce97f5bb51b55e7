from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.template.loader import select_template
from django.views.decorators.http import require_POST

from curation.access import can, project_for
from curation.fragments import render_page
from curation.models import Job, Role
from curation.pages.jobs import job_for, status_line
from curation.services import jobs as job_service


@login_required
def job_list(request, slug):
    project = project_for(request.user, slug)
    job_rows = project.jobs.select_related("created_by")[:200]
    context = {
        "project": project,
        "jobs": job_rows,
        "is_engineer": can(project, Role.ENGINEER),
        "any_active": any(j.is_active for j in job_rows),
    }
    return render_page(
        request, "curation/job_list.html", context, fragments={"table": "curation/partials/job_table.html"}
    )


@login_required
def job_detail(request, slug, pk):
    """The job page; htmx polls its progress fragment while the job is active."""
    project = project_for(request.user, slug)
    job = job_for(project, pk)
    # A kind-specific panel (curation/partials/job_<kind>.html) when the kind has one.
    panel = select_template([f"curation/partials/job_{job.kind}.html", "curation/partials/job_generic.html"])
    context = {
        "project": project,
        "job": job,
        "panel": panel.template.name,
        "is_engineer": can(project, Role.ENGINEER),
        "status_line": status_line(job),
    }
    fragments = {"progress": "curation/partials/job_progress.html"}
    return render_page(request, "curation/job_detail.html", context, fragments=fragments)


@login_required
@require_POST
def job_cancel(request, slug, pk):
    project = project_for(request.user, slug, Role.ENGINEER)
    job = job_service.request_cancel(job_for(project, pk), by=request.user)
    if job.status == Job.Status.CANCELLED:
        messages.success(request, f"{job} was cancelled.")
    elif job.cancel_requested:
        messages.info(request, f"{job} stops after its current batch.")
    else:
        messages.error(request, f"{job} has already {job.get_status_display().lower()}; there is nothing to cancel.")
    return redirect("job-detail", slug=project.slug, pk=job.pk)

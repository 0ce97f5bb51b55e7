from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import render

from curation.access import can, project_for, visible_projects
from curation.models import Role
from curation.pages.drift import drift_panel
from curation.services.projects import can_create_projects, next_steps
from curation.services.review import agreement, reviewed_per_day, stage_progress, status_matrix


@login_required
def project_list(request):
    projects = visible_projects(request.user).annotate(
        n_prompts=Count("prompts", distinct=True),
    )
    roles = dict(request.user.memberships.values_list("project_id", "role"))
    rows = [
        (p, "engineer (admin)" if request.user.is_superuser and p.id not in roles else roles.get(p.id))
        for p in projects
    ]
    context = {"rows": rows, "can_create": can_create_projects(request.user)}
    return render(request, "curation/project_list.html", context)


@login_required
def dashboard(request, slug):
    project = project_for(request.user, slug)
    matrix = status_matrix(project)
    progress = stage_progress(project, matrix)
    context = {
        "project": project,
        "matrix": matrix,
        "per_day": reviewed_per_day(project),
        "agreement": agreement(project),
        "progress": progress,
        "next_steps": next_steps(project, progress),
        "n_prompts": project.prompts.count(),
        "n_gold": project.gold_items.count(),
        "jobs": project.jobs.select_related("created_by")[:10],
        "drift": drift_panel(project),
        "is_engineer": can(project, Role.ENGINEER),
        "is_reviewer": can(project, Role.REVIEWER),
    }
    return render(request, "curation/dashboard.html", context)

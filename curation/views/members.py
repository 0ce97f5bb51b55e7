"""Project administration in the browser: create a project (engineers), its labels, its members and roles."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from curation.access import project_for
from curation.models import Membership, Project, Role
from curation.services import projects
from curation.services.errors import Invalid


def _a(role: str) -> str:
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"


@login_required
def project_new(request):
    if not projects.can_create_projects(request.user):
        raise PermissionDenied("Creating a project needs the engineer role in some project (or an administrator).")
    errors, typed = {}, {"task_type": "generation"}
    if request.method == "POST":
        typed = request.POST
        try:
            project = projects.create_project(
                request.user,
                name=request.POST.get("name", ""),
                slug=request.POST.get("slug", ""),
                task_type=request.POST.get("task_type", ""),
                labels=request.POST.get("labels", ""),
            )
        except Invalid as exc:
            errors = exc.errors
        else:
            messages.success(request, f"Project “{project.name}” created; you are its engineer. Add members next.")
            return redirect("project-members", slug=project.slug)
    context = {"errors": errors, "typed": typed, "task_types": Project.TaskType.choices}
    return render(request, "curation/project_new.html", context, status=400 if errors else 200)


def _members_page(request, project, status=200, **extra):
    context = {
        "project": project,
        "members": project.memberships.select_related("user").order_by("user__username"),
        "roles": Role.choices,
        "errors": {},
        "typed": {},
        **extra,
    }
    return render(request, "curation/members.html", context, status=status)


@login_required
def members(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    if request.method == "POST":
        try:
            added = projects.add_member(project, request.POST.get("username", ""), request.POST.get("role", ""))
        except Invalid as exc:
            return _members_page(request, project, status=400, errors=exc.errors, typed=request.POST)
        messages.success(request, f"{added.user.username} is now {_a(added.role)} of {project.name}.")
        return redirect("project-members", slug=slug)
    return _members_page(request, project)


@login_required
@require_POST
def member_change(request, slug, pk):
    project = project_for(request.user, slug, Role.ENGINEER)
    membership = get_object_or_404(Membership, project=project, pk=pk)
    try:
        if request.POST.get("op") == "remove":
            projects.remove_member(membership)
            messages.success(request, f"{membership.user.username} is no longer a member.")
        else:
            changed = projects.set_role(membership, request.POST.get("role", ""))
            messages.success(request, f"{changed.user.username} is now {_a(changed.role)}.")
    except Invalid as exc:
        return _members_page(request, project, status=400, errors=exc.errors, failed=membership.pk)
    if membership.user_id == request.user.id and request.POST.get("op") == "remove":
        return redirect("project-list")
    return redirect("project-members", slug=slug)


@login_required
@require_POST
def labels(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    try:
        saved = projects.set_labels(project, request.POST.get("labels", ""))
    except Invalid as exc:
        messages.error(request, " ".join(message for problems in exc.errors.values() for message in problems))
    else:
        messages.success(request, f"Labels saved: {', '.join(saved) or 'none'}.")
    return redirect("project-settings", slug=slug)

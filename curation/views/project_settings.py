"""Project settings (engineers): guidelines, second pass, checks, tier cut points, stages and tiers, webhooks."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from curation.access import project_for
from curation.forms import AddCheckForm, ProjectSettingsForm, WebhookForm, add_errors
from curation.models import Role, WebhookEndpoint
from curation.services import projects, review, webhooks
from curation.services.errors import Invalid
from curation.services.inputs import parse_whole
from curation.services.review import ReviewError
from workers.checks import describe_check, validate_checks_config


def _page(request, project, form, status=200, webhook_form=None, **extra):
    context = {
        "project": project,
        "form": form,
        "typed": {},
        "curriculum": [("stage", project.stages.all()), ("tier", project.tiers.all())],
        "checks_in_words": _checks_in_words(project.checks),
        "check_form": AddCheckForm(),
        **_webhooks(request, project, webhook_form),
        **extra,
    }
    return render(request, "curation/settings.html", context, status=status)


def _checks_in_words(checks) -> list[str] | None:
    """The saved checks in words; None when what is stored no longer validates (the form says why on save)."""
    try:
        return [describe_check(c) for c in validate_checks_config(checks or [])]
    except ValueError:
        return None


# The new webhook's secret survives one page view in the session, then it is gone.
NEW_WEBHOOK_SECRET = "new_webhook_secret"


def _webhooks(request, project, form=None) -> dict:
    return {
        "webhook_form": form or WebhookForm(events=webhooks.EVENTS),
        "webhooks": project.webhooks.all(),
        "deliveries": webhooks.recent_deliveries(project),
        "new_webhook": request.session.pop(NEW_WEBHOOK_SECRET, None),
    }


def render_settings(request, project, status=200, **extra):
    """The settings page with the saved settings in its form (for the sections' own views)."""
    return _page(request, project, ProjectSettingsForm(instance=project), status=status, **extra)


@login_required
def project_settings(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    if request.method == "POST":
        form = ProjectSettingsForm(request.POST, instance=project)
        if form.is_valid():
            projects.save_settings(project, {f: form.cleaned_data[f] for f in form.Meta.fields}, by=request.user)
            messages.success(request, "Settings saved.")
            return redirect("project-settings", slug=slug)
        return _page(request, project, form, status=400)
    return _page(request, project, ProjectSettingsForm(instance=project))


@login_required
@require_POST
def edit_checks(request, slug):
    """Add one automatic check from fields, or remove one by its place in the list (audited as a settings change)."""
    project = project_for(request.user, slug, Role.ENGINEER)
    checks = list(project.checks or [])
    if request.POST.get("op") == "remove":
        index = parse_whole(request.POST.get("index") or "")
        if index is None or not 0 <= index < len(checks):
            messages.error(request, "index: that check is no longer in the list; nothing was removed.")
            return redirect("project-settings", slug=slug)
        removed = checks.pop(index)
        projects.save_settings(project, {"checks": checks}, by=request.user)
        messages.success(request, f"Check “{removed.get('name', removed['type'])}” removed.")
        return redirect("project-settings", slug=slug)
    form = AddCheckForm(request.POST, existing=checks)
    if not form.is_valid():
        return _page(request, project, ProjectSettingsForm(instance=project), status=400, check_form=form)
    projects.save_settings(project, {"checks": form.cleaned_data["checks"]}, by=request.user)
    messages.success(request, "Check added; new teacher answers are checked with it.")
    return redirect(reverse("project-settings", args=[slug]) + "#checks")


CURRICULUM_OPS = {
    "add": lambda project, kind, level_id, name: review.add_level(project, kind, name),
    "rename": lambda project, kind, level_id, name: review.rename_level(project, kind, level_id, name),
    "up": lambda project, kind, level_id, name: review.move_level(project, kind, level_id, -1),
    "down": lambda project, kind, level_id, name: review.move_level(project, kind, level_id, +1),
    "remove": lambda project, kind, level_id, name: review.remove_level(project, kind, level_id),
}


@login_required
@require_POST
def edit_curriculum(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    op, kind = request.POST.get("op", ""), request.POST.get("kind", "")
    level_id = parse_whole(request.POST.get("id") or "0")
    try:
        if op not in CURRICULUM_OPS:
            raise ReviewError(f"expected one of {', '.join(CURRICULUM_OPS)}.", "op")
        if level_id is None:
            raise ReviewError("not a stage or tier of this project.", "id")
        before = _level_state(project, kind, level_id) if op != "add" else None
        level = CURRICULUM_OPS[op](project, kind, level_id, request.POST.get("name", ""))
    except ReviewError as exc:
        return _page(
            request,
            project,
            ProjectSettingsForm(instance=project),
            status=400,
            curriculum_error=str(exc),
            typed=request.POST,
        )
    after = None if op == "remove" else _level_state(project, kind, level.id)
    if before != after:
        projects.record_curriculum_change(project, op, kind, before, after, by=request.user)
    messages.success(request, f"{kind.capitalize()}s updated.")
    return redirect("project-settings", slug=slug)


def _level_state(project, kind, level_id):
    """A stage's or tier's name and place, for the audit log."""
    found = review.level(project, kind, level_id)
    return {"name": found.name, "order": found.order}


# ------------------------------------------------------------------ webhooks
# The secret is shown once, on the page right after the endpoint is created.
@login_required
@require_POST
def webhook_add(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    form = WebhookForm(request.POST, events=webhooks.EVENTS)
    if form.is_valid():
        try:
            endpoint = webhooks.subscribe(
                project, form.cleaned_data["url"], form.cleaned_data["events"], by=request.user
            )
        except Invalid as exc:
            add_errors(form, exc)
        else:
            request.session[NEW_WEBHOOK_SECRET] = {"id": endpoint.pk, "secret": endpoint.secret}
            return redirect(reverse("project-settings", args=[slug]) + "#webhooks")
    return render_settings(request, project, status=400, webhook_form=form)


@login_required
@require_POST
def webhook_remove(request, slug, pk):
    project = project_for(request.user, slug, Role.ENGINEER)
    endpoint = get_object_or_404(WebhookEndpoint, project=project, pk=pk)
    webhooks.unsubscribe(endpoint)
    messages.success(request, f"Webhook {endpoint.url} removed: it gets nothing more, retries included.")
    return redirect("project-settings", slug=slug)


@login_required
@require_POST
def webhook_test(request, slug, pk):
    project = project_for(request.user, slug, Role.ENGINEER)
    endpoint = get_object_or_404(WebhookEndpoint, project=project, pk=pk)
    webhooks.send_test(endpoint)
    messages.success(request, f"Test event queued for {endpoint.url}; the delivery log below shows the answer.")
    return redirect("project-settings", slug=slug)

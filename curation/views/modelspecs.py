"""The Model specs page: engineers register and edit teacher and student specs, and check them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from curation.access import project_for
from curation.fragments import fragment_of
from curation.models import ModelSpec, Role
from curation.services.modelspecs import describe_defaults, probe_spec
from curation.teacher_forms import ModelSpecForm


def _spec(project, pk) -> ModelSpec:
    return get_object_or_404(ModelSpec, project=project, pk=pk)


@login_required
def spec_list(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    if request.method == "POST":
        form = ModelSpecForm(request.POST, project=project)
        if form.is_valid():
            spec = form.save()
            messages.success(request, f"Model spec {spec.name!r} registered. Check it before launching a job.")
            return redirect("modelspec-list", slug=project.slug)
    else:
        form = ModelSpecForm(project=project, initial={"defaults": {}, "options": {}})
    specs = list(ModelSpec.objects.filter(project=project).annotate(n_jobs=Count("jobs")).order_by("role", "name"))
    for spec in specs:
        spec.defaults_list = describe_defaults(spec.defaults)
    return render(
        request,
        "curation/modelspecs.html",
        {"project": project, "form": form, "specs": specs},
        status=400 if form.errors else 200,
    )


@login_required
def spec_edit(request, slug, pk):
    project = project_for(request.user, slug, Role.ENGINEER)
    spec = _spec(project, pk)
    if request.method == "POST":
        form = ModelSpecForm(request.POST, instance=spec, project=project)
        if form.is_valid():
            form.save()
            messages.success(
                request, f"Model spec {spec.name!r} saved. Running jobs keep the settings they started with."
            )
            return redirect("modelspec-list", slug=project.slug)
    else:
        form = ModelSpecForm(instance=spec, project=project)
    return render(
        request,
        "curation/modelspec_edit.html",
        {"project": project, "form": form, "spec": spec},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def spec_check(request, slug, pk):
    """Try to read the model's config and tokenizer, or reach its server, from the web server."""
    project = project_for(request.user, slug, Role.ENGINEER)
    spec = _spec(project, pk)
    report = probe_spec(spec)
    if fragment_of(request) == "check":  # the result replaces the spec's check line; no page of its own
        return render(request, "curation/partials/modelspec_check.html", {"spec": spec, "report": report})
    (messages.success if report.ok else messages.error)(request, f"{spec.name}: {report.summary}")
    return redirect("modelspec-edit", slug=project.slug, pk=spec.pk)

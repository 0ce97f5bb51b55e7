"""Launching teacher generation and scoring from the dashboard (engineers), and retrying."""

from dataclasses import replace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from curation.access import project_for
from curation.forms import add_errors
from curation.models import ModelSpec, Role
from curation.pages.jobs import job_for
from curation.services.errors import Invalid
from curation.services.inputs import by_id
from curation.services.modelspecs import resolve_generation_params
from curation.services.teacher import (
    SCOPES,
    count_matching,
    count_targets,
    launch_generation,
    launch_scoring,
    parse_filter,
    retry,
)
from curation.teacher_forms import FILTER_FIELDS, GenerateForm, ScoreForm


def _teachers(project):
    return ModelSpec.objects.filter(project=project, role=ModelSpec.Role.TEACHER).order_by("name")


def _chosen_spec(project, value):
    specs = _teachers(project)
    return by_id(specs, value) if value not in (None, "") else specs.first()


def prompt_preview(project, data) -> dict:
    """How many prompts (and samples) the filter in ``data`` would give; errors by field."""
    spec = _chosen_spec(project, data.get("model_spec"))
    raw = {name: data.get(name) for name in FILTER_FIELDS if data.get(name) not in (None, "")}
    try:
        pf = parse_filter(raw, project)
    except Invalid as exc:
        return {"errors": exc.errors}
    count = count_matching(project, pf, spec.pk if spec else None)
    n = 1
    if not project.is_classification:
        try:
            n = resolve_generation_params(spec, {"n": data.get("n")} if data.get("n") else {})["n"]
        except Invalid:
            n = None
    scopes = {scope: count_matching(project, replace(pf, scope=scope), spec.pk if spec else None) for scope in SCOPES}
    return {"count": count, "n": n, "samples": count * n if n else None, "filter": pf, "scopes": scopes}


@login_required
def generate_page(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    spec = None
    if request.method == "POST":
        form = GenerateForm(request.POST, project=project)
        if form.is_valid() and "preview" not in request.POST:
            try:
                job = launch_generation(
                    project,
                    by=request.user,
                    model_spec=form.cleaned_data["model_spec"],
                    params=form.generation_params(),
                    prompt_filter=form.prompt_filter(),
                )
            except Invalid as exc:
                add_errors(form, exc)
            else:
                messages.success(
                    request, f"{job} launched for {job.params['frozen']['count']:,} prompts; this page follows it."
                )
                return redirect("job-detail", slug=project.slug, pk=job.pk)
        data = request.POST
    else:
        spec = _chosen_spec(project, request.GET.get("model_spec"))
        initial = {**GenerateForm.initial_for(spec), "model_spec": spec, "scope": "missing"}
        initial.update({k: request.GET[k] for k in FILTER_FIELDS if request.GET.get(k)})
        form = GenerateForm(initial=initial, project=project)
        data = {**initial, "model_spec": spec.pk if spec else None}
    preview = prompt_preview(project, data)
    form.count_scopes(preview.get("scopes", {}))
    context = {"project": project, "form": form, "has_specs": _teachers(project).exists(), "preview": preview}
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "curation/generate.html", context, status=status)


@login_required
def prompt_count(request, slug):
    """The live "N prompts match" line of the launch page (htmx)."""
    project = project_for(request.user, slug, Role.ENGINEER)
    return render(
        request,
        "curation/partials/gen_prompt_count.html",
        {"project": project, "preview": prompt_preview(project, request.GET)},
    )


@login_required
def score_page(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    if request.method == "POST":
        form = ScoreForm(request.POST, project=project)
        if form.is_valid():
            try:
                job = launch_scoring(
                    project,
                    by=request.user,
                    model_spec=form.cleaned_data["model_spec"],
                    params=form.score_params(),
                )
            except Invalid as exc:
                add_errors(form, exc)
            else:
                messages.success(request, f"{job} launched; this page follows it.")
                return redirect("job-detail", slug=project.slug, pk=job.pk)
        spec = _chosen_spec(project, request.POST.get("model_spec"))
    else:
        spec = _chosen_spec(project, request.GET.get("model_spec"))
        form = ScoreForm(initial={"model_spec": spec}, project=project)
    counts = count_targets(project, spec.pk if spec else None, ["edits", "gold"])
    context = {
        "project": project,
        "form": form,
        "has_specs": _teachers(project).exists(),
        "counts": counts,
        "spec": spec,
    }
    return render(
        request, "curation/score.html", context, status=400 if request.method == "POST" and form.errors else 200
    )


@login_required
@require_POST
def job_retry(request, slug, pk):
    project = project_for(request.user, slug, Role.ENGINEER)
    job = job_for(project, pk)
    try:
        retry(job)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{job} launched again; it does only what is missing.")
    return redirect("job-detail", slug=project.slug, pk=job.pk)

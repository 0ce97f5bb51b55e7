"""Experiment pages: the list, the launch form, the result page (polled while runs go on), cancel."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from curation.access import can, project_for
from curation.forms import add_errors
from curation.forms_experiments import ExperimentForm
from curation.fragments import fragment_of, render_page
from curation.models import Experiment, Role
from curation.pages.experiments import experiment_context
from curation.services import gold
from curation.services.errors import Invalid
from curation.services.experiments import cancel_experiment, launch_experiment, refresh


def experiment_for(project, pk) -> Experiment:
    return get_object_or_404(
        Experiment.objects.select_related("created_by", "job", "raw_snapshot"), project=project, pk=pk
    )


@login_required
def experiment_list(request, slug):
    project = project_for(request.user, slug)
    experiments = list(project.experiments.select_related("created_by")[:100])
    boards = {e.pk: refresh(e) for e in experiments if e.is_active}
    rows = [(e, boards.get(e.pk)) for e in experiments]
    return render(
        request,
        "curation/experiment_list.html",
        {"project": project, "rows": rows, "is_engineer": can(project, Role.ENGINEER)},
    )


@login_required
def experiment_launch(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    form = ExperimentForm(request.POST or None, project=project)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                experiment = launch_experiment(project, form.as_request(), by=request.user)
            except Invalid as exc:
                add_errors(form, exc)
            else:
                messages.success(request, f"Experiment “{experiment.name}” is preparing its runs.")
                return redirect("experiment-detail", slug=project.slug, pk=experiment.pk)
    context = {
        "project": project,
        "form": form,
        "has_specs": form.fields["student_spec"].queryset.exists() and form.fields["teacher_spec"].queryset.exists(),
        "has_snapshots": form.fields["snapshots"].queryset.exists(),
        "has_gold": gold.test_items(project).exists(),
    }
    return render(request, "curation/experiment_launch.html", context, status=status)


@login_required
def experiment_detail(request, slug, pk):
    """The result page; while runs go on, htmx polls its progress fragment (the page reloads when done)."""
    project = project_for(request.user, slug)
    experiment = experiment_for(project, pk)
    was_active = experiment.is_active
    board = refresh(experiment)
    context = {"project": project, "is_engineer": can(project, Role.ENGINEER), **experiment_context(experiment, board)}
    fragments = {"progress": "curation/partials/experiment_progress.html"}
    response = render_page(request, "curation/experiment_detail.html", context, fragments=fragments)
    if fragment_of(request) == "progress":
        shown = request.GET.get("results")
        if (was_active and not experiment.is_active) or shown != str(len(experiment.results.get("reports", []))):
            response["HX-Refresh"] = "true"  # new results or the end: show the whole page again
    return response


@login_required
@require_POST
def experiment_cancel(request, slug, pk):
    project = project_for(request.user, slug, Role.ENGINEER)
    experiment = experiment_for(project, pk)
    if not experiment.is_active:
        messages.error(request, f"“{experiment.name}” has already ended; there is nothing to cancel.")
    else:
        cancel_experiment(experiment, by=request.user)
        messages.success(request, f"“{experiment.name}” was cancelled: queued runs dropped, running ones stop soon.")
    return redirect("experiment-detail", slug=project.slug, pk=experiment.pk)

"""Distillation pages: the launch form, the gate decision, the model registry, reports."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from curation.access import can, project_for
from curation.forms import add_errors
from curation.forms_training import DistillLaunchForm, StageFormSet, initial_stages, launch_request
from curation.models import EvalReport, Job, ModelVersion, Role
from curation.pages.generation import generation_context, judge_context, pairwise_context
from curation.pages.jobs import job_for
from curation.pages.routing import routing_context
from curation.pages.training import compare_context, report_context
from curation.services import training
from curation.services.errors import Invalid
from curation.services.inputs import parse_id, parse_whole
from curation.services.training import launch_distillation, launch_evaluation, resume_distillation


def version_for(project, pk) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.select_related("job", "student_spec", "teacher_spec", "parent"), project=project, pk=pk
    )


# ------------------------------------------------------------------- launch
@login_required
def distill_launch(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    kwargs = {"form_kwargs": {"project": project}, "prefix": "stages"}
    if request.method != "POST":
        form = DistillLaunchForm(project=project)
        formset = StageFormSet(initial=initial_stages(project), **kwargs)
        return _launch_page(request, project, form, formset)
    data = request.POST.copy()
    total = parse_whole(data.get("stages-TOTAL_FORMS")) or 0
    if "add_stage" in data or "remove_stage" in data:
        # The page without JavaScript: add or remove a row and show the form again.
        if "add_stage" in data:
            data["stages-TOTAL_FORMS"] = str(total + 1)
        elif (row := parse_whole(data["remove_stage"])) is not None:
            data[f"stages-{row}-DELETE"] = "on"
        form = DistillLaunchForm(data, project=project)
        formset = StageFormSet(data, **kwargs)
        return _launch_page(request, project, form, formset, quiet=True)
    form = DistillLaunchForm(data, project=project)
    formset = StageFormSet(data, **kwargs)
    if form.is_valid() and formset.is_valid():
        request_data, rows = launch_request(form, formset)
        try:
            job = launch_distillation(project, request_data, by=request.user)
        except Invalid as exc:
            add_errors(form, exc, rows=rows)
        else:
            messages.success(request, f"{job} launched; this page follows it.")
            return redirect("job-detail", slug=project.slug, pk=job.pk)
    return _launch_page(request, project, form, formset, status=400)


def _launch_page(request, project, form, formset, *, status=200, quiet=False):
    context = {
        "project": project,
        "form": form,
        "formset": formset,
        "quiet": quiet,
        "has_specs": form.fields["student_spec"].queryset.exists() and form.fields["teacher_spec"].queryset.exists(),
        "has_snapshots": formset.empty_form.fields["snapshot"].queryset.exists(),
    }
    return render(request, "curation/distill_launch.html", context, status=status)


@login_required
@require_POST
def job_resume(request, slug, pk):
    project = project_for(request.user, slug, Role.ENGINEER)
    job = job_for(project, pk)
    try:
        job = resume_distillation(
            job,
            by=request.user,
            threshold=request.POST.get("threshold") or None,
            extra_epochs=request.POST.get("extra_epochs") or 0,
            force=request.POST.get("force") in ("on", "1", "true"),
            comment=request.POST.get("comment", ""),
        )
    except Invalid as exc:
        messages.error(request, f"Not resumed: {exc}")
    else:
        messages.success(request, job.message)
    return redirect("job-detail", slug=project.slug, pk=job.pk)


@login_required
def job_run_config(request, slug, pk):
    """The job's run config (.tar.gz) for ``python -m workers.distill run`` (engineers)."""
    project = project_for(request.user, slug, Role.ENGINEER)
    job = job_for(project, pk)
    if job.kind != Job.Kind.DISTILL:
        raise Http404("not a distillation job")
    try:
        archive = training.run_config_archive(job)
    except Invalid as exc:
        messages.error(request, str(exc))
        return redirect("job-detail", slug=project.slug, pk=job.pk)
    name = f"{project.slug}-job{job.pk}-run-config.tar.gz"
    return FileResponse(open(archive, "rb"), as_attachment=True, filename=name, content_type="application/gzip")


# ----------------------------------------------------------------- registry
@login_required
def model_list(request, slug):
    project = project_for(request.user, slug)
    versions = list(
        ModelVersion.objects.filter(project=project)
        .select_related("job", "student_spec", "parent")
        .prefetch_related("snapshots")
        .order_by("-job_id", "is_final", "stage_index", "-id")[:300]
    )
    reports = {}
    for report in EvalReport.objects.filter(model_version__in=versions).order_by("-created_at", "-id"):
        reports.setdefault(report.model_version_id, report)
    groups, by_job = [], {}
    for v in versions:
        if v.job_id not in by_job:
            by_job[v.job_id] = {"job": v.job, "versions": []}
            groups.append(by_job[v.job_id])
        by_job[v.job_id]["versions"].append((v, reports.get(v.pk)))
    return render(
        request,
        "curation/model_list.html",
        {
            "project": project,
            "groups": groups,
            "is_engineer": can(project, Role.ENGINEER),
            "all_versions": versions,
        },
    )


@login_required
def model_detail(request, slug, pk):
    project = project_for(request.user, slug)
    version = version_for(project, pk)
    reports = list(version.eval_reports.select_related("teacher_spec", "job"))
    evaluations = Job.objects.filter(project=project, kind=Job.Kind.EVALUATE, params__model_version=version.pk)[:20]
    try:
        training.model_dir(version)
        missing = None
    except training.ArtifactMissing as exc:
        missing = str(exc)
    others = ModelVersion.objects.filter(project=project).exclude(pk=version.pk).order_by("-id")[:100]
    return render(
        request,
        "curation/model_detail.html",
        {
            "project": project,
            "version": version,
            "lineage": training.lineage(version),
            "reports": reports,
            "evaluations": evaluations,
            "missing": missing,
            "others": others,
            "is_engineer": can(project, Role.ENGINEER),
            "teachers": project.model_specs.filter(role="teacher", backend="transformers"),
            "children": version.children.all(),
        },
    )


@login_required
def model_download(request, slug, pk):
    project = project_for(request.user, slug)
    return archive_response(version_for(project, pk))


def archive_response(version: ModelVersion) -> FileResponse:
    """The version's .tar.gz, streamed (packed on first download); 404 when its files are gone."""
    try:
        archive = training.archive_for(version)
    except training.ArtifactMissing as exc:
        raise Http404(str(exc)) from None
    name = f"{version.project.slug}-job{version.job_id or 0}-{version.stage or 'final'}.tar.gz".replace(" ", "_")
    return FileResponse(open(archive, "rb"), as_attachment=True, filename=name, content_type="application/gzip")


@login_required
@require_POST
def model_evaluate(request, slug, pk):
    project = project_for(request.user, slug, Role.ENGINEER)
    version = version_for(project, pk)
    data = {"model_version": version.pk, "teacher_spec": request.POST.get("teacher_spec") or version.teacher_spec_id}
    try:
        job = launch_evaluation(project, data, by=request.user)
    except Invalid as exc:
        messages.error(request, f"Not launched: {exc}")
        return redirect("model-detail", slug=project.slug, pk=version.pk)
    messages.success(request, f"{job} launched; this page follows it.")
    return redirect("job-detail", slug=project.slug, pk=job.pk)


# ------------------------------------------------------------------ reports
@login_required
def report_detail(request, slug, pk):
    project = project_for(request.user, slug)
    report = get_object_or_404(
        EvalReport.objects.select_related(
            "model_version__job", "model_version__student_spec", "teacher_spec", "job", "project"
        ),
        project=project,
        pk=pk,
    )
    context = {
        "project": project,
        **report_context(report),
        **generation_context(report),
        **judge_context(report),
        **pairwise_context(report),
        **routing_context(report, request.GET.get("target")),
    }
    return render(request, "curation/report_detail.html", context)


@login_required
def model_compare(request, slug):
    project = project_for(request.user, slug)
    versions = ModelVersion.objects.filter(project=project).order_by("-id")
    a_id, b_id = request.GET.get("a"), request.GET.get("b")
    context = {
        "project": project,
        "versions": versions[:300],
        "a_id": a_id,
        "b_id": b_id,
        "is_engineer": can(project, Role.ENGINEER),
    }
    if a_id and b_id:
        if parse_id(a_id) is None or parse_id(b_id) is None:
            raise Http404("No such model version.")
        context.update(compare_context(version_for(project, a_id), version_for(project, b_id)))
    return render(request, "curation/model_compare.html", context)

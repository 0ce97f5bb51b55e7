"""Snapshot pages: the list with the create form (engineers), and one snapshot."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone

from curation.access import can, project_for
from curation.forms import SnapshotForm, add_errors
from curation.fragments import fragment_of, render_page
from curation.models import Role, Snapshot
from curation.services import datasets, hygiene
from curation.services.errors import Invalid


def excluded_list(snapshot):
    return [(reason.replace("_", " "), n) for reason, n in (snapshot.excluded or {}).items()]


def default_snapshot_name(what: str | None) -> str:
    return f"{what or 'snapshot'} {timezone.localdate():%Y-%m-%d}"


@login_required
def snapshot_list(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER if request.method == "POST" else Role.READER)
    stages = list(project.stages.values_list("name", flat=True))
    first_stage = next(iter(project.stages.filter(is_pool=False).values_list("name", flat=True)), None)
    asked = request.GET.get("stage")  # the dashboard's "build one" link names the stage
    initial = {
        "filter": request.GET.get("filter", ""),
        "stage": asked if asked in stages else first_stage,
        "redact_pii": hygiene.settings_of(project)["redact_snapshots"],
    }
    if initial["filter"]:
        initial["source"] = "filter"
    initial["name"] = default_snapshot_name(initial["stage"] if not initial["filter"] else "filtered")
    form = SnapshotForm(request.POST or None, stages=stages, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        from_filter = data["source"] == "filter"
        try:
            snapshot = datasets.start_snapshot(
                project,
                request.user,
                name=data["name"],
                stage=None if from_filter else data["stage"],
                filter=data["filter"] if from_filter else None,
                seed=data["seed"],
                validation_fraction=data["validation_fraction"],
                include_soft_targets=data["include_soft_targets"],
                system_prompt=data["system_prompt"],
                content=data["content"] or "curated",
                one_per_cluster=data["one_per_cluster"],
                redact_pii=data["redact_pii"],
            )
        except Invalid as exc:
            add_errors(form, exc)
        else:
            return redirect("snapshot-detail", slug=project.slug, pk=snapshot.pk)
    rows = list(project.snapshots.select_related("created_by", "stage", "job")[:200])
    for row in rows:
        row.excluded_list = excluded_list(row)
    context = {
        "project": project,
        "form": form,
        "snapshots": rows,
        "is_engineer": can(project, Role.ENGINEER),
        "any_building": any(s.status == Snapshot.Status.BUILDING for s in rows),
        # The dashboard's "Build one" link names a stage or a filter: open the form at once.
        "open_form": bool(form.errors or asked or initial["filter"]),
    }
    fragments = {"table": "curation/partials/snapshot_table.html"}
    status = 400 if form.errors else 200
    return render_page(request, "curation/snapshot_list.html", context, fragments=fragments, status=status)


@login_required
def snapshot_detail(request, slug, pk):
    project = project_for(request.user, slug)
    snapshot = get_object_or_404(project.snapshots.select_related("created_by", "stage", "job"), pk=pk)
    files = []
    if snapshot.status == Snapshot.Status.READY:
        api = reverse("api-snapshots-download", kwargs={"slug": project.slug, "pk": snapshot.pk})
        for name, info in sorted(snapshot.manifest.get("files", {}).items()):
            query = f"format={info['format']}&split={info['split']}" + ("&compression=gzip" if info["gzip"] else "")
            files.append({"name": name, **info, "url": f"{api}?{query}"})
    context = {
        "project": project,
        "snapshot": snapshot,
        "files": files,
        "excluded": excluded_list(snapshot),
        "manifest": snapshot.manifest,
        "api_url": request.build_absolute_uri(
            reverse("api-snapshots-detail", kwargs={"slug": project.slug, "pk": snapshot.pk})
        ),
        "download_url": request.build_absolute_uri(
            reverse("api-snapshots-download", kwargs={"slug": project.slug, "pk": snapshot.pk})
        ),
        "content_types": datasets.CONTENT_TYPES,
        "splits": datasets.SPLITS,
    }
    response = render_page(
        request,
        "curation/snapshot_detail.html",
        context,
        fragments={"status": "curation/partials/snapshot_status.html"},
    )
    if fragment_of(request) == "status" and snapshot.status != Snapshot.Status.BUILDING:
        response["HX-Refresh"] = "true"  # built while the page watched: reload it whole (files, counts)
    return response

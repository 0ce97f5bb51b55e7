from collections import defaultdict

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import render

from curation.access import can, project_for, visible_projects
from curation.models import Example, ExampleStatus, Role


@login_required
def project_list(request):
    projects = visible_projects(request.user).annotate(
        n_prompts=Count("prompts", distinct=True),
    )
    roles = dict(request.user.memberships.values_list("project_id", "role"))
    rows = [(p, "engineer (admin)" if request.user.is_superuser and p.id not in roles else roles.get(p.id)) for p in projects]
    return render(request, "curation/project_list.html", {"rows": rows})


def status_matrix(project):
    """Example counts by stage x tier x status, with totals, from one aggregate query."""
    stages = list(project.stages.all())
    tiers = list(project.tiers.all())
    counts = defaultdict(int)
    totals = defaultdict(int)
    query = Example.objects.filter(project=project).values("stage_id", "tier_id", "status").annotate(n=Count("id"))
    for row in query:
        counts[(row["stage_id"], row["tier_id"], row["status"])] += row["n"]
        totals[row["status"]] += row["n"]
    statuses = [s for s, _ in ExampleStatus.choices]
    tier_columns = tiers + [None]  # None = not yet tiered
    table = []
    for stage in stages:
        cells = []
        for tier in tier_columns:
            tier_id = tier.id if tier else None
            cells.append({s: counts[(stage.id, tier_id, s)] for s in statuses})
        stage_total = {s: sum(c[s] for c in cells) for s in statuses}
        table.append({"stage": stage, "cells": cells, "total": stage_total, "sum": sum(stage_total.values())})
    return {
        "tiers": tier_columns,
        "statuses": statuses,
        "rows": table,
        "totals": dict(totals),
        "examples": sum(totals.values()),
    }


@login_required
def dashboard(request, slug):
    project = project_for(request.user, slug)
    context = {
        "project": project,
        "matrix": status_matrix(project),
        "n_prompts": project.prompts.count(),
        "n_gold": project.gold_items.count(),
        "jobs": project.jobs.select_related("created_by")[:10],
        "is_engineer": can(project, Role.ENGINEER),
        "is_reviewer": can(project, Role.REVIEWER),
    }
    return render(request, "curation/dashboard.html", context)

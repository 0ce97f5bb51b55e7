"""The curriculum board: the pool and each stage as a column, and moves by filter between them."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from curation.access import can, project_for
from curation.models import ExampleStatus, Role
from curation.services.review import stage_progress, status_matrix


@login_required
def board(request, slug):
    project = project_for(request.user, slug)
    matrix = status_matrix(project)
    progress = {row["stage"].id: row for row in stage_progress(project, matrix)}
    columns = []
    for row in matrix["rows"]:
        stage = row["stage"]
        tiers = [
            {"tier": tier, "counts": cell, "sum": sum(cell.values())}
            for tier, cell in zip(matrix["tiers"], row["cells"], strict=True)
        ]
        columns.append(
            {
                "stage": stage,
                "total": row["total"],
                "sum": row["sum"],
                "tiers": tiers,
                "progress": progress[stage.id],
            }
        )
    context = {
        "project": project,
        "columns": columns,
        "statuses": ExampleStatus.choices,
        "tiers": matrix["tiers"],
        "stages": [row["stage"] for row in matrix["rows"]],
        "can_act": can(project, Role.REVIEWER),
        "is_engineer": can(project, Role.ENGINEER),
    }
    return render(request, "curation/board.html", context)

"""Reviewer statistics (engineers): speed, agreement, labels and edits per reviewer, with a chart."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from curation import charts
from curation.access import project_for
from curation.models import Role
from curation.services import review
from curation.services.inputs import parse_whole

SERIES = ["s-r0", "s-r1", "s-r2", "s-r3", "s-r4", "s-r5"]
CHOICES = (7, 30, 90, 365)


@login_required
def reviewer_stats(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    days = parse_whole(request.GET.get("days") or "30", 1, 365)
    error = None if days is not None else "days: a whole number from 1 to 365."
    stats = review.reviewer_stats(project, days or 30)
    series = [
        {
            "name": r["username"],
            "css": SERIES[i % len(SERIES)],
            "points": [(-ago, r["per_day"].get(ago, 0)) for ago in range(stats["days"] - 1, -1, -1)],
        }
        for i, r in enumerate(stats["reviewers"])
    ]
    chart = charts.line_chart(series, x_label="days before today", y_label="decisions per day")
    context = {"project": project, "stats": stats, "chart": chart, "choices": CHOICES, "error": error}
    return render(request, "curation/reviewer_stats.html", context, status=400 if error else 200)

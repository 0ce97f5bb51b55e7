"""Review statistics for the dashboard: throughput per reviewer, agreement, stage progress."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from curation.models import Example, ExampleStatus, Verdict
from curation.services import hygiene
from curation.services.gold import training_eligible

DECISIONS = (Verdict.Action.APPROVE, Verdict.Action.REJECT)


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


def reviewed_per_day(project, days: int = 14, today=None) -> dict:
    """Examples each reviewer approved or rejected, per day, over the last ``days`` days.

    Bulk actions are left out: one click over 100,000 rows is not 100,000 reviews.
    """
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    rows = (
        Verdict.objects.filter(
            project=project,
            action__in=DECISIONS,
            bulk_id__isnull=True,
            user__isnull=False,
            created_at__date__gte=first,
        )
        .annotate(day=TruncDate("created_at"))
        .values("day", "user__username")
        .annotate(n=Count("example", distinct=True))
    )
    dates = [first + timedelta(days=i) for i in range(days)]
    per_user: dict[str, dict] = {}
    for row in rows:
        per_user.setdefault(row["user__username"], {})[row["day"]] = row["n"]
    peak = max((n for counts in per_user.values() for n in counts.values()), default=0)
    reviewers = [
        {
            "username": name,
            "total": sum(counts.values()),
            "days": [
                {"date": d, "n": counts.get(d, 0), "height": round(100 * counts.get(d, 0) / peak) if peak else 0}
                for d in dates
            ],
        }
        for name, counts in sorted(per_user.items())
    ]
    return {"dates": dates, "reviewers": reviewers, "peak": peak}


@dataclass
class Agreement:
    examples: int  # doubly reviewed examples
    table: dict  # {(first, second): count}
    observed: float | None
    expected: float | None
    kappa: float | None

    def rows(self) -> list[tuple[str, list[int]]]:
        """The table as rows (first reviewer's decision) x columns (second's), approve then reject."""
        return [(a, [self.table.get((a, b), 0) for b in DECISIONS]) for a in DECISIONS]


# Each reviewer's *first* decision on an example counts (a later one may just settle a
# conflict they saw); the first two reviewers of an example are its two raters.
_PAIRS_SQL = """
WITH firsts AS (
    SELECT example_id, action, id,
           ROW_NUMBER() OVER (PARTITION BY example_id, user_id ORDER BY id) AS nth
    FROM {verdict}
    WHERE project_id = %s AND action IN (%s, %s) AND bulk_id IS NULL AND user_id IS NOT NULL
), raters AS (
    SELECT example_id, action, ROW_NUMBER() OVER (PARTITION BY example_id ORDER BY id) AS rater
    FROM firsts WHERE nth = 1
)
SELECT a.action, b.action, COUNT(*)
FROM raters a JOIN raters b ON a.example_id = b.example_id AND a.rater = 1 AND b.rater = 2
GROUP BY a.action, b.action
"""


def agreement(project) -> Agreement:
    """Cohen's kappa between first and second reviewer on examples two different reviewers decided."""
    with connection.cursor() as cursor:
        cursor.execute(_PAIRS_SQL.format(verdict=Verdict._meta.db_table), [project.id, *DECISIONS])
        table = {(a, b): n for a, b, n in cursor.fetchall()}
    return cohens_kappa(table)


def cohens_kappa(table: dict) -> Agreement:
    """Kappa from a {(rater1, rater2): count} table; None where it is undefined."""
    n = sum(table.values())
    if not n:
        return Agreement(0, table, None, None, None)
    labels = sorted({a for a, _ in table} | {b for _, b in table})
    observed = sum(table.get((x, x), 0) for x in labels) / n
    first = {x: sum(table.get((x, y), 0) for y in labels) / n for x in labels}
    second = {y: sum(table.get((x, y), 0) for x in labels) / n for y in labels}
    expected = sum(first[x] * second[x] for x in labels)
    # Both raters always gave one and the same answer: chance explains everything, kappa is undefined.
    kappa = None if expected >= 1 else (observed - expected) / (1 - expected)
    return Agreement(n, table, observed, expected, kappa)


def stage_progress(project, matrix: dict) -> list[dict]:
    """Per stage: counts by status and the approved examples a snapshot of it would hold."""
    hygiene.ensure_current(project)  # the snapshot build reads the same near-duplicate flags
    eligible = dict(
        training_eligible(Example.objects.filter(project=project, status=ExampleStatus.APPROVED))
        .values_list("stage_id")
        .annotate(n=Count("id"))
        .values_list("stage_id", "n")
    )
    rows = []
    for row in matrix["rows"]:
        total = row["sum"]
        counts = row["total"]
        rows.append(
            {
                "stage": row["stage"],
                "total": total,
                "approved": counts.get(ExampleStatus.APPROVED, 0),
                "rejected": counts.get(ExampleStatus.REJECTED, 0),
                "pending": counts.get(ExampleStatus.PENDING, 0),
                "in_snapshot": eligible.get(row["stage"].id, 0),
                "gold_guarded": counts.get(ExampleStatus.APPROVED, 0) - eligible.get(row["stage"].id, 0),
                "percent": {s: (100 * counts.get(s, 0) / total if total else 0) for s in ExampleStatus.values},
            }
        )
    return rows

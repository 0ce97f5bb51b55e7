"""The training curves of a distillation job, per stage: loss (total, KD, CE) and the
validation metric the stage's gate reads, on the stage's step axis (continuous across
patience epochs, resumes at a gate and restarts after a killed worker).

Plain dicts of SVG geometry from ``curation.charts`` for the job panel and the report page.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber

from curation import charts
from curation.models import Job, MetricPoint

LOSS_SERIES = (("loss", "total loss", "s-total"), ("kd_loss", "KD", "s-kd"), ("ce_loss", "CE", "s-ce"))
CURVE_POINTS = 300


def loss_charts(job: Job, *, width=420, height=200) -> list[dict]:
    """One chart per stage (loss, KD and CE against the stage's steps), on a shared
    loss scale so stages compare at a glance; dashed lines mark patience and extra epochs."""
    if job is None:
        return []
    names = [s["name"] for s in job.params.get("stages", [])]
    points = defaultdict(list)
    for stage, name, step, value in _curve_rows(job):
        series = points[(stage, name)]
        if series and series[-1][0] == step:
            series[-1] = (step, value)  # a point trained again after a restart replaces the old one
        else:
            series.append((step, value))
    values = [v for pts in points.values() for _, v in pts]
    y_range = (min(values), max(values)) if values else None
    # KD loss (about 1e-5 when the student matches) and CE (about 1) on one linear axis
    # leave the KD curve flat on zero: a log scale when the curves are far apart.
    positive = [v for v in values if v > 0]
    log = bool(positive) and max(positive) / min(positive) > 100
    if log:
        y_range = (min(positive), max(positive))
    curves = (job.metrics or {}).get("curves", {})
    out = []
    for name in names:
        series = [
            {"name": label, "css": css, "points": points.get((name, metric), [])} for metric, label, css in LOSS_SERIES
        ]
        runs = curves.get(name, [])
        markers = [(run["offset"], _short_phase(run["phase"])) for run in runs if run["offset"] > 0]
        end = max((run["offset"] + run["total"] for run in runs), default=None)
        x_range = (0, end) if end else None
        out.append(
            {
                "stage": name,
                "chart": charts.line_chart(
                    series,
                    width=width,
                    height=height,
                    x_label="step",
                    markers=markers,
                    y_range=y_range,
                    x_range=x_range,
                    log=log,
                ),
            }
        )
    return out


# A gate metric -> (its curve's name, what it is, share (0-1) or not); without a gate the
# stage's curve is teacher agreement.
VALIDATION_SERIES = {
    "teacher_agreement": ("val_teacher_agreement", "teacher agreement", True),
    "accuracy": ("val_accuracy", "accuracy", True),
    "val_kd_loss": ("val_kd_loss", "validation KD loss", False),
}


def validation_charts(job: Job, *, width=420, height=200) -> dict[str, dict]:
    """Per stage, its gate metric on the validation split over the stage's steps, with the
    gate's threshold as a flat line (the recipe evaluates a few times per phase and at its end)."""
    if job is None:
        return {}
    stages = job.params.get("stages", [])
    names = [n for n, _, _ in VALIDATION_SERIES.values()]
    points = defaultdict(list)
    for stage, name, step, value in (
        MetricPoint.objects.filter(job=job, name__in=names).order_by("stage", "name", "step", "id")
        .values_list("stage", "name", "step", "value")
    ):  # fmt: skip
        series = points[(stage, name)]
        if series and series[-1][0] == step:
            series[-1] = (step, value)
        else:
            series.append((step, value))
    curves = (job.metrics or {}).get("curves", {})
    out = {}
    for s in stages:
        gate = s.get("gate") or {}
        metric = gate.get("metric") if gate.get("metric") in VALIDATION_SERIES else "teacher_agreement"
        name, label, share = VALIDATION_SERIES[metric]
        pts = points.get((s["name"], name), [])
        if not pts:
            continue
        runs = curves.get(s["name"], [])
        end = max((run["offset"] + run["total"] for run in runs), default=pts[-1][0])
        series = [{"name": label + (" (gate metric)" if gate else ""), "css": "s-val", "points": pts}]
        if gate.get("threshold") is not None:
            series.append(
                {
                    "name": "gate threshold",
                    "css": "s-threshold",
                    "points": [(0, gate["threshold"]), (end, gate["threshold"])],
                }
            )
        values = [v for _, v in pts] + ([gate["threshold"]] if gate.get("threshold") is not None else [])
        out[s["name"]] = charts.line_chart(
            series,
            width=width,
            height=height,
            x_label="step",
            markers=[(run["offset"], _short_phase(run["phase"])) for run in runs if run["offset"] > 0],
            y_range=(0.0, 1.0) if share else (0.0, max(values)),
            x_range=(0, end),
            kind="pct" if share else "num",
        )
    return out


def _curve_rows(job: Job):
    """(stage, name, step, value) of the loss curves, thinned in the database to about
    ``CURVE_POINTS`` per line (a long job has a point a second: the page polls every 2 s)."""
    metrics = [m for m, _, _ in LOSS_SERIES]
    base = MetricPoint.objects.filter(job=job, name__in=metrics)
    counts = dict(base.filter(name="loss").values_list("stage").annotate(n=Count("id")).values_list("stage", "n"))
    for stage in sorted(counts):
        rows = base.filter(stage=stage)
        stride = -(-counts[stage] // CURVE_POINTS)
        if stride > 1:
            rows = (
                rows.annotate(
                    rn=Window(RowNumber(), partition_by=[F("name")], order_by=[F("step").asc(), F("id").asc()]),
                    total=Window(Count("id"), partition_by=[F("name")]),
                )
                .annotate(m=F("rn") % stride)
                .filter(Q(m=0) | Q(rn=1) | Q(rn=F("total")))
            )
        yield from rows.order_by("name", "step", "id").values_list("stage", "name", "step", "value")


def _short_phase(phase: str) -> str:
    kind, _, n = phase.partition("-")
    return {"patience": f"patience {n}", "extra": f"extra {n}"}.get(kind, phase)

"""The report page's routing section: the chart of quality against share served, and the chosen threshold."""

from curation import charts
from curation.services import training
from curation.services.errors import Invalid


def routing_context(report, raw_target=None) -> dict:
    error = ""
    try:
        target = training.parse_target(raw_target)
    except Invalid as exc:
        target, error = training.parse_target(None), str(exc)
    routing = training.routing_of(report, target)
    if routing is None:
        return {"routing": None}
    teacher = routing["curve"][0]["teacher_quality"] if routing["curve"] else None
    points = [
        {
            "x": round(row["share"] * 100, 1),
            "mean": row["quality"],
            "low": row["quality_ci95"][0],
            "high": row["quality_ci95"][1],
            "label": f"threshold {_threshold(row['threshold'])}, {row['share']:.0%} served",
        }
        for row in sorted(routing["curve"], key=lambda r: r["share"])
    ]
    chart = charts.interval_curve(
        points, x_label="share served by the student (%)", x_ticks=[0, 25, 50, 75, 100], reference=teacher
    )
    return {"routing": routing, "routing_chart": chart, "routing_target": target, "routing_error": error}


def _threshold(value) -> str:
    return "above every confidence" if value is None else f"{value:.3g}"

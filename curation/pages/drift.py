"""The dashboard's drift panel: each signal's score over the last windows, as a share of its threshold.

Scores are drawn divided by the threshold they were judged by, so every signal shares one axis
and 1 is the alarm line; a dashed marker shows where the training snapshot changed.
"""

from __future__ import annotations

from curation import charts
from curation.models import DriftReport
from curation.services import drift

WINDOWS = 60
SIGNAL_NAMES = {
    "embedding": "similarity drop",
    "length": "length shift",
    "label": "label shift",
    "confidence": "student confidence drop",
}
SIGNAL_CSS = {"embedding": "s-r0", "length": "s-r1", "label": "s-r2", "confidence": "s-r3"}


def drift_panel(project) -> dict:
    reports = list(DriftReport.objects.filter(project=project).select_related("snapshot").order_by("-id")[:WINDOWS])
    reports.reverse()
    # Windows are numbered from the project's first; the chart shows the last WINDOWS of them.
    offset = DriftReport.objects.filter(project=project, id__lt=reports[0].pk).count() if reports else 0
    series = []
    for signal, name in SIGNAL_NAMES.items():
        points = [
            (offset + i + 1, r.scores[signal] / r.thresholds[signal])
            for i, r in enumerate(reports)
            if signal in r.scores and r.thresholds.get(signal)
        ]
        if points:
            series.append({"name": name, "css": SIGNAL_CSS[signal], "points": points})
    if series:
        xs = [offset + 1, offset + len(reports)]
        series.append({"name": "alarm (score = threshold)", "css": "s-alarm", "points": [(xs[0], 1.0), (xs[1], 1.0)]})
    markers = [
        (offset + i + 1, f"snapshot {r.snapshot.name if r.snapshot else '(removed)'}")
        for i, r in enumerate(reports)
        if i > 0 and r.snapshot_id != reports[i - 1].snapshot_id
    ]
    chart = charts.line_chart(series, x_label="window", y_label="score / threshold", markers=markers)
    flagged = [r for r in reports if r.flagged]
    return {
        "reports": reports,
        "chart": chart,
        "latest": reports[-1] if reports else None,
        "flagged_recent": len(flagged),
        "snapshot": drift.latest_snapshot(project),
        "settings": drift.settings_of(project),
        "signal_names": SIGNAL_NAMES,
    }

"""Server-rendered SVG charts: geometry here, markup in ``templates/curation/charts/``.

Functions return plain dicts of coordinates (already in SVG pixels) and labels; the
templates draw them with Django's auto-escaping, so a tier or stage name can never
inject markup. No JavaScript and no chart library: the pages poll a fragment and get
a fresh SVG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

PAD = {"left": 52, "right": 14, "top": 14, "bottom": 34}
MAX_POINTS = 400  # per line; more are thinned evenly (first and last kept)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi] (1, 2, 2.5, 5 x 10^k steps)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(n - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(lo / step) * step
    ticks, value = [], start
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < hi:
        ticks.append(round(value, 12))
    return ticks


def fmt(value: float, kind: str = "num") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if kind == "pct":
        return f"{value * 100:.0f}%"
    if kind == "ms":
        return f"{value:.0f} ms" if value >= 10 else f"{value:.3g} ms"
    if value == 0:
        return "0"
    if abs(value) >= 10000:
        return f"{value / 1000:.0f}k"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.3g}"
    return f"{value:.2g}"


def thin(points: Sequence, limit: int = MAX_POINTS) -> list:
    if len(points) <= limit:
        return list(points)
    stride = (len(points) - 1) / (limit - 1)
    return [points[round(i * stride)] for i in range(limit)]


def line_chart(
    series: list[dict],
    *,
    width=560,
    height=220,
    x_label="",
    y_label="",
    markers=(),
    y_range=None,
    x_range=None,
    log=False,
    kind="num",
) -> dict:
    """``series``: ``[{"name", "css", "points": [(x, y), ...]}]``; ``markers``: ``[(x, label)]``
    drawn as dashed verticals (phase boundaries). ``y_range``/``x_range`` share scales
    between small multiples. ``log`` draws y on a log10 scale (positive values only), so
    curves a thousand times apart (a KD loss of 1e-5 beside a CE of 1) both stay readable.
    ``kind`` formats the y ticks and last values (``pct`` for shares)."""
    if log:
        series = [
            {**s, "points": [(x, math.log10(y)) for x, y in s["points"] if y is not None and y > 0]} for s in series
        ]
        if y_range is not None:
            y_range = tuple(math.log10(v) if v > 0 else -12.0 for v in y_range)
    left, top = PAD["left"], PAD["top"]
    right, bottom = width - PAD["right"], height - PAD["bottom"]
    finite = [(x, y) for s in series for x, y in s["points"] if y is not None and math.isfinite(y)]
    chart = {
        "width": width,
        "height": height,
        "left": left,
        "right": right,
        "top": top,
        "bottom": bottom,
        "x_label": x_label,
        "y_label": y_label,
        "lines": [],
        "xticks": [],
        "yticks": [],
        "markers": [],
        "empty": not finite,
    }
    if not finite:
        return chart
    xs = [p[0] for p in finite]
    ys = [p[1] for p in finite]
    x0, x1 = x_range or (min(xs), max(xs))
    y_lo, y_hi = y_range or (min(ys), max(ys))
    if log:  # ticks at the powers of ten around the data
        yt = [float(p) for p in range(math.floor(y_lo), max(math.ceil(y_hi), math.floor(y_lo) + 1) + 1)]
    else:
        yt = nice_ticks(min(0.0, y_lo) if y_lo >= 0 else y_lo, y_hi)
    y0, y1 = yt[0], yt[-1]
    if x1 <= x0:
        x1 = x0 + 1

    def sx(x):
        return left + (x - x0) / (x1 - x0) * (right - left)

    def sy(y):
        return bottom - (y - y0) / (y1 - y0) * (bottom - top)

    for s in series:
        pts = [(x, y) for x, y in s["points"] if y is not None and math.isfinite(y)]
        pts = thin(pts)
        if not pts:
            continue
        d = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y) in enumerate(pts))
        last = pts[-1]
        chart["lines"].append(
            {
                "name": s["name"],
                "css": s.get("css", ""),
                "d": d,
                "single": len(pts) == 1,
                "cx": f"{sx(last[0]):.1f}",
                "cy": f"{sy(last[1]):.1f}",
                "last": fmt(10 ** last[1] if log else last[1], kind),
            }
        )
    chart["log"] = log
    chart["yticks"] = [{"y": f"{sy(v):.1f}", "label": f"1e{int(v)}" if log else fmt(v, kind)} for v in yt]
    chart["xticks"] = [{"x": f"{sx(v):.1f}", "label": fmt(v)} for v in nice_ticks(x0, x1, 6) if x0 <= v <= x1]
    chart["markers"] = [{"x": f"{sx(x):.1f}", "label": label} for x, label in markers if x0 < x <= x1]
    return chart


def bar_chart(
    groups: list[dict], series: list[dict], *, width=560, height=220, y_max=None, kind="num", y_label=""
) -> dict:
    """Grouped bars. ``groups``: ``[{"label", "values": [v per series]}]``; ``series``:
    ``[{"name", "css"}]``. ``kind`` formats values (pct, ms, num). None values leave a gap."""
    left, top = PAD["left"], PAD["top"]
    right, bottom = width - PAD["right"], height - PAD["bottom"]
    values = [v for g in groups for v in g["values"] if v is not None and math.isfinite(v)]
    chart = {
        "width": width,
        "height": height,
        "left": left,
        "right": right,
        "top": top,
        "bottom": bottom,
        "bars": [],
        "groups": [],
        "yticks": [],
        "series": series,
        "y_label": y_label,
        "empty": not values,
    }
    if not values:
        return chart
    top_value = y_max if y_max is not None else max(values)
    yt = nice_ticks(0.0, top_value if top_value > 0 else 1.0, 5)
    y1 = yt[-1]
    slot = (right - left) / max(len(groups), 1)
    bar_w = min(38.0, slot * 0.8 / max(len(series), 1))
    for gi, group in enumerate(groups):
        center = left + slot * (gi + 0.5)
        start = center - bar_w * len(series) / 2
        chart["groups"].append({"x": f"{center:.1f}", "label": group["label"]})
        for si, value in enumerate(group["values"]):
            if value is None or not math.isfinite(value):
                continue
            h = max(0.0, value) / y1 * (bottom - top)
            x = start + si * bar_w
            chart["bars"].append(
                {
                    "x": f"{x + 1:.1f}",
                    "y": f"{bottom - h:.1f}",
                    "w": f"{bar_w - 2:.1f}",
                    "h": f"{h:.1f}",
                    # Bar labels leave the unit to the axis: side by side they must stay short.
                    "css": series[si].get("css", ""),
                    "label": fmt(value, "num" if kind == "ms" else kind),
                    "tx": f"{x + bar_w / 2:.1f}",
                    "ty": f"{bottom - h - 3:.1f}",
                    "title": f"{group['label']} · {series[si]['name']}: {fmt(value, kind)}",
                }
            )
    chart["yticks"] = [{"y": f"{bottom - v / y1 * (bottom - top):.1f}", "label": fmt(v, kind)} for v in yt]
    return chart


def reliability_diagram(bins: list[dict], *, size=240, css="") -> dict:
    """A reliability diagram: per confidence bin, a bar up to its accuracy and a dot at
    its mean confidence; the diagonal is perfect calibration. Bins: the core's
    ``{"lower", "upper", "confidence", "accuracy", "count"}``."""
    left, top, right, bottom = 40, 10, size - 10, size - 30
    span_x, span_y = right - left, bottom - top
    total = sum(b["count"] for b in bins) or 1
    bars = []
    for b in bins:
        if not b["count"]:
            continue
        x = left + b["lower"] * span_x
        w = (b["upper"] - b["lower"]) * span_x
        h = b["accuracy"] * span_y
        bars.append(
            {
                "x": f"{x + 0.5:.1f}",
                "w": f"{w - 1:.1f}",
                "y": f"{bottom - h:.1f}",
                "h": f"{h:.1f}",
                "top": top,
                "span": f"{span_y:.1f}",
                "cx": f"{x + w / 2:.1f}",
                "cy": f"{bottom - b['confidence'] * span_y:.1f}",
                "opacity": f"{0.35 + 0.65 * b['count'] / total:.2f}",
                "title": f"confidence {b['lower']:.2f}–{b['upper']:.2f}: {b['count']} items, "
                f"accuracy {b['accuracy']:.0%}, mean confidence {b['confidence']:.0%}",
            }
        )
    ticks = [
        {"v": f"{left + t * span_x:.1f}", "h": f"{bottom - t * span_y:.1f}", "label": f"{t:g}"}
        for t in (0, 0.25, 0.5, 0.75, 1)
    ]
    return {
        "size": size,
        "left": left,
        "top": top,
        "right": right,
        "bottom": bottom,
        "bars": bars,
        "ticks": ticks,
        "css": css,
        "empty": not bars,
    }


def difference_chart(rows: list[dict], *, width=560, row_height=30, label_width=150) -> dict:
    """Paired differences with their 95% intervals, one row each: a bar from zero to the
    estimate and a whisker over the interval, on a symmetric axis around zero so a bar's side
    says which arm won. ``rows``: ``[{"label", "estimate", "low", "high", "detectable"}]`` with
    values in [-1, 1] (shares), drawn as points (x 100)."""
    top, bottom_pad = 10, 28
    left, right = label_width, width - PAD["right"]
    height = top + row_height * max(len(rows), 1) + bottom_pad
    finite = [v for r in rows for v in (r["estimate"], r["low"], r["high"]) if v is not None and math.isfinite(v)]
    chart = {"width": width, "height": height, "left": left, "right": right, "top": top, "rows": [], "xticks": []}
    chart["empty"] = not finite
    if not finite:
        return chart
    reach = max(abs(v) for v in finite) * 100 or 1.0
    ticks = nice_ticks(0.0, reach, 3)
    span = ticks[-1]
    bottom = top + row_height * len(rows)

    def sx(value):  # a share -> x (points on the axis)
        return left + (value * 100 + span) / (2 * span) * (right - left)

    zero = sx(0.0)
    for i, r in enumerate(rows):
        y = top + row_height * i + row_height / 2
        est = r["estimate"]
        chart["rows"].append(
            {
                "label": r["label"],
                "y": f"{y:.1f}",
                "bar_x": f"{min(zero, sx(est)):.1f}",
                "bar_w": f"{abs(sx(est) - zero):.1f}",
                "bar_y": f"{y - 7:.1f}",
                "cap_top": f"{y - 7:.1f}",
                "cap_bottom": f"{y + 7:.1f}",
                "lo": f"{sx(r['low']):.1f}",
                "hi": f"{sx(r['high']):.1f}",
                "css": ("better" if est > 0 else "worse") if r.get("detectable") else "unclear",
                "value": f"{est * 100:+.1f}",
                "vx": f"{(sx(r['high']) if est >= 0 else sx(r['low'])) + (4 if est >= 0 else -4):.1f}",
                "anchor": "start" if est >= 0 else "end",
                "title": f"{r['label']}: {est * 100:+.1f} points (95% CI {r['low'] * 100:+.1f} to "
                f"{r['high'] * 100:+.1f})",
            }
        )
    chart["zero"] = f"{zero:.1f}"
    chart["bottom"] = bottom
    values = sorted({-t for t in ticks} | set(ticks))
    chart["xticks"] = [{"x": f"{sx(v / 100):.1f}", "label": f"{v:+g}" if v else "0"} for v in values]
    return chart


MAX_POINT_LABELS = 8


def interval_curve(
    points: list[dict], *, width=560, height=240, x_label="", x_max=100.0, x_ticks=None, reference=None
) -> dict:
    """A line through means with a whisker per point over its 95% interval, on axes from zero:
    ``points``: ``[{"x", "mean", "low", "high", "label"}]``, y a share in [0, 1]. ``x_ticks``:
    tick values (default: one per point); ``reference``: a y value drawn as a dashed line. Values
    are printed over the points only when there are few (``MAX_POINT_LABELS``): more would pile up;
    every point keeps its value in its tooltip."""
    left, top = PAD["left"], PAD["top"]
    right, bottom = width - PAD["right"], height - PAD["bottom"]
    chart = {"width": width, "height": height, "left": left, "right": right, "top": top, "bottom": bottom}
    chart.update(points=[], xticks=[], yticks=[], x_label=x_label, d="", empty=not points)
    if not points:
        return chart
    y1 = 1.0

    def sx(x):
        return left + x / x_max * (right - left)

    def sy(y):
        return bottom - max(0.0, min(y, y1)) / y1 * (bottom - top)

    for p in points:
        chart["points"].append(
            {
                "cx": f"{sx(p['x']):.1f}",
                "cy": f"{sy(p['mean']):.1f}",
                "lo": f"{sy(p['low']):.1f}",
                "hi": f"{sy(p['high']):.1f}",
                "value": fmt(p["mean"], "pct") if len(points) <= MAX_POINT_LABELS else "",
                "title": f"{p['label']}: {p['mean']:.1%} (95% CI {p['low']:.1%} to {p['high']:.1%})",
            }
        )
    chart["d"] = " ".join(f"{'M' if i == 0 else 'L'}{q['cx']},{q['cy']}" for i, q in enumerate(chart["points"]))
    chart["yticks"] = [{"y": f"{sy(v):.1f}", "label": fmt(v, "pct")} for v in (0, 0.25, 0.5, 0.75, 1.0)]
    ticks = points if x_ticks is None else [{"x": x} for x in x_ticks]
    chart["xticks"] = [{"x": f"{sx(p['x']):.1f}", "label": f"{p['x']:g}%"} for p in ticks]
    if reference is not None:
        chart["reference"] = {"y": f"{sy(reference):.1f}", "label": fmt(reference, "pct")}
    return chart

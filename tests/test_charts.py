"""The SVG chart geometry behind the loss curves, tier bars and reliability diagrams."""

import pytest

from curation import charts


def test_nice_ticks_are_round_and_cover_the_range():
    assert charts.nice_ticks(0, 1) == [0, 0.25, 0.5, 0.75, 1.0]
    assert charts.nice_ticks(0.13, 2.7) == [0, 1, 2, 3]
    assert charts.nice_ticks(0, 0.013) == [0, 0.005, 0.01, 0.015]
    assert charts.nice_ticks(-1.5, 2) == [-2, -1, 0, 1, 2]
    assert charts.nice_ticks(5, 5) == [4, 6, 8, 10]  # a single value still gets an axis
    assert charts.nice_ticks(float("nan"), 1) == []


def test_a_line_chart_maps_points_into_the_plot_and_marks_phases():
    chart = charts.line_chart(
        [{"name": "loss", "css": "s-total", "points": [(1, 4.0), (2, 2.0), (3, 1.0)]}],
        width=400,
        height=200,
        markers=[(2, "patience 1")],
    )
    path = chart["lines"][0]["d"].split()
    first_x, first_y = map(float, path[0][1:].split(","))
    last_x, last_y = map(float, path[-1][1:].split(","))
    assert first_x == pytest.approx(chart["left"]) and last_x == pytest.approx(chart["right"])
    assert first_y < last_y  # higher loss is drawn higher up
    assert chart["yticks"][0]["label"] == "0" and chart["yticks"][-1]["label"] == "4"
    assert chart["markers"] == [{"x": f"{(chart['left'] + chart['right']) / 2:.1f}", "label": "patience 1"}]
    assert chart["lines"][0]["last"] == "1"


def test_a_line_chart_drops_non_finite_points_and_reports_empty_data():
    chart = charts.line_chart([{"name": "kd", "points": [(1, float("nan")), (2, 1.0)]}])
    assert chart["lines"][0]["d"].count("M") == 1 and "L" not in chart["lines"][0]["d"]
    assert charts.line_chart([{"name": "kd", "points": []}])["empty"]


def test_long_curves_are_thinned_keeping_both_ends():
    points = [(i, float(i)) for i in range(5000)]
    thinned = charts.thin(points, 400)
    assert len(thinned) == 400 and thinned[0] == points[0] and thinned[-1] == points[-1]


def test_bar_heights_are_proportional_and_gaps_stay_gaps():
    chart = charts.bar_chart(
        [{"label": "easy", "values": [0.5, 1.0]}, {"label": "hard", "values": [None, 0.25]}],
        [{"name": "student"}, {"name": "teacher"}],
        y_max=1.0,
        kind="pct",
    )
    heights = [float(b["h"]) for b in chart["bars"]]
    assert (
        len(heights) == 3
        and heights[0] == pytest.approx(heights[1] / 2)
        and heights[2] == pytest.approx(heights[1] / 4)
    )
    assert [b["label"] for b in chart["bars"]] == ["50%", "100%", "25%"]
    assert chart["bars"][0]["title"] == "easy · student: 50%"


def test_a_reliability_diagram_draws_only_occupied_bins():
    bins = [
        {"lower": i / 15, "upper": (i + 1) / 15, "confidence": None, "accuracy": None, "count": 0} for i in range(15)
    ]
    bins[14] = {"lower": 14 / 15, "upper": 1.0, "confidence": 0.95, "accuracy": 0.5, "count": 2}
    chart = charts.reliability_diagram(bins, size=240)
    assert len(chart["bars"]) == 1
    bar = chart["bars"][0]
    assert float(bar["h"]) == pytest.approx(0.5 * (chart["bottom"] - chart["top"]))
    assert "2 items, accuracy 50%, mean confidence 95%" in bar["title"]


def test_a_difference_is_a_bar_from_zero_with_its_interval_on_an_axis_symmetric_around_zero():
    chart = charts.difference_chart(
        [
            {"label": "curated − raw", "estimate": 0.05, "low": 0.02, "high": 0.08, "detectable": True},
            {"label": "curated − CE", "estimate": -0.01, "low": -0.04, "high": 0.02, "detectable": False},
        ]
    )
    win, unclear = chart["rows"]
    zero = float(chart["zero"])
    assert zero == pytest.approx((chart["left"] + chart["right"]) / 2)
    assert float(win["bar_x"]) == pytest.approx(zero) and float(win["lo"]) > zero  # a win: right of zero
    assert float(unclear["lo"]) < zero < float(unclear["hi"]) and float(unclear["bar_x"]) < zero
    assert (win["css"], unclear["css"], win["value"], unclear["value"]) == ("better", "unclear", "+5.0", "-1.0")
    labels = [t["label"] for t in chart["xticks"]]
    assert labels == sorted(labels, key=lambda v: float(v)) and labels[0] == "-" + labels[-1].lstrip("+")
    for row in chart["rows"]:  # the interval's end caps stay on the row's line
        assert float(row["cap_top"]) < float(row["y"]) < float(row["cap_bottom"]) <= chart["bottom"]


def test_the_differences_svg_escapes_labels_and_caps_every_whisker(db):
    from django.template.loader import render_to_string

    chart = charts.difference_chart(
        [{"label": "<b>x</b> − raw", "estimate": 0.1, "low": 0.05, "high": 0.15, "detectable": True}]
    )
    svg = render_to_string("curation/charts/differences.html", {"chart": chart, "title": "t"})
    assert "<b>x</b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg
    assert 'y2=""' not in svg and 'y1=""' not in svg


def test_a_learning_curve_starts_its_axis_at_zero_and_draws_each_interval():
    chart = charts.interval_curve(
        [
            {"x": 10, "mean": 0.5, "low": 0.4, "high": 0.6, "label": "10%"},
            {"x": 100, "mean": 0.8, "low": 0.75, "high": 0.85, "label": "100%"},
        ]
    )
    assert chart["yticks"][0] == {"y": f"{chart['bottom']:.1f}", "label": "0%"}
    first, last = chart["points"]
    assert float(first["lo"]) > float(first["cy"]) > float(first["hi"])  # the low end is drawn lower
    assert float(last["cy"]) < float(first["cy"]) and float(last["cx"]) == pytest.approx(chart["right"])
    assert chart["d"].startswith(f"M{first['cx']},{first['cy']}")


def test_a_curve_with_many_points_keeps_their_values_in_tooltips_not_piled_over_them():
    from django.template.loader import render_to_string

    few = [
        {"x": i * 10, "mean": 0.9, "low": 0.85, "high": 0.95, "label": f"t{i}"} for i in range(charts.MAX_POINT_LABELS)
    ]
    many = [{"x": i, "mean": 0.9, "low": 0.85, "high": 0.95, "label": f"t{i}"} for i in range(40)]
    few_svg = render_to_string("curation/charts/curve.html", {"chart": charts.interval_curve(few)})
    many_svg = render_to_string("curation/charts/curve.html", {"chart": charts.interval_curve(many)})
    assert few_svg.count('class="bar-label"') == len(few)
    assert many_svg.count('class="bar-label"') == 0 and many_svg.count("<title>t") == len(many)

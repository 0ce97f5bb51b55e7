"""The report page in Chromium: every bar starts at its chart's axis (the SVG geometry as drawn), missed
targets are marked on the headlines, and the side-by-side table keeps its header on its rows."""

import pytest

from tests.test_distill_pages import _report
from tests.test_layout_browser import triage  # noqa: F401
from tests.test_review_browser import chromium, login, screenshot, serial_live_server, settle  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BAR_GEOMETRY = """() => Array.from(document.querySelectorAll('figure.chart svg')).flatMap((svg) => {
  const axis = svg.querySelector('line.axis');
  if (!axis) return [];
  const base = axis.getBoundingClientRect().top;
  return Array.from(svg.querySelectorAll('rect.bar')).map((rect) => {
    const box = rect.getBoundingClientRect();
    const scale = box.width / rect.width.baseVal.value;
    return {gap: Math.abs(box.bottom - base), drawn: box.height, declared: rect.height.baseVal.value * scale};
  });
})"""


def test_report_bars_start_at_the_axis_and_missed_targets_show(chromium, triage):
    project = triage["example"].project
    report = _report(
        project,
        teacher_accuracy=0.84,
        quality_retained=0.94,
        speedup=3.18,
        by_tier={
            "student": {"easy": {"n": 100, "accuracy": 0.8}, "hard": {"n": 100, "accuracy": 0.6}},
            "teacher": {"easy": {"n": 100, "accuracy": 0.86}, "hard": {"n": 100, "accuracy": 0.7}},
        },
    )
    report.metrics["samples"] = [
        {"prompt": "My card was charged twice", "gold": "billing", "student": "billing", "teacher": "billing"},
        {"prompt": "I cannot log in", "gold": "account", "student": "technical", "teacher": "account"},
    ]
    report.save(update_fields=["metrics"])
    page = login(chromium, triage["url"], "erin")
    page.goto(f"{triage['url']}/p/triage/reports/{report.pk}/")
    settle(page)
    bars = page.evaluate(BAR_GEOMETRY)
    assert len(bars) >= 6  # latency, throughput, accuracy by tier
    for bar in bars:
        assert bar["gap"] < 1.0, bars  # the bar's foot is on the axis
        assert abs(bar["drawn"] - bar["declared"]) < 1.0, bars  # no stylesheet resizes it
    assert page.locator(".headline .value.missed").count() == 2  # 94% < 97% and x3.18 < x5
    page.locator(".side-by-side-card summary").click()
    assert page.evaluate("getComputedStyle(document.querySelector('table.side-by-side')).display") == "table"
    header = page.locator("table.side-by-side thead").inner_text()
    assert "PROMPT" in header.upper() and "GOLD ANSWER" in header.upper()
    assert "I cannot log in" in page.locator("table.side-by-side tbody").inner_text()
    screenshot(page, "report.png")
    page.context.close()

"""Layout in headless Chromium: the engineer's top bar at common widths, a classification reviewed by keyboard."""

import pytest

from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.review_factories import example_with_sample
from tests.test_review_browser import chromium, login, screenshot, serial_live_server, settle  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def triage(serial_live_server):
    project = ProjectFactory(
        name="Ticket triage",
        slug="triage",
        task_type="classification",
        labels=["billing", "account", "technical", "other"],
    )
    MembershipFactory(user=UserFactory(username="erin"), project=project, role="engineer")
    example = example_with_sample(project, response="", label="billing")
    example.sample.predicted_label = "billing"
    example.sample.label_distribution = {"billing": 0.6, "account": 0.3, "technical": 0.05, "other": 0.05}
    example.sample.save()
    return {"url": serial_live_server, "example": example}


# Every box of the top bar, and whether any two overlap or one leaves the window.
TOPBAR_PROBLEMS = """() => {
  const boxes = Array.from(document.querySelectorAll('.topbar a, .topbar .user > *'))
    .map((el) => [el.textContent.trim(), el.getBoundingClientRect()]);
  const lineHeight = parseFloat(getComputedStyle(document.querySelector('.topbar a')).lineHeight) || 24;
  const problems = [];
  for (const [name, r] of boxes) {
    if (r.right > window.innerWidth || r.left < 0) problems.push(`${name} leaves the window`);
    if (r.height > lineHeight * 1.5) problems.push(`${name} wraps inside itself`);
  }
  boxes.forEach(([a, r], i) => boxes.slice(i + 1).forEach(([b, s]) => {
    if (r.left < s.right - 1 && s.left < r.right - 1 && r.top < s.bottom - 1 && s.top < r.bottom - 1)
      problems.push(`${a} overlaps ${b}`);
  }));
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push('the page scrolls sideways');
  return problems;
}"""


def test_the_engineers_top_bar_neither_overflows_nor_overlaps(chromium, triage):
    page = login(chromium, triage["url"], "erin")
    page.goto(f"{triage['url']}/p/triage/")
    for width in (1400, 1250, 1100, 900, 800):
        page.set_viewport_size({"width": width, "height": 800})
        assert page.evaluate(TOPBAR_PROBLEMS) == [], width
        screenshot(page, f"topbar-{width}.png")
    page.context.close()

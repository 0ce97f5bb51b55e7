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


NO_SIDEWAYS = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def queue_rows(triage):
    from curation.models import Prompt

    project = triage["example"].project
    for i in range(12):
        text = f"Customer {i}: my invoice shows a charge I do not recognise, order {1000 + i}; please explain it."
        example_with_sample(
            project,
            response="",
            label="billing",
            prompt=Prompt.objects.create(project=project, text=text, content_hash=f"q{i}"),
        )
    return triage


@pytest.mark.slow
def test_the_queue_and_the_focus_view_fit_a_390px_phone(chromium, queue_rows):
    base, example = queue_rows["url"], queue_rows["example"]
    page = login(chromium, base, "erin")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/p/triage/review/")
    settle(page)
    assert page.evaluate(NO_SIDEWAYS), page.evaluate("document.documentElement.scrollWidth")
    assert not page.locator("form.filters").is_visible()  # folded: the rows come first
    first_row = page.locator("[data-row]").first.bounding_box()
    assert first_row["y"] < 844  # a row on the first screen
    screenshot(page, "queue-390.png")
    page.locator(".filter-toggle").click()
    assert page.locator("form.filters").is_visible() and page.evaluate(NO_SIDEWAYS)
    page.goto(f"{base}/p/triage/examples/{example.pk}/")
    settle(page)
    assert page.evaluate(NO_SIDEWAYS), page.evaluate("document.documentElement.scrollWidth")
    approve = page.locator("button.approve").bounding_box()
    assert approve["y"] + approve["height"] <= 844  # the decision bar sits on the first screen
    screenshot(page, "focus-390.png")
    page.set_viewport_size({"width": 820, "height": 1180})
    page.goto(f"{base}/p/triage/review/")
    settle(page)
    assert page.evaluate(NO_SIDEWAYS), page.evaluate("document.documentElement.scrollWidth")
    screenshot(page, "queue-820.png")
    page.context.close()


@pytest.mark.slow
def test_403_and_404_are_app_pages_with_debug_off(chromium, triage, settings):
    from tests.factories import UserFactory as Users

    settings.DEBUG = False
    project = triage["example"].project
    MembershipFactory(user=Users(username="rex"), project=project, role="reviewer")
    page = login(chromium, triage["url"], "rex")
    response = page.goto(f"{triage['url']}/p/triage/settings/")
    assert response.status == 403
    assert "This needs the engineer role; you are a reviewer here." in page.locator("main").inner_text()
    assert page.locator(".topbar").is_visible()
    screenshot(page, "error-403.png")
    response = page.goto(f"{triage['url']}/p/triage/examples/999999/")
    assert response.status == 404 and "Nothing here" in page.locator("main").inner_text()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    screenshot(page, "error-404.png")
    page.context.close()

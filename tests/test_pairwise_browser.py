"""A blind side-by-side session in headless Chromium, with the keyboard only: the
engineer starts it from the report, a reviewer answers every pair with a/b/t/x (one with
a note), and the report shows the win rate with its interval."""

import re

import pytest

from curation.models import PairItem, PairVerdict
from tests import pairkit
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.test_review_browser import chromium, login, serial_live_server  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def setup(serial_live_server):
    project = ProjectFactory(name="Replies", slug="replies")
    for name, role in (("eng", "engineer"), ("rita", "reviewer")):
        MembershipFactory(user=UserFactory(username=name), project=project, role=role)
    gold = pairkit.gold_items(project, 4)
    report = pairkit.report(project, gold)
    return {"project": project, "report": report, "url": serial_live_server}


def test_a_blind_session_with_the_keyboard_ends_in_a_win_rate_on_the_report(chromium, setup):
    base, report = setup["url"], setup["report"]
    report_url = f"{base}/p/replies/reports/{report.pk}/"
    eng = login(chromium, base, "eng")
    eng.goto(report_url)
    eng.get_by_role("button", name="Start a blind side-by-side review").click()
    eng.wait_for_url(re.compile(r"/pairs/\d+/$"))
    comparison_url = eng.url

    page = login(chromium, base, "rita")
    page.goto(comparison_url)
    with page.expect_navigation():
        page.keyboard.press("n")  # review the next pair
    keys = []
    for step in range(4):
        assert re.search(r"/items/\d+/$", page.url), page.url
        source = page.content()
        assert pairkit.STUDENT_NAME not in source and pairkit.TEACHER_NAME not in source
        assert "student" not in source.lower() and "teacher" not in source.lower()
        left = page.locator("#side-a .answer").inner_text()
        if step == 0:  # a note first: c focuses it, Escape leaves it, then the verdict key
            page.keyboard.press("c")
            page.keyboard.type("A <b>skips</b> the refund")
            page.keyboard.press("Escape")
        key = ["a", "b", "t", "x"][step] if step else ("a" if left.startswith("alpha") else "b")
        keys.append((key, left.startswith("alpha")))
        with page.expect_navigation():
            page.keyboard.press(key)
    assert re.search(r"/pairs/\d+/$", page.url), page.url
    assert "No pair is waiting for you" in page.content()

    verdicts = list(PairVerdict.objects.order_by("id"))
    assert len(verdicts) == 4 and PairItem.objects.filter(done=True).count() == 4
    assert verdicts[0].note == "A <b>skips</b> the refund" and verdicts[0].outcome == "a"
    pressed = {"a": "left", "b": "right", "t": "tie", "x": "both_bad"}
    assert [v.chose for v in verdicts] == [pressed[k] for k, _ in keys]
    wins = sum(v.outcome == "a" for v in verdicts)
    losses = sum(v.outcome == "b" for v in verdicts)

    eng.goto(report_url)
    text = eng.locator("section.pairwise").inner_text()
    assert "50% = parity" in text
    assert f"A better {wins}, B better {losses}, ties 1, both bad 1" in text
    assert f"n = {wins + losses}" in text and "95% Wilson interval" in text

"""The focus view's keyboard in Chromium: label keys, grades on Shift, selects that save on Enter,
the switch for single-key shortcuts, focus kept after a swap, the heatmap as one tab stop."""

import pytest

from curation.models import Example
from tests.review_factories import example_with_sample
from tests.test_layout_browser import triage  # noqa: F401
from tests.test_review_browser import chromium, login, screenshot, serial_live_server, settle, workspace  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ACTIVE = "document.activeElement === document.body ? 'body' : (document.activeElement.outerHTML || '').slice(0, 80)"


def open_focus(page, base, example):
    page.goto(f"{base}/p/{example.project.slug}/examples/{example.pk}/")
    settle(page)


def test_number_keys_choose_a_label_and_shift_digits_grade(chromium, triage):
    base, example = triage["url"], triage["example"]
    page = login(chromium, base, "erin")
    open_focus(page, base, example)
    assert page.locator("#teacher-label").inner_text() == "billing"
    assert page.locator("#label-form button").all_inner_texts() == ["1 billing", "2 account", "3 technical", "4 other"]
    screenshot(page, "focus-label-keys.png")
    page.keyboard.press("2")
    page.wait_for_selector("text=Label set to account")
    assert page.locator("#current-label").inner_text() == "account"
    assert Example.objects.get(pk=example.pk).label == "account"
    settle(page)
    assert page.evaluate(ACTIVE).startswith(
        '<button name="label" value="account"'
    )  # focus stays in the view after the swap
    page.keyboard.press("Shift+3")
    page.wait_for_selector("text=Graded 3.")
    example.refresh_from_db()
    assert example.grade == 3 and example.label == "account"  # Shift+3 graded; it did not pick label 3
    page.context.close()


def test_the_tier_select_saves_on_enter_never_on_arrow_keys(chromium, triage):
    base, example = triage["url"], triage["example"]
    page = login(chromium, base, "erin")
    open_focus(page, base, example)
    version = Example.objects.get(pk=example.pk).version
    page.keyboard.press("t")
    assert page.evaluate("document.activeElement.name") == "tier"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(300)  # any save it started would be on its way
    assert Example.objects.get(pk=example.pk).version == version  # nothing saved while browsing
    assert page.evaluate("document.activeElement.name") == "tier"
    chosen = page.evaluate("document.activeElement.value")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"text=Tier set to {chosen}.")
    settle(page)
    assert Example.objects.get(pk=example.pk).tier.name == chosen
    assert page.evaluate("document.activeElement.name") == "tier"  # focus kept on the same control
    page.context.close()


def test_single_key_shortcuts_can_be_switched_off(chromium, triage):
    base, example = triage["url"], triage["example"]
    page = login(chromium, base, "erin")
    open_focus(page, base, example)
    page.locator("[data-toggle-shortcuts]").click()
    switch = page.locator("#shortcuts [data-shortcut-switch]")
    assert switch.is_checked()
    switch.uncheck()
    page.keyboard.press("Escape")
    page.reload()
    settle(page)
    assert page.evaluate("document.documentElement.classList.contains('no-shortcuts')")
    assert not page.locator("#label-form kbd").first.is_visible()
    page.keyboard.press("a")
    page.keyboard.press("2")
    page.wait_for_timeout(300)
    example.refresh_from_db()
    assert example.status == "pending" and example.label == "billing"  # the keys did nothing
    page.locator("#label-form button", has_text="account").click()  # buttons still work
    page.wait_for_selector("text=Label set to account")
    page.context.close()


def test_a_decision_keeps_focus_in_the_view_and_the_heatmap_is_one_tab_stop(chromium, workspace):
    base, rows = workspace["url"], workspace["rows"]
    page = login(chromium, base, "rita")
    page.goto(f"{base}/p/support/examples/{rows[0].pk}/")
    settle(page)
    tokens = page.locator(".heatmap .tok")
    assert tokens.count() > 5
    assert page.evaluate("document.querySelectorAll('.heatmap .tok[tabindex=\"0\"]').length") == 1
    tokens.first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("Array.from(document.querySelectorAll('.heatmap .tok')).indexOf(document.activeElement)") == 2
    assert page.locator(".heatmap .tok:focus .alts").is_visible()
    page.keyboard.press("Tab")  # one Tab leaves the whole heatmap
    assert not page.evaluate("!!document.activeElement.closest('.heatmap')")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("a")
    page.wait_for_function(f"document.querySelector('#focus').dataset.example != '{rows[0].pk}'")
    settle(page)
    assert page.evaluate("document.activeElement.tagName") == "H1"  # the new example's heading, not <body>
    page.context.close()


def test_a_generation_example_grades_with_plain_digits(chromium, workspace):
    base = workspace["url"]
    example = example_with_sample(workspace["project"])
    page = login(chromium, base, "rita")
    open_focus(page, base, example)
    page.keyboard.press("4")
    page.wait_for_selector("text=Graded 4.")
    assert Example.objects.get(pk=example.pk).grade == 4
    page.context.close()

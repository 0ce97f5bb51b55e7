"""Undo in Chromium: a decision from the banner that names it (key z), and a bulk action on ticked rows."""

import pytest

from curation.models import BulkAction, Example
from tests.test_review_browser import chromium, login, screenshot, serial_live_server, settle, workspace  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_z_undoes_the_approval_the_banner_names(chromium, workspace):
    base, rows = workspace["url"], workspace["rows"]
    page = login(chromium, base, "rita")
    page.goto(f"{base}/p/support/examples/{rows[0].pk}/?status=pending")
    settle(page)
    page.keyboard.press("a")
    page.wait_for_function(f"() => document.querySelector('#focus').dataset.example != '{rows[0].pk}'")
    settle(page)
    banner = page.locator("#notice").inner_text()
    assert "Approved." in banner and f"#{rows[0].pk}" in banner and "refund for a double charge" in banner
    assert Example.objects.get(pk=rows[0].pk).status == "approved"
    screenshot(page, "undo-banner.png")
    page.keyboard.press("z")
    page.wait_for_selector(f"text=Undid the approval of #{rows[0].pk}: it is pending again.")
    settle(page)
    assert page.locator("#focus").get_attribute("data-example") == str(rows[0].pk)
    assert page.url.split("?")[0].endswith(f"/examples/{rows[0].pk}/")
    example = Example.objects.get(pk=rows[0].pk)
    assert example.status == "pending" and example.verdicts.order_by("-id").first().action == "undo"
    assert "undo" in page.locator("#history").inner_text()
    page.context.close()


def test_a_bulk_action_on_ticked_rows_is_undone_from_the_queue(chromium, workspace):
    base, rows = workspace["url"], workspace["rows"]
    page = login(chromium, base, "rita")
    page.goto(f"{base}/p/support/review/?status=pending&order=oldest")
    settle(page)
    assert page.locator("[data-selection-submit]").is_disabled()
    for example in rows[:3]:
        page.locator(f'input[name="id"][value="{example.pk}"]').check()
    assert page.locator("[data-selected-count]").inner_text() == "3"
    bar = page.locator("#selection-form")
    assert not bar.locator("[data-for-action=stage]").is_visible()  # only the action's own target shows
    bar.locator("select[name=action]").select_option("stage")
    assert (
        bar.locator("[data-for-action=stage]").is_visible() and not bar.locator("[data-for-action=tier]").is_visible()
    )
    bar.locator("select[name=to_stage]").select_option("stage 1")
    screenshot(page, "queue-selection.png")
    bar.locator("[data-selection-submit]").click()
    page.wait_for_selector("#bulk-description")
    assert page.locator("#bulk-description").inner_text() == "Move 3 examples to stage 1?"
    page.click("#bulk-apply")
    page.wait_for_selector("#bulk-undo")
    assert Example.objects.filter(stage__name="stage 1").count() == 3
    assert "You moved 3 examples to stage 1" in page.locator("#undo-bulk").inner_text()
    page.click("#bulk-undo")
    page.wait_for_selector("text=Undid stage on 3 examples.")
    # The undo re-renders the queue through htmx: let those requests finish, or the live
    # server may still hold a read lock when the test database is flushed (a PostgreSQL deadlock).
    settle(page)
    assert not Example.objects.filter(stage__name="stage 1").exists()
    assert BulkAction.objects.filter(action="undo").count() == 1
    page.context.close()

"""Project administration in Chromium: an engineer creates a project, adds a reviewer, changes and removes them."""

import pytest

from curation.models import Membership, Project
from tests.factories import UserFactory
from tests.test_layout_browser import triage  # noqa: F401
from tests.test_review_browser import chromium, login, screenshot, serial_live_server, settle  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_engineer_creates_a_project_and_manages_its_members(chromium, triage):
    base = triage["url"]
    UserFactory(username="nora")
    page = login(chromium, base, "erin")
    page.click("text=New project")
    page.fill("input[name=name]", "Refund replies")
    page.check("input[name=task_type][value=classification]")
    page.fill("textarea[name=labels]", "refund\nno refund\nescalate")
    screenshot(page, "project-new.png")
    page.click("text=Create project")
    page.wait_for_url("**/p/refund-replies/members/")
    project = Project.objects.get(slug="refund-replies")
    assert project.labels == ["refund", "no refund", "escalate"]
    page.fill("input[name=username]", "nora")
    page.select_option("form.narrow-form select[name=role]", "reviewer")
    page.click("button:has-text('Add member')")
    screenshot(page, "project-members-added.png")
    page.wait_for_selector("text=nora is now a reviewer of Refund replies.")
    assert Membership.objects.get(project=project, user__username="nora").role == "reviewer"
    row = page.locator("#member-nora")
    row.locator("select[name=role]").select_option("engineer")
    row.locator("text=Change role").click()
    page.wait_for_selector("text=nora is now an engineer.")
    screenshot(page, "project-members.png")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#member-nora").locator("text=Remove").click()
    page.wait_for_selector("text=nora is no longer a member.")
    assert not Membership.objects.filter(project=project, user__username="nora").exists()
    erin_row = page.locator("#member-erin")
    erin_row.locator("select[name=role]").select_option("reviewer")
    erin_row.locator("text=Change role").click()
    page.wait_for_selector("#member-error")
    assert "only engineer" in page.locator("#member-error").inner_text()
    page.goto(f"{base}/p/refund-replies/settings/")
    settle(page)
    assert page.locator("#labels textarea").input_value() == "refund\nno refund\nescalate"
    page.context.close()

"""The token and snapshot pages in a real browser (Debian's Chromium through Playwright).

Screenshots go to ``$SCREENSHOT_DIR`` when it is set (for looking at the pages), else
to the test's temporary directory.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.db import connections

from curation.models import ApiToken, Snapshot
from curation.services import jobs
from curation.services.datasets import snapshot_job
from tests.factories import ExampleFactory, MembershipFactory, PromptFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def page(live_server, tmp_path, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls here stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI_REQUIRE_SERVICES"):
            pytest.fail("chromium is required in CI")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        yield context.new_page()
        # Under Playwright's loop the test's ORM calls got a connection of their own (Django keys
        # connections by context there); close it here, or the test database cannot be dropped.
        connections.close_all()
        browser.close()


@pytest.fixture
def shots(tmp_path):
    directory = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_a_token_is_created_copied_once_and_revoked_in_the_browser(page, live_server, db, shots, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = UserFactory(username="tina")
    log_in(page, live_server, "tina")
    page.click("text=API tokens")
    page.fill("input[name=name]", "training pipeline")
    page.click("text=Create token")
    key = page.inner_text("#new-token-key")
    assert ApiToken.hash_key(key) == ApiToken.objects.get(user=user).key_hash
    page.click("button[data-copy]")
    page.wait_for_selector("button[data-copy]:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == key
    page.screenshot(path=str(shots / "tokens-new.png"), full_page=True)
    page.reload()
    assert page.locator("#new-token-key").count() == 0 and key not in page.content()
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Revoke')")
    page.wait_for_selector("text=is revoked")
    page.screenshot(path=str(shots / "tokens-revoked.png"), full_page=True)
    assert not ApiToken.objects.get(user=user).is_active


def test_a_snapshot_page_follows_its_build_and_offers_the_files(
    page, live_server, project, shots, settings, tmp_path, monkeypatch
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ARTIFACT_DIR = tmp_path / "artifacts"
    monkeypatch.setattr(jobs, "enqueue", lambda job_id: None)  # the test plays the worker below
    engineer = UserFactory(username="erin")
    MembershipFactory(user=engineer, project=project, role="engineer")
    stage = project.stages.get(name="stage 1")
    for i in range(12):
        ExampleFactory(
            prompt=PromptFactory(project=project, text=f"Ticket {i}: refund <b>please</b>"),
            status="approved",
            stage=stage,
            tier=project.tiers.get(name="easy" if i % 2 else "hard"),
        )
    log_in(page, live_server, "erin")
    page.goto(f"{live_server.url}/p/{project.slug}/snapshots/")
    page.click("summary:has-text('New snapshot')")
    page.fill("input[name=name]", "week 48")
    assert page.input_value("select[name=stage]") == "stage 1"  # the first curriculum stage, not the pool
    page.fill("input[name=validation_fraction]", "0.25")
    page.screenshot(path=str(shots / "snapshots-form.png"), full_page=True)
    page.click("text=Build snapshot")
    page.wait_for_selector("text=Building")
    snap = Snapshot.objects.get(name="week 48")
    snapshot_job.build_snapshot(snap)  # the worker's part; the page notices by itself
    page.wait_for_selector("text=Files", timeout=15_000)
    assert page.locator("a:has-text('Download')").count() == 10
    page.screenshot(path=str(shots / "snapshot-ready.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("tr:has-text('train.jsonl') >> a:has-text('Download')").first.click()
    snap.refresh_from_db()
    assert snap.row_count == 12 and 0 < snap.train_count < 12
    assert Path(download.value.path()).read_bytes().count(b"\n") == snap.train_count
    page.goto(f"{live_server.url}/p/{project.slug}/snapshots/")
    page.screenshot(path=str(shots / "snapshots-list.png"), full_page=True)
    assert "week 48" in page.content()


KEY_BOX = """() => {
  const el = document.querySelector('#new-token-key');
  const key = el.getBoundingClientRect();
  const range = document.createRange();
  range.selectNodeContents(el);
  const tops = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
  const cards = Array.from(document.querySelectorAll('main .card')).filter((c) => !c.contains(el));
  const overlaps = cards.filter((c) => {
    const r = c.getBoundingClientRect();
    return r.top < key.bottom && key.top < r.bottom;
  });
  return {width: key.width, lines: tops.size, overlaps: overlaps.length,
          spills: el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1,
          sideways: document.documentElement.scrollWidth > window.innerWidth};
}"""


@pytest.mark.slow
def test_a_new_token_is_drawn_on_a_line_or_two_at_any_width_with_its_scope_and_expiry(page, live_server, db, shots):
    user = UserFactory(username="tess")
    log_in(page, live_server, "tess")
    page.goto(f"{live_server.url}/tokens/")
    page.fill("input[name=name]", "snapshot puller")
    page.select_option("select[name=scope]", "read")
    page.select_option("select[name=expires]", "30")
    page.click("text=Create token")
    page.wait_for_selector("#new-token-key")
    token = ApiToken.objects.get(user=user)
    assert token.scope == "read" and token.expires_at is not None
    for width in (1280, 820, 390):
        page.set_viewport_size({"width": width, "height": 900})
        box = page.evaluate(KEY_BOX)
        assert box["width"] > 200 and box["lines"] <= 3 and not box["spills"], (width, box)  # not a char per line
        assert box["overlaps"] == 0 and not box["sideways"], (width, box)
        page.screenshot(path=str(shots / f"tokens-new-{width}.png"), full_page=True)
    row = page.locator("table.tokens tbody tr").first.inner_text()
    assert "read" in row and token.expires_at.strftime("%Y-%m-%d") in row

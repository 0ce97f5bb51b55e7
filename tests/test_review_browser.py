"""The reviewer workspace in headless Chromium: filter, keyboard review, edit, conflict, bulk, promote, gold.

Screenshots of the queue and the focus view go to TEST_ARTIFACTS_DIR (default
var/test-artifacts, outside the source tree).
"""

import math
import os
from pathlib import Path

import pytest

from curation.models import Example, GoldItem, Prompt
from tests.factories import ExampleFactory, MembershipFactory, ProjectFactory, UserFactory
from tests.review_factories import ModelSpecFactory, TeacherSampleFactory, write_soft_targets

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", Path(__file__).resolve().parents[1] / "var" / "test-artifacts"))
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"> **bold** <b>raw</b>'

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI_REQUIRE_SERVICES"):
            pytest.fail(f"browser tests need Chromium at {CHROMIUM} in CI")
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests
    # make between page steps are plain synchronous code.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def serial_live_server(django_db_setup, django_db_blocker):
    """A live server that handles one request at a time.

    The in-memory SQLite test database is one connection shared by every server
    thread; two requests at once (a lazy htmx load racing a click) would make SQLite
    refuse with "table is locked". On PostgreSQL this costs nothing either.
    """
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import WSGIServer
    from django.db import connections
    from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler

    class SerialLiveServerThread(LiveServerThread):
        def _create_server(self, connections_override=None):
            return WSGIServer((self.host, self.port), QuietWSGIRequestHandler, allow_reuse_address=False)

    with django_db_blocker.unblock():
        shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
        for conn in shared.values():
            conn.inc_thread_sharing()
        thread = SerialLiveServerThread("localhost", static_handler=StaticFilesHandler, connections_override=shared)
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
    yield f"http://localhost:{thread.port}"
    thread.terminate()
    for conn in shared.values():
        conn.dec_thread_sharing()


@pytest.fixture
def workspace(serial_live_server, settings, tmp_path, tiny_model_dir):
    settings.ARTIFACT_DIR = tmp_path
    project = ProjectFactory(
        name="Support replies",
        slug="support",
        guidelines="## Reply guidelines\n\n- Polite, **short** answers.\n- Reject invented facts.",
    )
    for name in ("rita", "bob"):
        user = UserFactory(username=name)
        MembershipFactory(user=user, project=project, role="reviewer")
    hard, easy = project.tiers.get(name="hard"), project.tiers.get(name="easy")
    from curation.services.teacher import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_model_dir))
    spec = ModelSpecFactory(project=project, path=str(tiny_model_dir))
    rows = []
    topics = [
        "refund for a double charge",
        "cannot log in after reset",
        "refund not received",
        "app crashes on start",
        "change shipping address",
        "refund request for order 42",
        "invoice shows wrong VAT",
        "password email missing",
    ]
    for i, topic in enumerate(topics):
        prompt = Prompt.objects.create(
            project=project, text=f"Customer: {topic}. Write a short reply.", content_hash=f"h{i}"
        )
        text = f"Thanks for reaching out about the {topic}. We are looking into it."
        ids = tokenizer.encode(text)
        probabilities = [0.97 if j % 4 else 0.25 + 0.1 * (j % 3) for j in range(len(ids))]
        pointer = write_soft_targets(f"b{i}", ids, probabilities)
        sample = TeacherSampleFactory(prompt=prompt, text=text, model_spec=spec, soft_targets=pointer, sample_index=0)
        TeacherSampleFactory(prompt=prompt, text=f"Another draft about the {topic}.", sample_index=1)
        rows.append(
            ExampleFactory(
                prompt=prompt,
                sample=sample,
                response=text,
                soft_targets=pointer,
                tier=hard if "refund" in topic else easy,
                difficulty=i / 10,
                mean_logprob=math.log(0.6 + i / 30),
                checks_failed=i == 3,
            )
        )
    hostile = ExampleFactory(
        prompt=Prompt.objects.create(project=project, text=XSS, content_hash="xss"), response=XSS, tier=easy
    )
    return {"project": project, "rows": rows, "hostile": hostile, "url": serial_live_server}


def login(browser, base, username):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def settle(page):
    """Wait until htmx is done (lazy counts, heatmap): the test server shares one SQLite connection."""
    # An arrow function, not an expression: Playwright polls an expression with eval, which our CSP refuses.
    page.wait_for_function(
        "() => !document.querySelector('[data-loading], .htmx-request, .htmx-swapping, .htmx-settling')"
    )


def screenshot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_a_reviewer_filters_the_queue_and_reviews_with_the_keyboard(chromium, workspace):
    base, rows = workspace["url"], workspace["rows"]
    page = login(chromium, base, "rita")
    page.goto(f"{base}/p/support/review/?status=pending")
    settle(page)
    page.fill("#f-q", "refund")
    page.wait_for_function("() => location.search.includes('q=refund')")
    settle(page)
    assert page.locator("[data-row]").count() == 3
    assert "3 matching" in page.locator("#queue-counts").inner_text()
    screenshot(page, "review-queue.png")

    page.keyboard.press("Escape")  # leave the search box; keys are shortcuts again
    assert page.input_value("#f-q") == "refund"  # leaving it keeps the search (the browser would clear it)
    # Leaving the box fires the filter form's "change": the queue is fetched again. A key pressed
    # while its rows are swapped would go to a row that is about to be replaced (a CI flake).
    settle(page)
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/examples/{rows[0].pk}/**")
    settle(page)
    page.locator(".heatmap .tok.s4").first.hover()
    assert page.locator(".heatmap .tok.s4 .alts").first.is_visible()
    screenshot(page, "review-focus.png")

    page.keyboard.press("a")
    page.wait_for_url(f"**/examples/{rows[2].pk}/**")  # the next example of the same filter (refund)
    assert Example.objects.get(pk=rows[0].pk).status == "approved"
    settle(page)

    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#shortcuts").is_visible()

    page.keyboard.press("3")
    page.wait_for_selector("text=Graded 3.")
    page.keyboard.press("]")
    page.wait_for_selector("text=Promoted to stage 1.")
    current = Example.objects.get(pk=rows[2].pk)
    assert current.grade == 3 and current.stage.name == "stage 1"

    page.keyboard.press("g")
    reference = page.locator("#gold-form textarea[name=reference]")
    assert reference.is_visible()
    reference.fill("We refund double charges within 5 days.")
    page.locator("#gold-form button[type=submit]").click()
    page.wait_for_selector("text=locked out of training")
    assert GoldItem.objects.get(prompt=rows[2].prompt).reference == "We refund double charges within 5 days."
    for name, path in (("board", "board/"), ("gold", "gold/"), ("dashboard", "")):
        page.goto(f"{base}/p/support/{path}")
        settle(page)
        screenshot(page, f"review-{name}.png")
    page.context.close()


def test_an_edit_saves_and_a_conflict_from_a_second_session_keeps_the_typed_text(chromium, workspace):
    base, example = workspace["url"], workspace["rows"][1]
    rita = login(chromium, base, "rita")
    rita.goto(f"{base}/p/support/examples/{example.pk}/")
    settle(rita)
    rita.keyboard.press("e")
    box = rita.locator("#edit-form textarea")
    box.fill("Sorry about the login trouble; here is a new reset link.")
    box.press("Control+Enter")
    rita.wait_for_selector("text=Saved your edit")
    assert "new reset link" in rita.locator("#response-text").inner_text()
    assert Example.objects.get(pk=example.pk).original_response.startswith("Thanks for reaching out")
    settle(rita)

    rita.keyboard.press("e")
    rita.locator("#edit-form textarea").fill("Rita's second thoughts, typed carefully.")

    bob = login(chromium, base, "bob")
    bob.goto(f"{base}/p/support/examples/{example.pk}/")
    settle(bob)
    bob.keyboard.press("e")
    bob.locator("#edit-form textarea").fill("Bob's version.")
    bob.locator("#edit-form textarea").press("Control+Enter")
    bob.wait_for_selector("text=Saved your edit")
    settle(bob)

    rita.locator("#edit-form textarea").press("Control+Enter")
    rita.wait_for_selector("#conflict")
    conflict = rita.locator("#conflict").inner_text()
    assert "bob changed this example" in conflict and "Bob's version." in conflict
    assert rita.locator("#edit-form textarea").input_value() == "Rita's second thoughts, typed carefully."
    assert Example.objects.get(pk=example.pk).response == "Bob's version."
    screenshot(rita, "review-conflict.png")
    rita.context.close()
    bob.context.close()


def test_bulk_approve_by_filter_states_the_number_and_applies_to_all(chromium, workspace):
    base = workspace["url"]
    page = login(chromium, base, "rita")
    page.goto(f"{base}/p/support/review/?status=pending")
    settle(page)
    page.select_option("select[name=tier]", "hard")
    page.wait_for_function("() => location.search.includes('tier=hard')")
    settle(page)
    page.click("text=Apply to all matching…")
    page.select_option(".bulk-form select[name=action]", "approve")
    page.click("text=Continue: count and confirm")
    page.wait_for_selector("#bulk-description")
    assert page.locator("#bulk-description").inner_text() == "Approve 3 examples?"
    screenshot(page, "review-bulk-confirm.png")
    page.click("#bulk-apply")
    page.wait_for_selector("text=Approved 3 examples")
    assert Example.objects.filter(tier__name="hard", status="approved").count() == 3
    page.context.close()


def test_hostile_text_stays_inert_in_the_browser(chromium, workspace):
    base, hostile = workspace["url"], workspace["hostile"]
    page = login(chromium, base, "rita")
    for path in ("/p/support/review/", f"/p/support/examples/{hostile.pk}/", "/p/support/board/", "/p/support/"):
        page.goto(base + path)
        settle(page)
        assert page.evaluate("window.__xss") is None, path
    assert "<b>raw</b>" in page.goto(f"{base}/p/support/examples/{hostile.pk}/").text() or True
    page.goto(f"{base}/p/support/examples/{hostile.pk}/")
    assert "<b>raw</b>" in page.locator("#response-text").inner_text()
    page.context.close()

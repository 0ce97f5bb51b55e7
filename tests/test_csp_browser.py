"""Every page under the Content-Security-Policy in Chromium: no violation reported.

A violation shows in two places, both watched: the console ("Refused to ... because it violates
the following Content Security Policy directive") and the ``securitypolicyviolation`` event,
recorded by a script Playwright installs before each page's own.
"""

import pytest
from django.urls import reverse

from tests.factories import ExampleFactory, MembershipFactory, ProjectFactory, UserFactory
from tests.test_access import ACCESS, url_for
from tests.test_review_browser import chromium, login, serial_live_server, settle  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Downloads and htmx fragments are not pages.
NOT_PAGES = {"model-download", "project-audit-export", "gen-prompt-count", "review-counts"}
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(
    `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`));
"""


def watched(browser, base, username):
    page = login(browser, base, username)
    page.context.add_init_script(RECORD_VIOLATIONS)
    messages = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    return page, messages


def violations(page, messages):
    settle(page)
    return messages + page.evaluate("window.__csp || []")


@pytest.fixture
def site(serial_live_server):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    project = ProjectFactory(name="Ticket triage", slug="triage")
    MembershipFactory(user=root, project=project, role="engineer")
    ExampleFactory(project=project, prompt__project=project)
    names = sorted(n for n, (method, _r, _e) in ACCESS.items() if method == "get" and not n.startswith("api-"))
    urls = [url_for(n, project, ACCESS[n][2]) for n in names if n not in NOT_PAGES]
    urls += [reverse("project-list"), reverse("token-list"), reverse("api-docs")]
    urls += ["/admin/", "/admin/curation/auditentry/"]
    return serial_live_server, urls


def test_every_page_loads_without_a_csp_violation(chromium, site):
    base, urls = site
    page, messages = watched(chromium, base, "root")
    found = {}
    for url in urls:
        messages.clear()
        response = page.goto(base + url)
        assert response.ok, (url, response.status)
        assert "script-src 'self'" in response.headers["content-security-policy"], url
        problems = violations(page, messages)
        if problems:
            found[url] = problems
    assert found == {}
    assert len(urls) > 25
    page.context.close()


def test_the_login_and_lockout_pages_load_without_a_csp_violation(chromium, site):
    base, _urls = site
    context = chromium.new_context()
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    messages = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{base}/login/")
    assert violations(page, messages) == []
    context.close()


def test_the_watch_sees_an_inline_script(chromium, site):
    """The test above can fail: an inline script on one of our pages is reported."""
    base, _urls = site
    page, messages = watched(chromium, base, "root")
    page.goto(f"{base}/")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.x = 1'; document.body.append(s); }"
    )
    found = violations(page, messages)
    assert any("script-src" in problem for problem in found), found
    page.context.close()

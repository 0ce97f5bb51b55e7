"""The one htmx fragment convention (curation/fragments.py): an htmx request names its
fragment with ``?fragment=<name>``; anything else gets the full page."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django_htmx.middleware import HtmxDetails

from curation.fragments import fragment_of, page_url
from curation.models import Snapshot
from tests.factories import ExampleFactory, JobFactory
from tests.review_factories import ModelSpecFactory

ROOT = Path(__file__).resolve().parent.parent
HTMX = {"HTTP_HX_REQUEST": "true"}
RESTORE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}


def _request(method="get", data=None, **headers):
    request = getattr(RequestFactory(), method)("/p/x/review/", data or {}, **headers)
    request.htmx = HtmxDetails(request)
    return request


def test_a_fragment_needs_an_htmx_request_that_names_it():
    assert fragment_of(_request(data={"fragment": "results"}, **HTMX)) == "results"
    assert fragment_of(_request(method="post", data={"fragment": "focus"}, **HTMX)) == "focus"
    assert fragment_of(_request(**HTMX)) is None  # htmx, but no name: the page
    assert fragment_of(_request(data={"fragment": "results"})) is None  # a reload of a fragment URL: the page
    assert fragment_of(_request(data={"fragment": "results"}, **RESTORE)) is None  # htmx restoring history


def test_the_page_url_drops_only_the_fragment_parameter():
    request = _request(data={"status": ["pending", "approved"], "fragment": "results", "q": "a b"}, **HTMX)
    assert page_url(request) == "/p/x/review/?status=pending&status=approved&q=a+b"
    assert page_url(_request(data={"fragment": "results"})) == "/p/x/review/"


def _pages(project):
    """(name, role, url, fragment, what the fragment starts with, pushed): every GET page with fragments."""
    example = ExampleFactory(prompt__project=project)
    job = JobFactory(project=project, status="running", progress_done=1, progress_total=4)
    snapshot = Snapshot.objects.create(project=project, name="s", status="building")
    slug = project.slug
    return [
        ("queue", "reviewer", reverse("review-queue", args=[slug]) + "?status=pending", "results", "", True),
        ("focus", "reviewer", reverse("review-focus", args=[slug, example.pk]), "focus", '<div id="focus"', True),
        ("heatmap", "reader", reverse("review-heatmap", args=[slug, example.pk]), "heatmap", "", False),
        ("gold", "reviewer", reverse("gold-list", args=[slug]) + "?q=x", "rows", "", True),
        ("jobs", "reader", reverse("job-list", args=[slug]), "table", '<div id="job-table"', False),
        ("job", "reader", reverse("job-detail", args=[slug, job.pk]), "progress", '<div id="job-progress"', False),
        ("snapshots", "reader", reverse("snapshot-list", args=[slug]), "table", '<div id="snapshot-table"', False),
        (
            "snapshot",
            "reader",
            reverse("snapshot-detail", args=[slug, snapshot.pk]),
            "status",
            '<div id="snapshot-status"',
            False,
        ),
    ]


def _with(url, **params):
    return url + ("&" if "?" in url else "?") + "&".join(f"{k}={v}" for k, v in params.items())


@pytest.mark.django_db
def test_every_page_gives_its_fragment_only_to_htmx_asking_for_it_by_name(project, member, client):
    users = {role: member(role) for role in ("reader", "reviewer")}
    for name, role, url, fragment, starts, pushed in _pages(project):
        client.force_login(users[role])
        asked = client.get(_with(url, fragment=fragment), **HTMX)
        body = asked.content.decode()
        assert asked.status_code == 200, name
        assert "<html" not in body and body.lstrip().startswith(starts), name
        if pushed:  # the address bar shows the page, never the fragment URL
            assert asked["HX-Push-Url"] == url, name
        else:
            assert "HX-Push-Url" not in asked, name
        for other in (
            client.get(_with(url, fragment=fragment)),  # a reload of the fragment URL
            client.get(url, **HTMX),  # htmx without a name
            client.get(_with(url, fragment="nonsense"), **HTMX),  # a name the page does not have
            client.get(url, **RESTORE),  # htmx restoring history after "back"
        ):
            assert other.status_code == 200 and "<html" in other.content.decode(), name


@pytest.mark.django_db
def test_a_posted_form_names_its_fragment_in_its_fields(project, client_as):
    client = client_as("engineer")
    url = reverse("project-import", args=[project.slug])
    upload = {"file": _upload('{"prompt": "one"}\n'), "format": ""}
    fragment = client.post(url, {**upload, "fragment": "result"}, **HTMX).content.decode()
    assert "<html" not in fragment and "Imported" in fragment
    page = client.post(url, {"file": _upload('{"prompt": "two"}\n'), "format": ""}, **HTMX).content.decode()
    assert "<html" in page
    spec = ModelSpecFactory(project=project, path="/nowhere/at/all")
    check = reverse("modelspec-check", args=[project.slug, spec.pk])
    assert "<html" not in client.post(check, {"fragment": "check"}, **HTMX).content.decode()
    assert client.post(check, **HTMX).status_code == 302  # without the name: the plain form's redirect


def _upload(text):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("prompts.jsonl", text.encode(), content_type="application/jsonl")


# --------------------------------------------------------------- the code keeps to it
def test_no_view_picks_a_fragment_another_way():
    """Only curation/fragments.py reads the fragment's name; nobody looks at HX-Target."""
    offenders = []
    for path in (ROOT / "curation").rglob("*.py"):
        if path.name == "fragments.py" or "migrations" in path.parts:
            continue
        text = path.read_text()
        for pattern in (r"htmx\.target", r"HX[-_]TARGET", r"""GET\.get\(\s*["']fragment["']""", r"if request\.htmx"):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert not offenders, offenders


# Views that answer only with a fragment (no page of their own to confuse it with).
FRAGMENT_ONLY_URLS = ("review-counts", "gen-prompt-count")


class _Requests(HTMLParser):
    """Every element with hx-get/hx-post, and whether it or an ancestor names a fragment."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "area", "col", "embed", "wbr", "base"}

    def __init__(self):
        super().__init__()
        self.stack, self.found = [], []

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        named = "fragment" in attrs.get("hx-vals", "")
        inherited = any(named_above for _, named_above in self.stack)
        url = attrs.get("hx-get") or attrs.get("hx-post")
        if url is not None:
            self.found.append((self.getpos()[0], url, named or inherited or "fragment=" in url, "hx-select" in attrs))
        if tag not in self.VOID:
            self.stack.append((tag, named))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break


def test_every_htmx_request_in_the_templates_names_its_fragment():
    missing = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        parser = _Requests()
        parser.feed(path.read_text())
        for line, url, named, selects in parser.found:
            if named or selects or any(f"'{view}'" in url for view in FRAGMENT_ONLY_URLS):
                continue
            missing.append(f"{path.relative_to(ROOT)}:{line} {url}")
    assert not missing, "htmx requests that name no fragment:\n" + "\n".join(missing)

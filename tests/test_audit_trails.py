"""The audit log reads the trails that have their own home: redactions of personal data (issue 17's
``RedactionEvent``) and API tokens (a person's, shown on the projects that person's tokens reach)."""

import io
import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from curation.models import ApiToken, Example, Prompt, RedactionEvent
from curation.services import audit, hygiene, projects
from curation.services.datasets import snapshot_job, snapshots
from tests.factories import ExampleFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db
EMAIL, PHONE = "jo.smith@example.com", "+1 415-555-0132"
PII = f"Contact {EMAIL} or {PHONE} about the refund."
VALUES = (EMAIL, "jo.smith", PHONE, "415-555-0132", "555-0132")


@pytest.fixture
def boss(member):
    return member("engineer", "boss")


def page_rows(client, project, **query):
    response = client.get(reverse("project-audit", args=[project.slug]), query)
    assert response.status_code == 200, response.content[:300]
    return response.context["rows"], response.content.decode()


def api_rows(client, project, **query):
    url, rows = reverse("api-audit", args=[project.slug]), []
    body = client.get(url, query).json()
    rows += body["results"]
    while body["next"]:
        body = client.get(body["next"]).json()
        rows += body["results"]
    return rows, json.dumps(rows)


def export_rows(client, project, **query):
    response = client.get(reverse("project-audit-export", args=[project.slug]), query)
    text = b"".join(response.streaming_content).decode()
    return [json.loads(line) for line in text.splitlines()], text


@pytest.fixture
def pii_prompt(project):
    prompt = Prompt.objects.create(project=project, text=PII)
    hygiene.detect_prompts(project, [prompt.pk], force=True)
    prompt.refresh_from_db()
    assert {s["entity"] for s in prompt.pii_spans} == {"EMAIL_ADDRESS", "PHONE_NUMBER"}
    return prompt


@pytest.fixture
def redactions(project, boss, pii_prompt):
    """One of each: a reviewer's decision, a teacher request's redaction (2 spans), a snapshot's (2 spans)."""
    alice = UserFactory(username="alice")
    MembershipFactory(project=project, user=alice, role="reviewer")
    start = PII.index(PHONE)
    hygiene.decide_span(
        pii_prompt, alice, part=-1, start=start, end=start + len(PHONE), entity="PHONE_NUMBER", is_pii=True
    )
    sent = hygiene.redact_for_teacher(project, [pii_prompt], job_id=41)
    assert EMAIL not in json.dumps(sent) and len(sent) == 1
    ExampleFactory(project=project, prompt=pii_prompt, status="approved", stage=project.stages.get(name="stage 1"))
    snap = snapshots.start_snapshot(project, boss, launch=False, name="redacted", stage="stage 1", redact_pii=True)
    snapshot_job.build_snapshot(snap)
    assert RedactionEvent.objects.filter(project=project).count() == 5
    return alice


def test_every_redaction_shows_once_on_the_page_the_api_and_the_export_without_its_value(
    client, project, boss, redactions
):
    client.force_login(boss)
    events = set(RedactionEvent.objects.filter(project=project).values_list("pk", flat=True))
    want = sorted(f"redaction-{pk}" for pk in events)
    rows, html = page_rows(client, project)
    listed, api_text = api_rows(client, project)
    exported, export_text = export_rows(client, project)
    for found in (rows, listed, exported):
        assert sorted(r["id"] for r in found if r["kind"] == "redaction") == want
    for text in (html, api_text, export_text):
        for value in VALUES:
            assert value not in text
    decision = next(r for r in listed if r["action"] == "mark_pii")
    assert decision["actor"] == "alice" and decision["target"] == f"prompt {Prompt.objects.get().pk}"
    assert decision["after"]["entity"] == "PHONE_NUMBER" and decision["after"]["where"] == "review"
    teacher = [r for r in listed if r["kind"] == "redaction" and r["after"]["where"] == "teacher_request"]
    assert len(teacher) == 2 and {r["after"]["job"] for r in teacher} == {41} and teacher[0]["actor"] is None


def test_the_filters_apply_to_redactions(client, project, boss, redactions):
    client.force_login(boss)
    mine, _ = api_rows(client, project, person="alice")
    assert [(r["kind"], r["action"]) for r in mine] == [("redaction", "mark_pii")]
    only, _ = api_rows(client, project, kind="redaction")
    assert len(only) == 5 and {r["kind"] for r in only} == {"redaction"}
    rows, _ = page_rows(client, project, kind="redaction")
    assert len(rows) == 5
    today = timezone.now().date().isoformat()
    assert len(api_rows(client, project, kind="redaction", since=today, until=today)[0]) == 5
    assert api_rows(client, project, kind="redaction", until="2000-01-01")[0] == []
    exported, _ = export_rows(client, project, kind="redaction", person="boss")
    assert exported == []
    others, _ = api_rows(client, project, kind="snapshot")
    assert [r["kind"] for r in others] == ["snapshot"]


def test_entries_written_at_the_same_instant_page_each_exactly_once(client, project, boss, pii_prompt, monkeypatch):
    """A bulk write stamps many rows with one time: the cursor keeps its place between them."""
    instant = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: instant)
    hygiene.redact_for_teacher(project, [pii_prompt] * 4, job_id=7)
    for n in range(3):
        audit.record(audit.Kind.SETTINGS, "update", f"setting {n}", project=project, by=boss)
    monkeypatch.undo()
    monkeypatch.setattr(audit, "PAGE", 3)
    assert RedactionEvent.objects.filter(created_at=instant).count() == 8
    client.force_login(boss)
    listed, _ = api_rows(client, project)
    ids = [r["id"] for r in listed]
    assert len(ids) == len(set(ids)) == 11
    exported, _ = export_rows(client, project)
    assert [r["id"] for r in exported] == ids


def test_a_bad_cursor_is_named(client, project, boss):
    client.force_login(boss)
    url = reverse("api-audit", args=[project.slug])
    for cursor in ("2026-12-04T12:00:00+00:00~nope-3", "2026-12-04T12:00:00~audit-x", "yesterday"):
        assert "before" in client.get(url, {"before": cursor}).json()
    assert client.get(url, {"before": "2026-12-04T12:00:00+00:00"}).status_code == 200


def test_redactions_are_read_from_their_own_rows_not_written_twice(project, boss):
    with pytest.raises(ValueError):
        audit.record("redaction", "redact", "prompt 7", project=project, by=boss)


# ------------------------------------------------------------------- tokens
def test_a_members_token_entries_show_on_the_project_log(client, project, boss):
    alice = UserFactory(username="alice")
    projects.grant_role(project, alice, "reviewer", by=boss)
    token, key = projects.issue(alice, "pipeline")
    projects.revoke(token, by=boss)
    outsider = UserFactory(username="olga")
    projects.issue(outsider, "elsewhere")
    client.force_login(boss)
    listed, text = api_rows(client, project, kind="token")
    assert [(r["action"], r["actor"], r["after"]["owner"]) for r in listed] == [
        ("revoke", "boss", "alice"),
        ("issue", "alice", "alice"),
    ]
    assert key not in text and ApiToken.hash_key(key) not in text and "elsewhere" not in text
    rows, html = page_rows(client, project)
    assert [r["kind"] for r in rows][:2] == ["token", "token"] and "pipeline" in html and key not in html
    exported, _ = export_rows(client, project, person="alice")
    assert [(r["kind"], r["action"]) for r in exported] == [("token", "issue")]


def test_a_former_members_token_history_stays_and_other_projects_do_not_see_it(client, project, boss):
    alice = UserFactory(username="alice")
    projects.grant_role(project, alice, "reviewer", by=boss)
    projects.issue(alice, "pipeline")
    projects.remove_member(project.memberships.get(user=alice), by=boss)
    other = ProjectFactory()
    MembershipFactory(project=other, user=boss, role="engineer")
    client.force_login(boss)
    assert [r["action"] for r in api_rows(client, project, kind="token")[0]] == ["issue"]
    assert api_rows(client, other, kind="token")[0] == []


def test_a_superusers_tokens_show_everywhere_they_reach(client, project, boss):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    projects.issue(root, "ops")
    client.force_login(boss)
    assert [r["after"]["name"] for r in api_rows(client, project, kind="token")[0]] == ["ops"]


def test_the_log_stays_for_engineers_only(client, project, member, redactions):
    for role in ("reviewer", "reader"):
        client.force_login(member(role))
        assert client.get(reverse("project-audit", args=[project.slug])).status_code in (403, 404)
        assert client.get(reverse("api-audit", args=[project.slug])).status_code in (403, 404)
        assert client.get(reverse("project-audit-export", args=[project.slug])).status_code in (403, 404)
    assert Example.objects.count() == 1


def test_a_gold_import_over_the_api_is_recorded_with_who_imported(client, project, boss):
    client.force_login(boss)
    gold = io.BytesIO(b'{"prompt": "What is 2+2?", "reference": "4"}\n')
    gold.name = "gold.jsonl"
    response = client.post(reverse("api-gold-import", args=[project.slug]), {"file": gold})
    assert response.status_code == 201, response.json()
    (entry,) = audit.AuditEntry.objects.filter(kind="gold")
    assert (entry.kind, entry.action, entry.actor) == ("gold", "import", boss)

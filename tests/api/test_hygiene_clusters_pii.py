"""Duplicate clusters (queue filters, bulk on a cluster, snapshot option) and personal data (import, filter,
focus view, decisions, snapshot redaction), and the hygiene API."""

import io
import json

from django.urls import reverse

from curation.models import Example, Job, Prompt, RedactionEvent
from curation.services import hygiene, jobs
from curation.services.datasets import import_prompts
from curation.services.review import filtered_examples
from tests.api.test_snapshot_build import jsonl, rows_of

A = "Please summarise the attached quarterly report for the board meeting on Friday and list the three main risks."
A2 = "Please summarize the attached quarterly report for the board meeting on Friday and list the three main risks!"
A3 = "Hi! Please summarise the attached quarterly report for the board meeting on Friday and list the 3 main risks."
B = "Translate the onboarding checklist into Spanish for the new warehouse staff starting next Monday morning."
PII = "Contact jo.smith@example.com or +1 415-555-0132 about the refund."


def imported(project, *texts):
    data = "\n".join(json.dumps({"prompt": t}) for t in texts).encode()
    result = import_prompts(project, io.BytesIO(data), filename="p.jsonl")
    assert result.ok, result.as_dict()
    # The import launched the data-hygiene job (queue default); run its body as the worker would.
    (job,) = Job.objects.filter(project=project, kind="hygiene", status="queued")
    assert jobs.run(job.id, hygiene.run_hygiene_job) == "succeeded"
    return [Prompt.objects.get(project=project, text=t) for t in texts]


def test_import_clusters_near_duplicates_and_the_queue_filters_by_cluster(project, approved):
    a, a2, a3, b = imported(project, A, A2, A3, B)
    a.refresh_from_db(), a2.refresh_from_db(), a3.refresh_from_db(), b.refresh_from_db()
    assert a.cluster_id == a2.cluster_id == a3.cluster_id == a.id and a.cluster_size == 3
    assert b.cluster_id is None and b.cluster_size == 1
    examples = {p.id: approved("x", prompt=p) for p in (a, a2, a3, b)}
    in_cluster, _ = filtered_examples(project, {"cluster": str(a.id)})
    assert {e.prompt_id for e in in_cluster} == {a.id, a2.id, a3.id}
    one, _ = filtered_examples(project, {"one_per_cluster": "true"})
    assert {e.prompt_id for e in one} == {a.id, b.id}
    assert examples


def test_a_bulk_action_on_a_cluster_changes_exactly_that_cluster(project, approved, client_as):
    a, a2, a3, b = imported(project, A, A2, A3, B)
    for p in (a, a2, a3, b):
        approved("x", prompt=p, status="pending")
    client = client_as("reviewer")
    url = reverse("review-bulk", args=[project.slug]) + f"?cluster={a.id}"
    page = client.get(url + "&action=reject")
    assert page.status_code == 200 and "Reject 3 examples?" in page.content.decode()
    response = client.post(url, {"action": "reject", "expected": "3"})
    assert response.status_code == 302, response.content[:500]
    statuses = dict(Example.objects.values_list("prompt_id", "status"))
    assert [statuses[p.id] for p in (a, a2, a3, b)] == ["rejected", "rejected", "rejected", "pending"]


def test_a_snapshot_can_hold_at_most_one_example_per_cluster(project, approved, build):
    a, a2, a3, b = imported(project, A, A2, A3, B)
    for p in (a, a2, a3, b):
        approved(p.text, prompt=p)
    snap = build(project, one_per_cluster=True)
    assert snap.excluded == {"cluster_duplicate": 2}
    assert len(rows_of(snap)) == 2
    assert build(project, name="all").row_count == 4


def test_personal_data_is_detected_on_import_and_filtered(project, approved, client_as):
    (p, q) = imported(project, PII, B)
    p.refresh_from_db()
    assert p.has_pii and {s["entity"] for s in p.pii_spans} == {"EMAIL_ADDRESS", "PHONE_NUMBER"}
    assert "jo.smith" not in json.dumps(p.pii_spans)  # offsets and types only
    approved("x", prompt=p)
    approved("y", prompt=q)
    flagged, _ = filtered_examples(project, {"pii": "true"})
    assert [e.prompt_id for e in flagged] == [p.id]
    page = client_as("reader").get(reverse("review-queue", args=[project.slug]) + "?pii=true").content.decode()
    assert "PII" in page


def test_the_focus_view_highlights_spans_escaped_and_a_reviewer_can_dismiss_one(project, approved, client_as):
    text = "<script>alert(1)</script> mail jo@example.com from 10.0.0.1"
    (p,) = imported(project, text)
    ex = approved("x", prompt=p)
    client = client_as("reviewer")
    page = client.get(reverse("review-focus", args=[project.slug, ex.id])).content.decode()
    assert '<mark class="pii" data-entity="EMAIL_ADDRESS"' in page and "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    start = text.index("10.0.0.1")
    url = reverse("review-pii", args=[project.slug, ex.id])
    client.post(url, {"part": -1, "start": start, "end": start + 8, "entity": "IP_ADDRESS", "is_pii": "false"})
    client.post(url, {"part": -1, "text": "mail", "entity": "OTHER", "is_pii": "true"})
    p.refresh_from_db()
    assert {s["entity"] for s in hygiene.effective_spans(p)} == {"EMAIL_ADDRESS", "OTHER"}
    # The decision sticks through a new detection.
    hygiene.detect_prompts(project, [p.id])
    p.refresh_from_db()
    assert {s["entity"] for s in hygiene.effective_spans(p)} == {"EMAIL_ADDRESS", "OTHER"}
    events = list(RedactionEvent.objects.filter(prompt=p).values_list("action", "entity", "where"))
    assert events == [("mark_not_pii", "IP_ADDRESS", "review"), ("mark_pii", "OTHER", "review")]
    bad = client.post(url, {"part": 7, "start": 0, "end": 3, "entity": "EMAIL_ADDRESS", "is_pii": "true"})
    assert bad.status_code == 302 and RedactionEvent.objects.filter(prompt=p).count() == 2


def test_a_redacting_snapshot_writes_placeholders_and_audits_without_values(project, approved, build, artifact_dir):
    (p,) = imported(project, PII)
    approved(PII, prompt=p)
    snap = build(project, redact_pii=True)
    (row,) = jsonl(artifact_dir, snap)
    assert row["prompt"] == "Contact <EMAIL> or <PHONE> about the refund."
    events = list(RedactionEvent.objects.filter(snapshot_id=snap.id).values())
    assert {e["entity"] for e in events} == {"EMAIL_ADDRESS", "PHONE_NUMBER"}
    assert "jo.smith" not in json.dumps(events, default=str) and "555" not in json.dumps(events, default=str)
    plain = build(project, name="plain")
    assert jsonl(artifact_dir, plain)[0]["prompt"] == PII and plain.content_hash != snap.content_hash


def test_the_api_checks_a_file_imports_gold_and_changes_settings(project, api):
    client = api("engineer")
    gold = io.BytesIO((json.dumps({"prompt": A, "reference": "Summary."}) + "\n").encode())
    gold.name = "gold.jsonl"
    r = client.post(reverse("api-gold-import", args=[project.slug]), {"file": gold})
    assert r.status_code == 201 and r.json()["gold_candidates"] == 1
    outside = io.BytesIO("\n".join(json.dumps({"prompt": t}) for t in (A3, B)).encode())
    outside.name = "outside.jsonl"
    r = client.post(reverse("api-gold-check", args=[project.slug]), {"file": outside})
    assert r.status_code == 200
    body = r.json()
    assert [(x["line"], x["excluded"], x["reason"]) for x in body] == [(1, True, "near"), (2, False, None)]
    r = client.patch(
        reverse("api-hygiene", args=[project.slug]), {"near_threshold": "2"}, content_type="application/json"
    )
    assert r.status_code == 400 and "near_threshold" in r.json()
    r = client.patch(
        reverse("api-hygiene", args=[project.slug]), {"near_threshold": 0.9}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["near_threshold"] == 0.9


def test_the_settings_page_saves_and_refuses_a_bad_threshold(project, client_as):
    client = client_as("engineer")
    url = reverse("project-hygiene", args=[project.slug])
    bad = client.post(url, {"near_threshold": "abc", "semantic_threshold": "0.9", "cluster_threshold": "0.7"})
    assert bad.status_code == 400 and "near_threshold must be a number" in bad.content.decode()
    ok = client.post(url, {"near_threshold": "0.6", "semantic_threshold": "0.9", "cluster_threshold": "0.7"})
    assert ok.status_code == 302
    project.refresh_from_db()
    assert hygiene.settings_of(project)["near_threshold"] == 0.6
    assert hygiene.settings_of(project)["redact_teacher"] is False  # unchecked box

"""Drift monitoring: windows of captured production prompts against the latest snapshot."""

import pytest
from django.urls import reverse

from bench._drift_shift import clean_window, is_planted, shifted_window
from curation.models import DriftReport, Prompt, Snapshot, SnapshotRow, WebhookDelivery, WebhookEndpoint
from curation.normalize import content_hash
from curation.services import datasets, drift
from curation.services.errors import Invalid
from workers.demo.corpus import LABELS, generate_tickets, triage_prompt

WINDOW = 40


@pytest.fixture
def project(db):
    """A triage (classification) project: ``client_as`` makes its members."""
    from tests.factories import ProjectFactory

    project = ProjectFactory(task_type="classification", labels=list(LABELS))
    drift.update_settings(project, {"window_size": WINDOW})
    return project


@pytest.fixture
def triage(project):
    return project


def make_snapshot(project, n=120, name="stage 1 v1"):
    """A ready snapshot of ``n`` demo triage tickets, as a snapshot build freezes them."""
    snapshot = Snapshot.objects.create(
        project=project, name=name, status=Snapshot.Status.READY, row_count=n, content_hash=f"{name}-{n}"
    )
    rows = []
    for i, ticket in enumerate(generate_tickets(n, 0, "train")):
        text = triage_prompt(ticket.text)
        rows.append(
            SnapshotRow(
                snapshot=snapshot, ordinal=i, prompt_hash=content_hash(text, None), prompt_text=text, label=ticket.label
            )
        )
    SnapshotRow.objects.bulk_create(rows)
    return snapshot


def capture(project, prompts, labels, tag):
    items = [
        {"client_id": f"{tag}-{i}", "prompt": p, "answer": label, "model": "triage-prod"}
        for i, (p, label) in enumerate(zip(prompts, labels))
    ]
    return datasets.capture(project, items)


def subscribe(project):
    return WebhookEndpoint.objects.create(
        project=project, url="http://127.0.0.1:9/hook", events=["drift.detected"], secret=WebhookEndpoint.new_secret()
    )


@pytest.mark.slow
def test_a_clean_window_is_not_flagged_and_a_planted_shift_is(triage):
    make_snapshot(triage)
    subscribe(triage)
    capture(triage, *clean_window(WINDOW, 7), "clean")

    (clean,) = drift.check_drift(triage)
    assert clean.n == WINDOW and not clean.flagged and clean.signals == [] and clean.drifted_prompts == 0
    assert set(clean.scores) == {"embedding", "length", "label"}  # no student: no confidence signal
    assert clean.thresholds["embedding"] == drift.DEFAULTS["embedding_threshold"]
    assert not Prompt.objects.filter(project=triage, drifted=True).exists()
    assert Prompt.objects.filter(project=triage, drift_similarity__isnull=False).count() == WINDOW
    assert not WebhookDelivery.objects.exists()

    prompts, labels = shifted_window(WINDOW, 8, new_share=0.5, long_share=0.6)
    capture(triage, prompts, labels, "shifted")
    (shifted,) = drift.check_drift(triage)
    assert shifted.flagged and "length" in shifted.signals, shifted.scores
    assert shifted.first_capture_id > clean.last_capture_id
    # The new category is further from the training set than clean traffic is.
    assert shifted.scores["embedding"] > clean.scores["embedding"] + 0.03, (clean.scores, shifted.scores)
    assert shifted.details["novel"] > clean.details["novel"]
    marked = list(Prompt.objects.filter(project=triage, drifted=True).values_list("text", flat=True))
    assert marked and shifted.drifted_prompts == len(marked)
    # What a flagged window marks is mostly the planted shift: the new category or the long backstory.
    assert sum(map(is_planted, marked)) >= 0.7 * len(marked), marked
    (delivery,) = WebhookDelivery.objects.filter(event="drift.detected")
    assert delivery.payload["data"]["drift_report"]["id"] == shifted.pk
    assert delivery.payload["data"]["drift_report"]["signals"] == shifted.signals

    assert drift.check_drift(triage) == []  # every full window is scored once


def test_a_partial_window_waits_and_no_snapshot_means_no_check(triage):
    capture(triage, *clean_window(WINDOW, 7), "clean")
    assert drift.check_drift(triage) == []  # no snapshot yet: nothing to compare with
    make_snapshot(triage, n=5, name="too small")
    assert drift.check_drift(triage) == []  # five prompts are no reference
    make_snapshot(triage)
    drift.update_settings(triage, {"window_size": WINDOW + 1})
    assert drift.check_drift(triage) == []  # 40 captures, windows of 41
    drift.update_settings(triage, {"window_size": WINDOW, "enabled": False})
    assert drift.check_drift(triage) == []
    assert not DriftReport.objects.exists()


@pytest.mark.slow
def test_a_capture_queues_the_check_once_a_full_window_waits(
    triage, client_as, monkeypatch, django_capture_on_commit_callbacks
):
    import webapp.celery

    monkeypatch.setitem(webapp.celery.app.conf, "task_always_eager", True)
    make_snapshot(triage)
    client = client_as("engineer")
    url = reverse("api-capture", args=[triage.slug])
    prompts, labels = clean_window(WINDOW, 7)
    items = [{"client_id": f"c{i}", "prompt": p, "answer": a} for i, (p, a) in enumerate(zip(prompts, labels))]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"items": items[:-1]}, content_type="application/json").status_code == 202
    assert not DriftReport.objects.exists() and not drift.after_capture(triage)  # one short of a window
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"items": items[-1:]}, content_type="application/json").status_code == 202
    (report,) = DriftReport.objects.all()
    assert report.n == WINDOW and report.last_capture_id == max(triage.captured_requests.values_list("id", flat=True))


def test_settings_are_checked_field_by_field(triage):
    with pytest.raises(Invalid) as refused:
        drift.update_settings(
            triage, {"length_threshold": "2", "window_size": "5", "colour": "red", "enabled": "maybe"}
        )
    assert set(refused.value.errors) == {"length_threshold", "window_size", "colour", "enabled"}
    assert drift.update_settings(triage, {"length_threshold": "0.3", "window_size": "200"})["length_threshold"] == 0.3
    assert drift.settings_of(triage)["window_size"] == 200


def test_the_settings_page_saves_thresholds(triage, client_as):
    client = client_as("engineer")
    url = reverse("project-drift", args=[triage.slug])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "window_size": "50",
            "embedding_threshold": "0.04",
            "length_threshold": "0.3",
            "label_threshold": "0.2",
            "confidence_threshold": "0.1",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    triage.refresh_from_db()
    assert drift.settings_of(triage)["embedding_threshold"] == 0.04 and drift.settings_of(triage)["window_size"] == 50
    bad = client.post(
        url,
        {
            "window_size": "x",
            "embedding_threshold": "0.04",
            "length_threshold": "0.3",
            "label_threshold": "0.2",
            "confidence_threshold": "0.1",
        },
    )
    assert bad.status_code == 400 and b"window_size" in bad.content


@pytest.mark.slow
def test_with_a_trained_student_its_confidence_is_a_signal(triage, tiny_student_dir):
    from curation.models import ModelVersion

    make_snapshot(triage)
    version = ModelVersion.objects.create(
        project=triage, name="student v1", is_final=True, artifact_path=str(tiny_student_dir)
    )
    capture(triage, *clean_window(WINDOW, 7), "clean")
    (report,) = drift.check_drift(triage)
    assert report.model_version == version
    assert set(report.scores) == {"embedding", "length", "label", "confidence"}
    assert 0 <= report.details["mean_confidence"] <= 1 and 0 <= report.details["training_mean_confidence"] <= 1
    assert report.thresholds["confidence"] == drift.DEFAULTS["confidence_threshold"]
    assert 0 <= report.p_values["confidence"] <= 1


def test_the_periodic_task_checks_every_capturing_project(triage, monkeypatch):
    from django.conf import settings

    import webapp.celery
    from workers.tasks import drift as tasks

    monkeypatch.setitem(webapp.celery.app.conf, "task_always_eager", True)
    assert settings.CELERY_BEAT_SCHEDULE["drift-check"]["task"] == tasks.check_all.name
    assert tasks.check_all() == 0  # nothing captured anywhere
    capture(triage, *clean_window(WINDOW, 7), "clean")
    assert tasks.check_all() == 1
    assert not DriftReport.objects.exists()  # no snapshot to compare with yet
    assert tasks.check(triage.pk + 1000) == 0  # a project deleted meanwhile

"""Drift on the dashboard, in the review queue's filter, over REST and in /metrics."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from curation.models import DriftReport, Snapshot
from curation.services.review import filtered_examples
from tests.factories import ExampleFactory, PromptFactory

EVIL = '<script>alert("drift")</script>'


def report(project, snapshot, i, flagged=False, **scores):
    start = timezone.now() - timedelta(hours=10 - i)
    return DriftReport.objects.create(
        project=project,
        snapshot=snapshot,
        first_capture_id=i * 100 + 1,
        last_capture_id=(i + 1) * 100,
        window_start=start,
        window_end=start + timedelta(minutes=50),
        n=100,
        scores={"embedding": 0.02 + 0.01 * i, "length": 0.1, **scores},
        p_values={"embedding": 0.5, "length": 0.4},
        thresholds={"embedding": 0.07, "length": 0.21},
        signals=["embedding"] if flagged else [],
        flagged=flagged,
        drifted_prompts=12 if flagged else 0,
    )


@pytest.fixture
def windows(project):
    old = Snapshot.objects.create(project=project, name="first", status="ready", row_count=5)
    new = Snapshot.objects.create(project=project, name=EVIL, status="ready", row_count=5)
    return [report(project, old, 0), report(project, old, 1), report(project, new, 2, flagged=True, embedding=0.09)]


def test_the_dashboard_draws_the_drift_chart_with_names_escaped(project, windows, client_as):
    ExampleFactory(prompt=PromptFactory(project=project))
    page = client_as("reader").get(reverse("project-dashboard", args=[project.slug])).content.decode()
    assert 'id="drift"' in page and "Drift score per window" in page
    assert page.count('class="line s-r0"') == 1 and 'class="line s-alarm"' in page  # similarity drop, alarm line
    assert 'class="marker"' in page  # where the snapshot changed
    assert EVIL not in page and "&lt;script&gt;alert(&quot;drift&quot;)&lt;/script&gt;" in page
    assert "?drifted=true" in page and "12 prompts marked" in page


def test_the_dashboard_says_when_no_window_was_scored_yet(project, client_as):
    Snapshot.objects.create(project=project, name="v1", status="ready", row_count=50)
    page = client_as("reader").get(reverse("project-dashboard", args=[project.slug])).content.decode()
    assert "No drift window yet" in page and 'class="line' not in page


def test_the_queue_filters_drifted_examples(project, client_as):
    drifted = ExampleFactory(prompt=PromptFactory(project=project, text="Where is my parcel?"))
    drifted.prompt.drifted = True
    drifted.prompt.save(update_fields=["drifted"])
    usual = ExampleFactory(prompt=PromptFactory(project=project, text="Refund my double charge"))
    only, _ = filtered_examples(project, {"drifted": "true"})
    rest, _ = filtered_examples(project, {"drifted": "false"})
    assert list(only) == [drifted] and list(rest) == [usual]
    page = client_as("reviewer").get(reverse("review-queue", args=[project.slug]), {"drifted": "true"}).content.decode()
    assert "Where is my parcel?" in page and "Refund my double charge" not in page
    assert '<select name="drifted">' in page


def test_the_api_lists_drift_reports_newest_first(project, windows, client_as):
    client = client_as("reader")
    url = reverse("api-drift-reports-list", args=[project.slug])
    body = client.get(url).json()
    assert [r["id"] for r in body["results"]] == [w.pk for w in reversed(windows)]
    newest = body["results"][0]
    assert newest["flagged"] and newest["signals"] == ["embedding"] and newest["scores"]["embedding"] == 0.09
    assert newest["thresholds"] == {"embedding": 0.07, "length": 0.21} and newest["drifted_prompts"] == 12
    assert client.get(url, {"since": "yesterday"}).status_code == 400  # unknown parameters are named
    assert client.post(url, {}).status_code in (403, 405)  # read-only


def test_another_projects_reports_are_not_listed(project, windows, client_as):
    from tests.factories import ProjectFactory

    other = ProjectFactory()
    report(other, None, 5)
    body = client_as("reader").get(reverse("api-drift-reports-list", args=[project.slug])).json()
    assert len(body["results"]) == 3


def test_metrics_expose_the_latest_drift_scores(project, windows, client, settings):
    settings.METRICS_TOKEN = "scrape-me"
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").content.decode()
    assert f'cc_drift_score{{project="{project.slug}",signal="embedding"}} 0.09' in text
    assert f'cc_drift_threshold{{project="{project.slug}",signal="length"}} 0.21' in text
    assert f'cc_drift_windows{{flagged="false",project="{project.slug}"}} 2.0' in text
    assert f'cc_drift_windows{{flagged="true",project="{project.slug}"}} 1.0' in text

"""GET /metrics: refused without the token; with it, the families the operators watch."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from curation import monitoring
from curation.models import Job
from curation.services import review
from tests.factories import ExampleFactory, JobFactory

pytestmark = pytest.mark.django_db
TOKEN = "scrape-secret-for-tests"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def samples(response):
    assert response.status_code == 200, response.content
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_anonymous_and_wrong_token_scrapes_are_refused(client, token):
    url = reverse("metrics")
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    assert b"cc_jobs" not in anonymous.content
    assert client.get(url, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_without_a_configured_token_every_scrape_is_refused(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_a_logged_in_user_without_the_token_is_refused(client_as, token):
    assert client_as("engineer").get(reverse("metrics")).status_code == 401


def test_jobs_durations_reviews_and_latency_are_reported(client, token, project, member):
    now = timezone.now()
    for seconds, status in [(5, "succeeded"), (120, "succeeded"), (30, "failed")]:
        JobFactory(
            project=project,
            kind=Job.Kind.DISTILL,
            status=status,
            started_at=now - timedelta(seconds=seconds),
            finished_at=now,
        )
    JobFactory(project=project, kind=Job.Kind.GENERATE, status="queued")
    alice = member("reviewer", "alice")
    for example in ExampleFactory.create_batch(3, prompt__project=project):
        review.apply(example, alice, "approve", example.version)
    client.get(reverse("healthz"))

    found = samples(client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))
    assert found[("cc_jobs", (("kind", "distill"), ("status", "succeeded")))] == 2
    assert found[("cc_jobs", (("kind", "generate"), ("status", "queued")))] == 1
    ok = (("kind", "distill"), ("status", "succeeded"))
    assert found[("cc_job_duration_seconds_count", ok)] == 2
    assert found[("cc_job_duration_seconds_sum", ok)] == pytest.approx(125, abs=1)
    assert found[("cc_job_duration_seconds_bucket", (*ok[:1], ("le", "60.0"), *ok[1:]))] == 1
    reviewer = (("action", "approve"), ("project", project.slug), ("reviewer", "alice"))
    assert found[("cc_review_decisions_total", reviewer)] == 3
    healthz = (("method", "GET"), ("status", "200"), ("view", "healthz"))
    assert found[("cc_http_request_duration_seconds_count", healthz)] >= 1


def test_queue_depth_counts_waiting_messages(settings, token, client):
    from webapp.celery import app

    queue = "i18-metrics-test"
    settings.METRICS_QUEUES = [queue]
    with app.connection_for_write() as conn:
        for _ in range(3):
            app.send_task("workers.tasks.health.ping", args=["x"], queue=queue, connection=conn)
    try:
        assert monitoring.queue_depths([queue])[queue] == 3
        found = samples(client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))
        assert found[("cc_celery_queue_depth", (("queue", queue),))] == 3
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)

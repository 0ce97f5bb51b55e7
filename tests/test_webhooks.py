"""Webhooks: Standard Webhooks signatures (checked with svix), retries with backoff, unsubscribe, pages."""

import json

import pytest
from django.urls import reverse
from svix.webhooks import Webhook, WebhookVerificationError

from curation.models import Job, WebhookDelivery
from curation.services import jobs, webhooks
from tests.factories import JobFactory
from tests.webhookserver import Receiver
from workers.tasks.webhooks import deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager(settings, monkeypatch):
    from webapp.celery import app

    # Celery reads its settings once per process: set the app's own conf, whatever ran before. The
    # conf first: were it first read under the overridden setting, its restored value would be eager.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.WEBHOOK_BACKOFF_S = 30
    settings.WEBHOOK_TIMEOUT_S = 1


def test_a_delivery_verifies_with_svix_and_a_tampered_one_does_not(project, eager, django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        endpoint = webhooks.subscribe(project, receiver.url, ["job.succeeded"])
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.emit(project, "job.succeeded", {"job": {"id": 7}})
    headers, body = receiver.received[0]
    Webhook(endpoint.secret).verify(body, headers)  # raises unless the signature is right
    payload = json.loads(body)
    assert payload["type"] == "job.succeeded"
    assert payload["data"] == {"job": {"id": 7}, "project": project.slug}
    assert headers["webhook-id"].startswith("msg_")
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(body.replace(b"7", b"8"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.WebhookEndpoint.new_secret()).verify(body, headers)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 1, 200)


def test_only_subscribed_endpoints_get_an_event(project, eager):
    webhooks.subscribe(project, "http://127.0.0.1:9/a", ["job.failed"])
    wanted = webhooks.subscribe(project, "http://127.0.0.1:9/b", ["job.failed", "snapshot.ready"])
    assert [d.endpoint for d in webhooks.emit(project, "snapshot.ready", {})] == [wanted]


def test_500s_are_retried_with_doubling_pauses_under_the_same_message_id(project, eager):
    with Receiver([500, 503, 200]) as receiver:
        endpoint = webhooks.subscribe(project, receiver.url, ["job.failed"])
        (delivery,) = webhooks.emit(project, "job.failed", {})
        assert webhooks.attempt(delivery.pk) == 30.0
        assert webhooks.attempt(delivery.pk) == 60.0
        assert webhooks.attempt(delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert [a["code"] for a in delivery.attempts_log] == [500, 503, 200]
    ids = {headers["webhook-id"] for headers, _ in receiver.received}
    assert ids == {delivery.message_id}
    for headers, body in receiver.received:  # every retry is signed afresh and verifies
        Webhook(endpoint.secret).verify(body, headers)


def test_the_celery_task_retries_until_delivered(
    project, eager, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from webapp.celery import app

    settings.CELERY_TASK_EAGER_PROPAGATES = False  # so eager apply() runs the retries, as a worker would
    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    with Receiver([500, 500, 200]) as receiver:
        webhooks.subscribe(project, receiver.url, ["job.failed"])
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.emit(project, "job.failed", {})
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    assert len(receiver.received) == 3


def test_a_timeout_is_a_failed_try_and_is_retried(project, eager):
    with Receiver(["hang", 204]) as receiver:
        webhooks.subscribe(project, receiver.url, ["job.failed"])
        (delivery,) = webhooks.emit(project, "job.failed", {})
        assert webhooks.attempt(delivery.pk) == 30.0
        delivery.refresh_from_db()
        assert delivery.attempts_log[0]["code"] is None
        assert "no answer within 1 s" in delivery.attempts_log[0]["error"]
        assert webhooks.attempt(delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code) == ("succeeded", 204)


def test_it_gives_up_after_the_last_attempt(project, eager, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    settings.WEBHOOK_MAX_BACKOFF_S = 45
    assert webhooks.backoff_s(1) == 30 and webhooks.backoff_s(2) == 45  # capped
    with Receiver([500, 500, 500]) as receiver:
        webhooks.subscribe(project, receiver.url, ["job.failed"])
        (delivery,) = webhooks.emit(project, "job.failed", {})
        assert webhooks.attempt(delivery.pk) == 30.0
        assert webhooks.attempt(delivery.pk) is None
        assert webhooks.attempt(delivery.pk) is None  # finished: nothing more is sent
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert len(receiver.received) == 2


def test_nothing_reaches_a_url_after_unsubscribe(project, eager, django_capture_on_commit_callbacks):
    with Receiver([500]) as receiver:
        endpoint = webhooks.subscribe(project, receiver.url, ["job.failed"])
        (delivery,) = webhooks.emit(project, "job.failed", {})
        assert webhooks.attempt(delivery.pk) == 30.0  # one failed try; a retry is pending
        webhooks.unsubscribe(endpoint)
        deliver.apply(args=[delivery.pk])  # the pending retry arrives
        with django_capture_on_commit_callbacks(execute=True):
            assert webhooks.emit(project, "job.failed", {}) == []
    assert len(receiver.received) == 1
    assert not WebhookDelivery.objects.exists()


def test_a_job_ending_emits_its_event(project):
    endpoint = webhooks.subscribe(project, "http://127.0.0.1:9/hook", list(webhooks.EVENTS))
    for status, event in [("succeeded", "job.succeeded"), ("failed", "job.failed"), ("gated", "gate.waiting")]:
        job = JobFactory(project=project, kind=Job.Kind.DISTILL, status="queued")
        jobs.run(job.pk, lambda ctx, status=status: jobs.JobOutcome(status, "done"))
        delivery = WebhookDelivery.objects.filter(endpoint=endpoint).first()
        assert delivery.event == event
        assert delivery.payload["data"]["job"] == {"id": job.pk, "kind": "distill", "status": status, "message": "done"}
    cancelled = JobFactory(project=project, status="queued")
    jobs.run(cancelled.pk, lambda ctx: jobs.JobOutcome("cancelled", ""))
    assert WebhookDelivery.objects.count() == 3


def test_bad_subscriptions_name_the_field(project):
    with pytest.raises(webhooks.Invalid) as caught:
        webhooks.subscribe(project, "ftp://example.com", ["job.exploded"])
    assert set(caught.value.errors) == {"url", "events"}


def test_the_settings_page_shows_the_secret_once_and_the_delivery_log(project, client_as, eager):
    client = client_as("engineer")
    url = reverse("webhook-add", args=[project.slug])
    response = client.post(url, {"url": "http://127.0.0.1:9/<b>x</b>", "events": ["job.failed", "snapshot.ready"]})
    assert response.status_code == 302
    endpoint = project.webhooks.get()
    assert endpoint.events == ["job.failed", "snapshot.ready"]
    first = client.get(reverse("project-settings", args=[project.slug])).content.decode()
    assert endpoint.secret in first
    assert "&lt;b&gt;x&lt;/b&gt;" in first and "<b>x</b>" not in first
    again = client.get(reverse("project-settings", args=[project.slug])).content.decode()
    assert endpoint.secret not in again and endpoint.secret_hint in again

    with Receiver([418]) as receiver:
        endpoint.url = receiver.url
        endpoint.save()
        assert client.post(reverse("webhook-test", args=[project.slug, endpoint.pk])).status_code == 302
        delivery = WebhookDelivery.objects.get()
        assert delivery.event == "webhook.test"
        webhooks.attempt(delivery.pk)
    log = client.get(reverse("project-settings", args=[project.slug])).content.decode()
    assert "webhook.test" in log and ">418<" in log

    client.post(reverse("webhook-remove", args=[project.slug, endpoint.pk]))
    assert not project.webhooks.exists()


def test_a_bad_webhook_form_is_a_400_naming_the_field(project, client_as):
    client = client_as("engineer")
    response = client.post(reverse("webhook-add", args=[project.slug]), {"url": "not a url"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "url: An http:// or https:// URL" in page and "events: Choose at least one event." in page
    assert not project.webhooks.exists()


def test_another_projects_webhook_is_not_found(project, client_as):
    from tests.factories import ProjectFactory

    other = webhooks.subscribe(ProjectFactory(), "http://127.0.0.1:9/x", ["job.failed"])
    client = client_as("engineer")
    assert client.post(reverse("webhook-remove", args=[project.slug, other.pk])).status_code == 404
    assert client.post(reverse("webhook-test", args=[project.slug, other.pk])).status_code == 404


def test_the_payload_is_json(project):
    webhooks.subscribe(project, "http://127.0.0.1:9/hook", ["snapshot.ready"])
    (delivery,) = webhooks.emit(project, "snapshot.ready", {"snapshot": {"id": 1}})
    assert json.loads(webhooks.body_of(delivery))["data"]["snapshot"] == {"id": 1}


def test_a_broker_that_is_down_does_not_fail_the_emitter(project, monkeypatch, django_capture_on_commit_callbacks):
    from webapp.celery import app

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    app.loader.import_default_modules()  # registers the task, as _enqueue does outside a worker
    monkeypatch.setattr(app.tasks[webhooks.TASK], "apply_async", refuse)
    webhooks.subscribe(project, "http://127.0.0.1:9/hook", ["job.failed"])
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = webhooks.emit(project, "job.failed", {})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)

"""Webhooks: a project's URLs subscribed to its events, signed per Standard Webhooks.

``emit(project, event, data)`` is called from the one place each event happens (a job's
end in ``jobs.finish``, a snapshot's build, an evaluation's report, an experiment's end).
It writes one ``WebhookDelivery`` per subscribed endpoint and, once the transaction
commits, enqueues ``workers.tasks.webhooks.deliver`` (queue ``default``). A try that gets
no 2xx answer (an error status, a timeout, a refused connection) is retried with
exponential backoff (``WEBHOOK_BACKOFF_S`` doubled each time, at most ``WEBHOOK_MAX_BACKOFF_S``)
until ``WEBHOOK_MAX_ATTEMPTS``; every try's response code is in the delivery log.

Signing is the ``svix`` package's (Standard Webhooks: HMAC-SHA256 over
``"{id}.{timestamp}.{body}"``, base64, ``v1,`` prefix, headers ``webhook-id``,
``webhook-timestamp``, ``webhook-signature``), so receivers verify with any Standard
Webhooks library. A retry keeps the message id and signs a fresh timestamp.
"""

from __future__ import annotations

import json
import logging
import uuid
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from svix.webhooks import Webhook

from curation.models import WebhookDelivery, WebhookEndpoint
from curation.services.errors import Invalid

EVENTS = (
    "job.succeeded",
    "job.failed",
    "gate.waiting",
    "snapshot.ready",
    "evaluation.ready",
    "experiment.ready",
    "drift.detected",
    "review.stage_ready",
)
TEST_EVENT = "webhook.test"
TASK = "workers.tasks.webhooks.deliver"
MAX_ENDPOINTS = 20
log = logging.getLogger(__name__)
Status = WebhookDelivery.Status


# ------------------------------------------------------------ subscriptions
def subscribe(project, url: str, events, *, by=None) -> WebhookEndpoint:
    """A new endpoint of ``project``; ``Invalid`` (on ``url`` or ``events``) for a bad request."""
    errors = Invalid()
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors.add("url", "An http:// or https:// URL, e.g. https://ci.example.com/hooks/curation.")
    elif len(url) > WebhookEndpoint._meta.get_field("url").max_length:
        errors.add("url", "At most 2,000 characters.")
    events = list(dict.fromkeys(events or []))
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        errors.add("events", f"Unknown event(s) {', '.join(map(str, unknown))[:200]}; choose from {', '.join(EVENTS)}.")
    elif not events:
        errors.add("events", "Choose at least one event.")
    if WebhookEndpoint.objects.filter(project=project).count() >= MAX_ENDPOINTS:
        errors.add("url", f"This project has {MAX_ENDPOINTS} webhooks; remove one first.")
    errors.raise_if_any()
    return WebhookEndpoint.objects.create(
        project=project, url=url, events=events, secret=WebhookEndpoint.new_secret(), created_by=by
    )


def unsubscribe(endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint; deliveries still waiting for a retry go with it and are never sent."""
    endpoint.delete()


# ----------------------------------------------------------------- emitting
def emit(project, event: str, data: dict) -> list[WebhookDelivery]:
    """Queue ``event`` for every endpoint of ``project`` subscribed to it."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    project_id = getattr(project, "pk", project)
    endpoints = [e for e in WebhookEndpoint.objects.filter(project_id=project_id) if event in e.events]
    return _queue(endpoints, event, data)


def send_test(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A ``webhook.test`` event to this endpoint alone, whatever it subscribes to."""
    return _queue([endpoint], TEST_EVENT, {"message": "A test event from the project settings page."})[0]


def _queue(endpoints, event: str, data: dict) -> list[WebhookDelivery]:
    if not endpoints:
        return []
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event=event,
            message_id=f"msg_{uuid.uuid4().hex}",
            payload={"type": event, "timestamp": now.isoformat(), "data": {**data, "project": endpoint.project.slug}},
        )
        for endpoint in endpoints
    )
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: [_enqueue(pk) for pk in ids])
    return deliveries


def _enqueue(delivery_id: int) -> None:
    """Queue one delivery. A broker that is down must not fail what emitted the event (a job's
    end, a page's request): the delivery stays pending, with no try, in the log."""
    from webapp.celery import app

    try:
        if TASK not in app.tasks:  # task modules load lazily outside a worker (see jobs.task_named)
            app.loader.import_default_modules()
        app.tasks[TASK].apply_async(args=[delivery_id])
    except Exception:
        log.exception("webhook delivery %s could not be queued", delivery_id)


# ---------------------------------------------------------------- delivering
def body_of(delivery: WebhookDelivery) -> str:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)


def signed_headers(secret: str, message_id: str, when, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "curriculum-curation-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, when, body),
    }


def backoff_s(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed try: doubling, capped."""
    return float(min(settings.WEBHOOK_BACKOFF_S * 2 ** (attempts - 1), settings.WEBHOOK_MAX_BACKOFF_S))


def attempt(delivery_id: int) -> float | None:
    """One try of a pending delivery; seconds until the next try, or None when there is none.

    A delivery whose endpoint was removed (unsubscribed) no longer exists: nothing is sent.
    """
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id, status=Status.PENDING).first()
    if delivery is None:
        return None
    endpoint, body, now = delivery.endpoint, body_of(delivery), timezone.now()
    code, error = None, ""
    try:
        response = requests.post(
            endpoint.url,
            data=body.encode(),
            headers=signed_headers(endpoint.secret, delivery.message_id, now, body),
            timeout=settings.WEBHOOK_TIMEOUT_S,
            allow_redirects=False,
        )
        code = response.status_code
    except requests.Timeout:
        error = f"no answer within {settings.WEBHOOK_TIMEOUT_S:g} s"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    attempts = delivery.attempts + 1
    if code is not None and 200 <= code < 300:
        status = Status.SUCCEEDED
    else:
        status = Status.FAILED if attempts >= settings.WEBHOOK_MAX_ATTEMPTS else Status.PENDING
        error = error or f"HTTP {code}"
    entry = {"at": now.isoformat(), "code": code, "error": error}
    updated = WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING, attempts=delivery.attempts).update(
        attempts=attempts,
        status=status,
        response_code=code,
        attempts_log=[*delivery.attempts_log, entry],
        finished_at=None if status == Status.PENDING else timezone.now(),
    )
    if not updated or status != Status.PENDING:  # another delivery of the message got there first, or done
        return None
    return backoff_s(attempts)


def recent_deliveries(project, limit: int = 50):
    return WebhookDelivery.objects.filter(endpoint__project=project).select_related("endpoint")[:limit]

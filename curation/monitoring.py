"""Prometheus metrics: request latency (middleware), and at scrape time, read from the
database and the broker: queue depth per Celery queue, jobs by kind and status, job
durations, review decisions per reviewer, webhook deliveries, drift scores of the latest window.

The database-backed families are computed per scrape, so every web process answers the
same numbers and nothing is lost when a process restarts. Request latency is kept in
the process that served the request; with several gunicorn workers set
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) so a scrape sums them.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

from django.conf import settings
from django.db.models import Count, Max
from prometheus_client import CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
JOB_BUCKETS = (1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600)

REQUEST_LATENCY = Histogram(
    "cc_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL name, method and status code.",
    ["view", "method", "status"],
    buckets=LATENCY_BUCKETS,
    registry=None,  # registered in ``registry()`` (or summed from files in multiprocess mode)
)


class RequestLatencyMiddleware:
    """Times every request; labelled by URL name (bounded), never by path."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.url_name or match.view_name) if match else "unmatched"
        REQUEST_LATENCY.labels(view or "unnamed", request.method, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response


def queue_depths(queues) -> dict[str, int | None]:
    """Messages waiting in each Celery queue (None: the broker could not say)."""
    from webapp.celery import app

    try:
        with app.connection_for_read() as conn:
            # Not passive: kombu's Redis transport answers a passive declare NOT_FOUND under a
            # global key prefix (CELERY_BROKER_KEY_PREFIX) even for a queue holding messages.
            # Declaring a queue the workers declare anyway changes nothing on Redis or the
            # filesystem broker.
            channel = conn.default_channel
            return {name: channel.queue_declare(queue=name).message_count for name in queues}
    except Exception:
        log.exception("cannot read Celery queue depths")
        return dict.fromkeys(queues)


class DatabaseCollector:
    """The families read at scrape time."""

    def collect(self):
        from curation.models import Job, Verdict, WebhookDelivery

        queue = GaugeMetricFamily("cc_celery_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"])
        for name, depth in queue_depths(settings.METRICS_QUEUES).items():
            if depth is not None:
                queue.add_metric([name], depth)
        yield queue

        jobs = GaugeMetricFamily(
            "cc_jobs", "Jobs by kind and status (finished ones are outcomes).", labels=["kind", "status"]
        )
        for row in Job.objects.values("kind", "status").annotate(n=Count("id")).order_by():
            jobs.add_metric([row["kind"], row["status"]], row["n"])
        yield jobs

        yield _job_durations(Job)

        decisions = CounterMetricFamily(
            "cc_review_decisions",
            "Approve/reject decisions reviewers made one by one (bulk actions not counted).",
            labels=["project", "reviewer", "action"],
        )
        rows = (
            Verdict.objects.filter(action__in=["approve", "reject"], bulk_id__isnull=True)
            .values("project__slug", "user__username", "action")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in rows:
            decisions.add_metric([row["project__slug"], row["user__username"] or "", row["action"]], row["n"])
        yield decisions

        hooks = GaugeMetricFamily("cc_webhook_deliveries", "Webhook deliveries by status.", labels=["status"])
        for row in WebhookDelivery.objects.values("status").annotate(n=Count("id")).order_by():
            hooks.add_metric([row["status"]], row["n"])
        yield hooks

        yield from _drift()


def _drift():
    """The latest drift window's score and threshold per project and signal, and windows by outcome."""
    from curation.models import DriftReport

    score = GaugeMetricFamily(
        "cc_drift_score", "Drift score of the project's latest window, by signal.", labels=["project", "signal"]
    )
    threshold = GaugeMetricFamily(
        "cc_drift_threshold", "Threshold the latest window was judged by, by signal.", labels=["project", "signal"]
    )
    newest = DriftReport.objects.values("project_id").annotate(last=Max("id")).values("last").order_by()
    latest = DriftReport.objects.filter(pk__in=newest).values("project__slug", "scores", "thresholds")
    for row in latest:
        for signal, value in sorted((row["scores"] or {}).items()):
            score.add_metric([row["project__slug"], signal], float(value))
        for signal, value in sorted((row["thresholds"] or {}).items()):
            threshold.add_metric([row["project__slug"], signal], float(value))
    yield score
    yield threshold
    windows = GaugeMetricFamily(
        "cc_drift_windows", "Drift windows scored, by project and whether flagged.", labels=["project", "flagged"]
    )
    for row in DriftReport.objects.values("project__slug", "flagged").annotate(n=Count("id")).order_by():
        windows.add_metric([row["project__slug"], str(row["flagged"]).lower()], row["n"])
    yield windows


def _job_durations(Job) -> HistogramMetricFamily:
    """Seconds from start to end of every finished job, by kind and outcome."""
    family = HistogramMetricFamily(
        "cc_job_duration_seconds", "Run time of finished jobs (start to end).", labels=["kind", "status"]
    )
    finished = Job.objects.filter(
        status__in=[Job.Status.SUCCEEDED, Job.Status.FAILED], started_at__isnull=False, finished_at__isnull=False
    ).values_list("kind", "status", "started_at", "finished_at")
    groups: dict[tuple[str, str], list[float]] = {}
    for kind, status, started, finished_at in finished.iterator():
        groups.setdefault((kind, status), []).append(max((finished_at - started).total_seconds(), 0.0))
    for labels, seconds in sorted(groups.items()):
        buckets = [(str(float(b)), sum(s <= b for s in seconds)) for b in JOB_BUCKETS]
        buckets.append(("+Inf", len(seconds)))
        family.add_metric(list(labels), buckets, sum(seconds))
    return family


def registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_LATENCY)
    registry.register(DatabaseCollector())
    return registry


def scrape_allowed(authorization: str) -> bool:
    """True when the header carries METRICS_TOKEN (as ``Bearer <token>``); no token set: never."""
    token = settings.METRICS_TOKEN
    scheme, _, given = (authorization or "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def exposition() -> bytes:
    return generate_latest(registry())

"""``GET /metrics``: the Prometheus scrape endpoint, for a bearer of METRICS_TOKEN only."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from curation import monitoring


@require_GET
def metrics(request):
    if not monitoring.scrape_allowed(request.headers.get("Authorization", "")):
        response = HttpResponse(
            "Send 'Authorization: Bearer <METRICS_TOKEN>'.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(monitoring.exposition(), content_type=CONTENT_TYPE_LATEST)

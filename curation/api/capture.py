"""``POST /api/v1/projects/<slug>/capture``: production requests into the pool (engineers, or a capture token)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.api.base import SLUG_PARAMETER, ProjectScoped
from curation.services import datasets, drift
from curation.services.errors import Invalid

CAPTURE_EXAMPLE = {
    "items": [
        {
            "client_id": "req-2026-12-04-000187",
            "prompt": "My invoice shows the wrong VAT number.",
            "answer": "billing",
            "model": "triage-student-v3",
            "timestamp": "2026-12-04T15:30:00Z",
            "metadata": {"region": "eu"},
        },
        {
            "client_id": "req-2026-12-04-000188",
            "messages": [{"role": "user", "content": "Where is my parcel?"}],
            "model": "triage-student-v3",
        },
    ]
}


class CaptureView(ProjectScoped, APIView):
    """Store a batch of production requests; resending a client id stores nothing twice."""

    @extend_schema(
        operation_id="capture",
        summary="Capture production requests (batches, idempotent by client_id)",
        parameters=[SLUG_PARAMETER],
        request=inline_serializer(
            "CaptureRequest",
            {"items": serializers.ListField(child=serializers.DictField(), max_length=datasets.MAX_CAPTURE_ITEMS)},
        ),
        responses={
            202: inline_serializer(
                "CaptureResult",
                {
                    "received": serializers.IntegerField(),
                    "stored": serializers.IntegerField(help_text="New requests."),
                    "replayed": serializers.IntegerField(help_text="Client ids already captured: skipped."),
                    "new_prompts": serializers.IntegerField(help_text="Prompts the pool did not hold yet."),
                },
            ),
            400: OpenApiResponse(
                OpenApiTypes.OBJECT, description="{'items.<i>.<field>': [message]}; nothing of the batch was stored."
            ),
        },
        examples=[
            OpenApiExample("A batch", request_only=True, value=CAPTURE_EXAMPLE),
            OpenApiExample(
                "Accepted",
                response_only=True,
                status_codes=["202"],
                value={"received": 2, "stored": 2, "replayed": 0, "new_prompts": 1},
            ),
        ],
    )
    def post(self, request, slug):
        body = request.data
        if not isinstance(body, dict) or set(body) != {"items"}:
            raise Invalid({"items": ['Send {"items": [...]}: an object with one key, items.']})
        result = datasets.capture(self.project, body["items"])
        if result.stored:
            drift.after_capture(self.project)
        return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)

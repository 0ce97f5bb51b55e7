"""``GET .../eval-reports/<id>/routing``: the report's routing simulation (readers)."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.api.base import SLUG_PARAMETER, ProjectScoped, checked_id
from curation.models import EvalReport
from curation.services import training

ROUTING_EXAMPLE = {
    "target": 0.99,
    "confidence": "top label probability",
    "chosen": {
        "validation": {"threshold": 0.62, "n": 40, "served": 31, "share": 0.775, "quality": 0.95},
        "gold": {
            "threshold": 0.62,
            "n": 60,
            "served": 45,
            "share": 0.75,
            "share_ci95": [0.63, 0.84],
            "quality": 0.9,
            "quality_ci95": [0.82, 0.97],
            "relative": 1.0,
            "relative_ci95": [0.94, 1.06],
            "teacher_quality": 0.9,
            "cost_ratio": 0.41,
            "latency_s_ratio": 0.39,
            "meets_target": True,
        },
    },
    "curve": [{"threshold": 0.5, "share": 0.9, "quality": 0.88, "quality_ci95": [0.8, 0.95]}],
    "notes": [],
}


class RoutingView(ProjectScoped, APIView):
    query_params = frozenset({"target"})

    @extend_schema(
        operation_id="eval_reports_routing",
        summary="Routing simulation: the student answers when confident, the teacher takes the rest",
        parameters=[
            SLUG_PARAMETER,
            OpenApiParameter("id", int, OpenApiParameter.PATH),
            OpenApiParameter(
                "target",
                OpenApiTypes.NUMBER,
                description="Quality to keep, as a share of the teacher's (default 0.99).",
            ),
        ],
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The curve on gold and the chosen threshold."),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="{'target': [message]}"),
            404: OpenApiResponse(description="No such report, or one written before routing data was recorded."),
        },
        examples=[OpenApiExample("A classification report", response_only=True, value=ROUTING_EXAMPLE)],
    )
    def get(self, request, slug, pk):
        report = get_object_or_404(
            EvalReport.objects.select_related("model_version__student_spec", "teacher_spec"),
            project=self.project,
            pk=checked_id(pk, "evaluation report"),
        )
        target = training.parse_target(request.query_params.get("target"))
        routing = training.routing_of(report, target)
        if routing is None:
            raise Http404("This report has no routing data: evaluate the model again to get it.")
        return Response(routing)

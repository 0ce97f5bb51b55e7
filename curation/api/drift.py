"""``GET .../drift-reports``: the project's drift windows, newest first (readers; read-only)."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers

from curation.api.base import SLUG_PARAMETER, ProjectViewSet
from curation.models import DriftReport

DRIFT_EXAMPLE = {
    "id": 12,
    "window_start": "2026-12-04T14:00:00Z",
    "window_end": "2026-12-04T15:10:00Z",
    "n": 100,
    "first_capture_id": 1101,
    "last_capture_id": 1200,
    "scores": {"embedding": 0.31, "length": 0.42, "label": 0.12},
    "p_values": {"embedding": 1.2e-12, "length": 3.4e-8, "label": 0.04},
    "thresholds": {"embedding": 0.2, "length": 0.25, "label": 0.2},
    "signals": ["embedding", "length"],
    "flagged": True,
    "drifted_prompts": 33,
    "details": {"mean_similarity": 0.71, "novel": 31},
    "snapshot": 7,
    "model_version": None,
    "created_at": "2026-12-04T15:11:02Z",
}


class DriftReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = DriftReport
        fields = [
            "id",
            "window_start",
            "window_end",
            "n",
            "first_capture_id",
            "last_capture_id",
            "scores",
            "p_values",
            "thresholds",
            "signals",
            "flagged",
            "drifted_prompts",
            "details",
            "snapshot",
            "model_version",
            "created_at",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        operation_id="drift_reports_list",
        summary="Drift of production prompts from the latest training snapshot, one report per window",
        parameters=[SLUG_PARAMETER],
        examples=[OpenApiExample("A flagged window", response_only=True, value=DRIFT_EXAMPLE)],
    )
)
class DriftReportViewSet(mixins.ListModelMixin, ProjectViewSet):
    serializer_class = DriftReportSerializer

    def get_queryset(self):
        if self.schema_project():
            return DriftReport.objects.none()
        return DriftReport.objects.filter(project=self.project)

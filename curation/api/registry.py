"""REST endpoints of the model registry and the evaluation reports: lists, details and
the version's .tar.gz download."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from curation.access import project_for
from curation.api.training import ID, SLUG
from curation.models import EvalReport, ModelVersion
from curation.services.inputs import parse_id
from curation.views.training import archive_response


class SnapshotRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    content_hash = serializers.CharField()


class ModelVersionSerializer(serializers.ModelSerializer):
    student_spec = serializers.CharField(source="student_spec.name", default=None, read_only=True)
    teacher_spec = serializers.CharField(source="teacher_spec.name", default=None, read_only=True)
    snapshots = SnapshotRefSerializer(many=True, read_only=True)
    gate = serializers.JSONField(read_only=True)
    parameters = serializers.IntegerField(read_only=True, allow_null=True)
    download_url = serializers.SerializerMethodField()
    eval_reports = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "name",
            "job",
            "stage",
            "stage_index",
            "is_final",
            "kd_mode",
            "parent",
            "student_spec",
            "teacher_spec",
            "snapshots",
            "gate",
            "metrics",
            "parameters",
            "created_at",
            "download_url",
            "eval_reports",
        ]
        read_only_fields = fields

    def get_download_url(self, version) -> str:
        return reverse(
            "api-model-version-download", args=[version.project.slug, version.pk], request=self.context.get("request")
        )


class ModelVersionDetailSerializer(ModelVersionSerializer):
    class Meta(ModelVersionSerializer.Meta):
        fields = ModelVersionSerializer.Meta.fields + ["config", "card", "artifact_path"]
        read_only_fields = fields


class EvalReportSerializer(serializers.ModelSerializer):
    teacher_spec = serializers.CharField(source="teacher_spec.name", default=None, read_only=True)

    class Meta:
        model = EvalReport
        fields = [
            "id",
            "model_version",
            "teacher_spec",
            "job",
            "quality_retained",
            "speedup",
            "metrics",
            "by_tier",
            "speed",
            "reliability",
            "created_at",
        ]
        read_only_fields = fields


class Pages(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


MODEL_VERSION_EXAMPLE = {
    "id": 12,
    "name": "triage student, final",
    "job": 44,
    "stage": "",
    "stage_index": None,
    "is_final": True,
    "kd_mode": "label",
    "parent": 11,
    "student_spec": "triage student",
    "teacher_spec": "triage teacher",
    "snapshots": [{"id": 3, "name": "stage 1, week 48", "content_hash": "98f75478e640…"}],
    "gate": {"metric": "accuracy", "threshold": 0.8, "value": 0.85, "passed": True},
    "metrics": {"accuracy": 0.85},
    "parameters": 8100000,
    "created_at": "2026-11-25T14:00:00Z",
    "download_url": "http://api.example.org/api/v1/projects/triage/model-versions/12/download",
    "eval_reports": [7],
}


class _ProjectScoped:
    pagination_class = Pages

    def project(self):
        if not hasattr(self, "_project"):
            self._project = project_for(self.request.user, self.kwargs["slug"])
        return self._project


class ModelVersionListView(_ProjectScoped, generics.ListAPIView):
    """The project's model versions, newest first (?final=true for final models only)."""

    serializer_class = ModelVersionSerializer

    def get_queryset(self):
        qs = (
            ModelVersion.objects.filter(project=self.project())
            .select_related("project", "student_spec", "teacher_spec")
            .prefetch_related("snapshots", "eval_reports")
            .order_by("-id")
        )
        if self.request.query_params.get("final") in ("1", "true"):
            qs = qs.filter(is_final=True)
        return qs

    @extend_schema(
        operation_id="model_versions_list",
        parameters=[SLUG, OpenApiParameter("final", bool, description="Final models only.")],
        examples=[OpenApiExample("A final model", response_only=True, value=MODEL_VERSION_EXAMPLE)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ModelVersionDetailView(_ProjectScoped, generics.RetrieveAPIView):
    serializer_class = ModelVersionDetailSerializer

    def get_queryset(self):
        return ModelVersion.objects.filter(project=self.project()).select_related(
            "project", "student_spec", "teacher_spec"
        )

    @extend_schema(
        operation_id="model_versions_retrieve",
        parameters=[SLUG, ID],
        examples=[
            OpenApiExample(
                "A final model",
                response_only=True,
                value={
                    **MODEL_VERSION_EXAMPLE,
                    "config": {"stages": ["stage 1"]},
                    "card": {"parameters": 8100000},
                    "artifact_path": "models/44/final",
                },
            )
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ModelVersionDownloadView(APIView):
    """The version as a .tar.gz (save_pretrained directory with its model card)."""

    @extend_schema(
        operation_id="model_versions_download",
        parameters=[SLUG, ID],
        responses={(200, "application/gzip"): OpenApiResponse(description="A .tar.gz archive."), 404: None},
    )
    def get(self, request, slug, pk):
        project = project_for(request.user, slug)
        return archive_response(
            get_object_or_404(ModelVersion.objects.select_related("project"), project=project, pk=pk)
        )


class EvalReportListView(_ProjectScoped, generics.ListAPIView):
    """The project's evaluation reports, newest first (?model_version=<id> to filter)."""

    serializer_class = EvalReportSerializer

    def get_queryset(self):
        qs = EvalReport.objects.filter(project=self.project()).select_related("teacher_spec").order_by("-id")
        version = self.request.query_params.get("model_version")
        if version:
            qs = qs.filter(model_version_id=parse_id(version) or -1)
        return qs

    @extend_schema(
        operation_id="eval_reports_list",
        parameters=[SLUG, OpenApiParameter("model_version", int)],
        examples=[
            OpenApiExample(
                "A report",
                response_only=True,
                value={
                    "id": 7,
                    "model_version": 12,
                    "teacher_spec": "triage teacher",
                    "job": 44,
                    "quality_retained": 0.94,
                    "speedup": 3.8,
                    "metrics": {"task": "classification", "quality_basis": "accuracy"},
                    "by_tier": {},
                    "speed": {},
                    "reliability": {},
                    "created_at": "2026-11-25T14:00:00Z",
                },
            )
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class EvalReportDetailView(_ProjectScoped, generics.RetrieveAPIView):
    serializer_class = EvalReportSerializer

    def get_queryset(self):
        return EvalReport.objects.filter(project=self.project()).select_related("teacher_spec")

    @extend_schema(
        operation_id="eval_reports_retrieve",
        parameters=[SLUG, ID],
        examples=[
            OpenApiExample(
                "A classification report",
                response_only=True,
                value={
                    "id": 7,
                    "model_version": 12,
                    "teacher_spec": "triage teacher",
                    "job": 44,
                    "quality_retained": 0.94,
                    "speedup": 3.8,
                    "metrics": {
                        "task": "classification",
                        "n_items": 60,
                        "quality_basis": "accuracy",
                        "student": {"n": 60, "accuracy": 0.85, "macro_f1": 0.83, "ece": 0.06, "teacher_agreement": 0.9},
                        "teacher": {"n": 60, "accuracy": 0.9, "macro_f1": 0.89, "ece": 0.04},
                    },
                    "by_tier": {
                        "student": {"easy": {"n": 30, "accuracy": 0.97}, "hard": {"n": 30, "accuracy": 0.73}},
                        "teacher": {"…": "…"},
                    },
                    "speed": {
                        "student": {
                            "latency_p50_ms": 4.1,
                            "latency_p95_ms": 6.0,
                            "tokens_per_s": 5200,
                            "parameters": 8100000,
                        },
                        "teacher": {
                            "latency_p50_ms": 15.6,
                            "latency_p95_ms": 21.0,
                            "tokens_per_s": 1400,
                            "parameters": 82000000,
                        },
                    },
                    "reliability": {
                        "student": {
                            "ece": 0.06,
                            "bins": [{"lower": 0.0, "upper": 0.0667, "confidence": None, "accuracy": None, "count": 0}],
                        }
                    },
                    "created_at": "2026-11-25T14:00:00Z",
                },
            )
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

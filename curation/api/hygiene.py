"""Data hygiene over the API: check an outside prompt file against the gold set, import gold items,
read and change a project's hygiene settings, and the redaction audit trail."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import parsers, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.access import project_for
from curation.api.imports import ImportResultSerializer
from curation.api.uploads import import_upload, read_upload, refused_file, upload_request
from curation.models import Role
from curation.services import hygiene
from curation.services.datasets import check_contamination
from curation.services.gold import READS_GOLD

SLUG = [OpenApiParameter("slug", str, OpenApiParameter.PATH)]
FILE_EXAMPLE = OpenApiExample(
    "Upload a JSONL file", request_only=True, media_type="multipart/form-data", value={"file": "outside.jsonl"}
)
SETTINGS_EXAMPLE = {
    "near_threshold": 0.5,
    "semantic": False,
    "semantic_threshold": 0.9,
    "clusters": True,
    "cluster_threshold": 0.7,
    "pii_detect": True,
    "redact_teacher": True,
    "redact_snapshots": False,
}
IMPORT_EXAMPLE = {
    "imported": True,
    "created": 120,
    "duplicates": 0,
    "gold_candidates": 120,
    "lines": 120,
    "error_count": 0,
    "errors": [],
    "errors_truncated": False,
    "skipped_bad_lines": False,
}
UPLOAD = upload_request("PromptFileUpload", skip_bad_lines=False)


class LineDecisionSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    excluded = serializers.BooleanField(allow_null=True, help_text="null: the line is not a valid prompt (see error).")
    reason = serializers.ChoiceField(choices=["exact", "near", "semantic"], allow_null=True)
    gold_item = serializers.IntegerField(allow_null=True)
    similarity = serializers.FloatField(allow_null=True, help_text="Jaccard (near), cosine (semantic), 1.0 (exact).")
    evidence = serializers.CharField(allow_null=True, required=False)
    error = serializers.CharField(required=False)


class RedactionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    where = serializers.CharField()
    entity = serializers.CharField()
    prompt = serializers.IntegerField(allow_null=True)
    part = serializers.IntegerField()
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    user = serializers.CharField(allow_null=True)
    job = serializers.IntegerField(allow_null=True)
    snapshot = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class ContaminationCheckView(APIView):
    """Which lines of a prompt file are exact, near or semantic duplicates of the gold set (nothing stored)."""

    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    @extend_schema(
        operation_id="gold_contamination_check",
        request=UPLOAD,
        parameters=SLUG,
        responses={200: LineDecisionSerializer(many=True), 400: OpenApiResponse(OpenApiTypes.OBJECT)},
        examples=[
            FILE_EXAMPLE,
            OpenApiExample(
                "One object per line",
                response_only=True,
                status_codes=["200"],
                value=[
                    {
                        "line": 1,
                        "excluded": True,
                        "reason": "near",
                        "gold_item": 12,
                        "similarity": 0.83,
                        "evidence": "near-duplicate of gold item 12 (Jaccard 0.83)",
                    },
                    {
                        "line": 2,
                        "excluded": False,
                        "reason": None,
                        "gold_item": None,
                        "similarity": None,
                        "evidence": None,
                    },
                ],
            ),
        ],
    )
    def post(self, request, slug):
        project = project_for(request.user, slug, READS_GOLD)  # the answer names gold items
        upload = read_upload(request)
        with refused_file():
            lines = check_contamination(
                project, upload.file, filename=upload.file.name, fmt=upload.fmt, size=upload.file.size
            )
        return Response(lines)


class GoldImportView(APIView):
    """Import confirmed gold items ({prompt|messages, reference|label, tier?} per line), engineers."""

    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    @extend_schema(
        operation_id="gold_import",
        request=upload_request("GoldImportRequest"),
        parameters=SLUG,
        responses={201: ImportResultSerializer, 400: OpenApiResponse(OpenApiTypes.OBJECT)},
        examples=[
            OpenApiExample(
                "Upload gold items",
                request_only=True,
                media_type="multipart/form-data",
                value={"file": "gold.jsonl", "skip_bad_lines": False},
            ),
            OpenApiExample("Imported", response_only=True, status_codes=["201"], value=IMPORT_EXAMPLE),
        ],
    )
    def post(self, request, slug):
        return import_upload(request, project_for(request.user, slug, Role.ENGINEER), as_gold=True)


class HygieneSettingsView(APIView):
    """A project's data-hygiene settings (thresholds, PII options): read (reviewers), change (engineers)."""

    @extend_schema(
        operation_id="hygiene_settings",
        parameters=SLUG,
        responses={200: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Settings", response_only=True, status_codes=["200"], value=SETTINGS_EXAMPLE)],
    )
    def get(self, request, slug):
        project = project_for(request.user, slug, Role.REVIEWER)
        return Response(hygiene.settings_of(project))

    @extend_schema(
        operation_id="hygiene_settings_update",
        parameters=SLUG,
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiResponse(OpenApiTypes.OBJECT)},
        examples=[
            OpenApiExample("Stricter near-duplicates", request_only=True, value={"near_threshold": 0.6}),
            OpenApiExample(
                "Saved", response_only=True, status_codes=["200"], value={**SETTINGS_EXAMPLE, "near_threshold": 0.6}
            ),
        ],
    )
    def patch(self, request, slug):
        project = project_for(request.user, slug, Role.ENGINEER)
        if not isinstance(request.data, dict):
            return Response({"__all__": ["Send a JSON object of settings."]}, status=400)
        return Response(hygiene.update_settings(project, dict(request.data)))  # Invalid: 400 (api/errors)


class RedactionLogView(APIView):
    """The audit trail of personal data (engineers): who or which job redacted or judged what kind of
    entity where; never the value. The newest 500."""

    @extend_schema(
        operation_id="redactions",
        parameters=SLUG,
        responses={200: RedactionSerializer(many=True)},
        examples=[
            OpenApiExample(
                "Audit rows",
                response_only=True,
                status_codes=["200"],
                value=[
                    {
                        "id": 7,
                        "action": "redact",
                        "where": "teacher_request",
                        "entity": "EMAIL_ADDRESS",
                        "prompt": 31,
                        "part": -1,
                        "start": 14,
                        "end": 34,
                        "user": None,
                        "job": 5,
                        "snapshot": None,
                        "created_at": "2026-12-04T16:00:00Z",
                    }
                ],
            )
        ],
    )
    def get(self, request, slug):
        project = project_for(request.user, slug, Role.ENGINEER)
        rows = hygiene.redaction_log(project)[:500]
        return Response(
            [
                {
                    "id": r.id,
                    "action": r.action,
                    "where": r.where,
                    "entity": r.entity,
                    "prompt": r.prompt_id,
                    "part": r.part,
                    "start": r.start,
                    "end": r.end,
                    "user": r.user.username if r.user else None,
                    "job": r.job_id,
                    "snapshot": r.snapshot_id,
                    "created_at": r.created_at,
                }
                for r in rows
            ]
        )

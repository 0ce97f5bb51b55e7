"""Data hygiene over the API: check an outside prompt file against the gold set, import gold items,
read and change a project's hygiene settings, and the redaction audit trail."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import parsers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.access import project_for
from curation.api.imports import ImportResultSerializer
from curation.models import Role
from curation.services import hygiene
from curation.services.datasets import ImportRejected, check_contamination, import_prompts
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
UPLOAD = inline_serializer(
    "PromptFileUpload",
    {"file": serializers.FileField(), "format": serializers.ChoiceField(choices=["jsonl", "csv"], required=False)},
)


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


def _upload(request):
    upload = request.FILES.get("file")
    if upload is None:
        return None, Response({"file": ["Upload the prompt file in the 'file' field."]}, status=400)
    fmt = request.data.get("format") or None
    if fmt not in (None, "jsonl", "csv"):
        return None, Response({"format": [f"Unknown format {fmt!r}: use jsonl or csv."]}, status=400)
    return (upload, fmt), None


class ContaminationCheckView(APIView):
    """Which lines of a prompt file are exact, near or semantic duplicates of the gold set (nothing stored)."""

    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    @extend_schema(
        operation_id="gold_contamination_check",
        request={"multipart/form-data": UPLOAD},
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
        got, problem = _upload(request)
        if problem:
            return problem
        upload, fmt = got
        try:
            lines = check_contamination(project, upload, filename=upload.name, fmt=fmt, size=upload.size)
        except ImportRejected as exc:
            return Response({"file": [str(exc)]}, status=400)
        return Response(lines)


class GoldImportView(APIView):
    """Import confirmed gold items ({prompt|messages, reference|label, tier?} per line), engineers."""

    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    @extend_schema(
        operation_id="gold_import",
        request={
            "multipart/form-data": inline_serializer(
                "GoldImportRequest",
                {
                    "file": serializers.FileField(),
                    "format": serializers.ChoiceField(choices=["jsonl", "csv"], required=False),
                    "skip_bad_lines": serializers.BooleanField(required=False, default=False),
                },
            )
        },
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
        project = project_for(request.user, slug, Role.ENGINEER)
        got, problem = _upload(request)
        if problem:
            return problem
        upload, fmt = got
        skip = str(request.data.get("skip_bad_lines", "")).lower() in ("1", "true", "yes", "on")
        try:
            result = import_prompts(
                project, upload, filename=upload.name, fmt=fmt, skip_bad_lines=skip, size=upload.size, as_gold=True
            )
        except ImportRejected as exc:
            return Response({"file": [str(exc)]}, status=400)
        return Response(result.as_dict(), status=status.HTTP_201_CREATED if result.ok else 400)


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

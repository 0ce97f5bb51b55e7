"""Data hygiene over the API: check an outside prompt file against the gold set, import gold items,
read and change a project's hygiene settings, and the redaction audit trail."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
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

    @extend_schema(operation_id="hygiene_settings", parameters=SLUG, responses={200: OpenApiTypes.OBJECT})
    def get(self, request, slug):
        project = project_for(request.user, slug, Role.REVIEWER)
        return Response(hygiene.settings_of(project))

    @extend_schema(
        operation_id="hygiene_settings_update",
        parameters=SLUG,
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiResponse(OpenApiTypes.OBJECT)},
    )
    def patch(self, request, slug):
        project = project_for(request.user, slug, Role.ENGINEER)
        if not isinstance(request.data, dict):
            return Response({"__all__": ["Send a JSON object of settings."]}, status=400)
        return Response(hygiene.update_settings(project, dict(request.data)))  # Invalid: 400 (api/errors)


class RedactionLogView(APIView):
    """The audit trail of personal data (engineers): who or which job redacted or judged what kind of
    entity where; never the value. The newest 500."""

    @extend_schema(operation_id="redactions", parameters=SLUG, responses={200: OpenApiTypes.OBJECT})
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

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import parsers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.access import project_for
from curation.models import Role
from curation.services.datasets import ImportRejected, import_prompts


class ImportResultSerializer(serializers.Serializer):
    imported = serializers.BooleanField(help_text="False when bad lines stopped the import (nothing was stored).")
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    gold_candidates = serializers.IntegerField()
    lines = serializers.IntegerField()
    error_count = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField())
    errors_truncated = serializers.BooleanField()
    skipped_bad_lines = serializers.BooleanField()


class PromptImportView(APIView):
    """Import prompts from an uploaded JSONL or CSV file (engineers)."""

    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    @extend_schema(
        operation_id="prompts_import",
        request={
            "multipart/form-data": inline_serializer(
                "PromptImportRequest",
                {
                    "file": serializers.FileField(),
                    "format": serializers.ChoiceField(choices=["jsonl", "csv"], required=False),
                    "skip_bad_lines": serializers.BooleanField(required=False, default=False),
                },
            )
        },
        parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH)],
        responses={
            201: ImportResultSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description=(
                    "Bad lines (the import result; nothing was stored unless skip_bad_lines) or a bad field "
                    "({field: [message]})."
                ),
            ),
        },
        examples=[
            OpenApiExample(
                "Upload a JSONL file",
                request_only=True,
                media_type="multipart/form-data",
                value={"file": "prompts.jsonl", "format": "jsonl", "skip_bad_lines": False},
            ),
            OpenApiExample(
                "Imported",
                response_only=True,
                status_codes=["201"],
                value={
                    "imported": True,
                    "created": 998,
                    "duplicates": 2,
                    "gold_candidates": 10,
                    "lines": 1000,
                    "error_count": 0,
                    "errors": [],
                    "errors_truncated": False,
                    "skipped_bad_lines": False,
                },
            ),
            OpenApiExample(
                "Bad lines",
                response_only=True,
                status_codes=["400"],
                value={
                    "imported": False,
                    "created": 0,
                    "duplicates": 0,
                    "gold_candidates": 0,
                    "lines": 1000,
                    "error_count": 1,
                    "errors": [{"line": 17, "reason": "invalid JSON (Expecting ',' delimiter at column 31)"}],
                    "errors_truncated": False,
                    "skipped_bad_lines": False,
                },
            ),
            OpenApiExample(
                "No file",
                response_only=True,
                status_codes=["400"],
                value={"file": ["Upload the prompt file in the 'file' field."]},
            ),
        ],
    )
    def post(self, request, slug):
        project = project_for(request.user, slug, Role.ENGINEER)
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"file": ["Upload the prompt file in the 'file' field."]}, status=400)
        fmt = request.data.get("format") or None
        if fmt not in (None, "jsonl", "csv"):
            return Response({"format": [f"Unknown format {fmt!r}: use jsonl or csv."]}, status=400)
        skip = str(request.data.get("skip_bad_lines", "")).lower() in ("1", "true", "yes", "on")
        try:
            result = import_prompts(
                project, upload, filename=upload.name, fmt=fmt, skip_bad_lines=skip, size=upload.size, by=request.user
            )
        except ImportRejected as exc:
            return Response({"file": [str(exc)]}, status=400)
        return Response(result.as_dict(), status=status.HTTP_201_CREATED if result.ok else 400)

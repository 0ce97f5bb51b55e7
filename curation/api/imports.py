from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import parsers, serializers
from rest_framework.views import APIView

from curation.access import project_for
from curation.api.uploads import import_upload, upload_request
from curation.models import Role


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
        request=upload_request("PromptImportRequest"),
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
        return import_upload(request, project_for(request.user, slug, Role.ENGINEER))

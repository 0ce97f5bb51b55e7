from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import parsers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.access import project_for
from curation.models import Role
from curation.services.imports import ImportRejected, import_prompts


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
        responses={201: ImportResultSerializer, 400: ImportResultSerializer},
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
            result = import_prompts(project, upload, filename=upload.name, fmt=fmt, skip_bad_lines=skip, size=upload.size)
        except ImportRejected as exc:
            return Response({"file": [str(exc)]}, status=400)
        return Response(result.as_dict(), status=status.HTTP_201_CREATED if result.ok else 400)

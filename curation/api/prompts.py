"""Prompts of a project (read). Importing is ``api/imports.py``."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers

from curation.api.base import SLUG_PARAMETER, ProjectViewSet
from curation.models import Prompt
from curation.services import gold

MAX_QUERY = 200


class PromptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prompt
        fields = ["id", "text", "messages", "source", "metadata", "content_hash", "created_at"]


PROMPT_EXAMPLE = {
    "id": 17,
    "text": "My invoice shows the wrong VAT number.",
    "messages": None,
    "source": "imported",
    "metadata": {"lang": "en"},
    "content_hash": "5d41402abc4b2a76b9719d911017c592ae7e1d0f4a8b1ec2f6d1f9a3e2c1b0aa",
    "created_at": "2026-11-25T12:00:00Z",
}


@extend_schema_view(
    list=extend_schema(
        summary="Prompts, newest first (readers do not see gold prompts)",
        parameters=[
            SLUG_PARAMETER,
            OpenApiParameter(
                "source", OpenApiTypes.STR, enum=Prompt.Source.values, description="Only prompts from this source."
            ),
            OpenApiParameter(
                "q", OpenApiTypes.STR, description=f"Text in the prompt (at most {MAX_QUERY} characters)."
            ),
        ],
        examples=[OpenApiExample("A page of prompts", response_only=True, value=PROMPT_EXAMPLE)],
    ),
    retrieve=extend_schema(
        summary="One prompt",
        parameters=[SLUG_PARAMETER],
        examples=[OpenApiExample("A prompt", value=PROMPT_EXAMPLE, response_only=True)],
    ),
)
class PromptViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectViewSet):
    serializer_class = PromptSerializer
    query_params = frozenset({"source", "q"})

    def get_queryset(self):
        if self.schema_project():
            return Prompt.objects.none()
        return gold.hide_gold_from_readers(self.project, Prompt.objects.filter(project=self.project))

    def filter_queryset(self, queryset):
        params = self.request.query_params
        source = params.get("source")
        if source not in (None, ""):
            if source not in Prompt.Source.values:
                raise serializers.ValidationError({"source": [f"Choose one of {', '.join(Prompt.Source.values)}."]})
            queryset = queryset.filter(source=source)
        text = params.get("q", "").strip()
        if len(text) > MAX_QUERY:
            raise serializers.ValidationError({"q": [f"At most {MAX_QUERY} characters."]})
        if text:
            queryset = queryset.filter(text__icontains=text)
        return queryset

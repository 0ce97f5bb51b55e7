"""Examples: the review queue's filter (``curation.filters``) and keyset pages, over REST."""

import math

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from curation.api.base import SLUG_PARAMETER, ProjectViewSet, page_size
from curation.models import Example, Prompt
from curation.services import gold
from curation.services.errors import Invalid
from curation.services.review import DEFAULT_ORDER, PARAMS, ExampleFilter, filtered_examples, keyset_page


class ExamplePromptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prompt
        fields = ["id", "text", "messages", "source"]


class ExampleSerializer(serializers.ModelSerializer):
    prompt = ExamplePromptSerializer(read_only=True)
    tier = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    stage = serializers.SlugRelatedField(slug_field="name", read_only=True)
    reviewed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    confidence = serializers.SerializerMethodField(
        help_text="exp(mean log-prob): the teacher's geometric-mean token probability."
    )
    response = serializers.CharField(source="response_text", read_only=True, help_text="The current response.")
    original_response = serializers.CharField(
        source="teacher_response",
        read_only=True,
        help_text="The teacher's text: the same as response until a reviewer edits it.",
    )
    has_soft_targets = serializers.SerializerMethodField(
        help_text="Whether the current response has teacher soft targets."
    )

    class Meta:
        model = Example
        fields = [
            "id",
            "prompt",
            "response",
            "original_response",
            "edited",
            "label",
            "status",
            "approvals",
            "conflict",
            "tier",
            "tier_locked",
            "stage",
            "grade",
            "version",
            "source",
            "difficulty",
            "confidence",
            "mean_logprob",
            "mean_entropy",
            "min_margin",
            "token_count",
            "checks_failed",
            "failed_checks",
            "has_soft_targets",
            "reviewed_by",
            "reviewed_at",
            "created_at",
            "updated_at",
        ]

    def get_confidence(self, example) -> float | None:
        return None if example.mean_logprob is None else math.exp(example.mean_logprob)

    def get_has_soft_targets(self, example) -> bool:
        return bool(example.soft_targets)


EXAMPLE_EXAMPLE = {
    "id": 42,
    "prompt": {"id": 17, "text": "My invoice shows the wrong VAT number.", "messages": None, "source": "imported"},
    "response": "billing",
    "original_response": "billing",
    "edited": False,
    "label": "billing",
    "status": "approved",
    "approvals": 1,
    "conflict": False,
    "tier": "easy",
    "tier_locked": False,
    "stage": "stage 1",
    "grade": 5,
    "version": 3,
    "source": "imported",
    "difficulty": 0.12,
    "confidence": 0.93,
    "mean_logprob": -0.072,
    "mean_entropy": 0.31,
    "min_margin": 0.8,
    "token_count": 1,
    "checks_failed": False,
    "failed_checks": [],
    "has_soft_targets": True,
    "reviewed_by": "alice",
    "reviewed_at": "2026-11-25T12:30:00Z",
    "created_at": "2026-11-25T12:00:00Z",
    "updated_at": "2026-11-25T12:30:00Z",
}
RELATED = ("prompt", "tier", "stage", "reviewed_by", "sample")


def _filter_parameter(name, spec):
    description = spec.extra.get("help_text") or (spec.label or name.replace("_", " "))
    if isinstance(spec, django_filters.MultipleChoiceFilter):
        schema = {"type": "array", "items": {"type": "string", "enum": [c for c, _ in spec.extra["choices"]]}}
        return OpenApiParameter(name, schema, explode=True, style="form", description=f"{description} (repeatable)")
    if isinstance(spec, django_filters.ChoiceFilter):
        return OpenApiParameter(
            name, OpenApiTypes.STR, enum=[c for c, _ in spec.extra["choices"]], description=description
        )
    if isinstance(spec, django_filters.BooleanFilter):
        return OpenApiParameter(name, OpenApiTypes.BOOL, description=description)
    if isinstance(spec, django_filters.NumberFilter):
        return OpenApiParameter(name, OpenApiTypes.NUMBER, description=description)
    return OpenApiParameter(name, OpenApiTypes.STR, description=description)


FILTER_PARAMETERS = [_filter_parameter(name, spec) for name, spec in ExampleFilter.base_filters.items()]
BOOLEAN_PARAMS = [n for n, spec in ExampleFilter.base_filters.items() if isinstance(spec, django_filters.BooleanFilter)]
BOOLEAN_VALUES = {"true", "false", "1", "0"}


class KeysetPagination(BasePagination):
    """The review queue's keyset pages (``filters.keyset_page``) in the view's filter order."""

    def paginate_queryset(self, queryset, request, view=None):
        order = getattr(view, "order", DEFAULT_ORDER)
        size = page_size(request)
        try:
            page = keyset_page(queryset, order, request.query_params.get("cursor") or None, size)
        except Invalid as exc:
            errors = dict(exc.errors)
            if "after" in errors:
                errors["cursor"] = errors.pop("after")
            raise serializers.ValidationError(errors) from None
        self.next_url = (
            replace_query_param(request.build_absolute_uri(), "cursor", page.next_cursor) if page.next_cursor else None
        )
        return page.items

    def get_paginated_response(self, data):
        return Response({"next": self.next_url, "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "example": "http://api.example.org/api/v1/projects/triage/examples/?status=approved&cursor=WyJvbGRlc3QiLG51bGwsNDJd",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "From the previous page's `next`.",
            },
            {
                "name": "size",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                "description": "Page size, 1 to 500 (default 50).",
            },
        ]


@extend_schema_view(
    list=extend_schema(
        summary="Examples matching the review queue's filter, one keyset page at a time",
        description=(
            "The same filter as the review queue (same parameters, same rows). Unknown parameters are refused "
            "with a 400 naming them. Follow `next` for the next page: each page costs what the first costs. "
            "Readers do not see examples of gold prompts."
        ),
        parameters=[SLUG_PARAMETER, *FILTER_PARAMETERS],
        examples=[OpenApiExample("Approved hard examples", response_only=True, value=EXAMPLE_EXAMPLE)],
    ),
    retrieve=extend_schema(
        summary="One example (its `version` is what a verdict must send back)",
        parameters=[SLUG_PARAMETER],
        examples=[OpenApiExample("An example", value=EXAMPLE_EXAMPLE, response_only=True)],
    ),
)
class ExampleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectViewSet):
    serializer_class = ExampleSerializer
    pagination_class = KeysetPagination
    order = DEFAULT_ORDER

    def get_queryset(self):
        if self.schema_project():
            return Example.objects.none()
        queryset = Example.objects.filter(project=self.project).select_related(*RELATED)
        return gold.hide_gold_from_readers(self.project, queryset)

    def check_query_params(self, request):
        if self.action == "list":
            allowed = set(PARAMS) | {"cursor", "size"}
            unknown = sorted(set(request.query_params) - allowed)
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [f"Unknown filter; the examples endpoint takes: {', '.join(sorted(allowed))}."]
                        for name in unknown
                    }
                )
            # The queue's form reads any other word as "either"; a client that sent one meant something.
            bad = [n for n in BOOLEAN_PARAMS if request.query_params.get(n, "true").lower() not in BOOLEAN_VALUES]
            if bad:
                raise serializers.ValidationError({n: ["Give true or false."] for n in bad})
        else:
            super().check_query_params(request)

    def filter_queryset(self, queryset):
        queryset, cleaned = filtered_examples(self.project, self.request.query_params, queryset)  # Invalid: 400
        self.order = cleaned.get("order") or DEFAULT_ORDER
        return queryset

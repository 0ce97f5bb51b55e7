"""Gold items: reviewers and engineers list, add and correct them.

Readers (training pipelines) cannot read the gold set at all: what is never trained
on must not be one API call away from a training job.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from curation.api.base import SLUG_PARAMETER, ProjectViewSet
from curation.models import GoldItem, Role
from curation.services import gold

MAX_TEXT = 100_000


class GoldPromptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    messages = serializers.JSONField(allow_null=True)


class GoldItemSerializer(serializers.ModelSerializer):
    prompt = GoldPromptSerializer(read_only=True)
    tier = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = GoldItem
        fields = [
            "id",
            "prompt",
            "content_hash",
            "reference",
            "label",
            "tier",
            "purpose",
            "confirmed",
            "created_by",
            "created_at",
            "updated_at",
        ]


class MessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "user", "assistant", "tool"])
    content = serializers.CharField(allow_blank=True, max_length=MAX_TEXT, trim_whitespace=False)


class GoldCreateSerializer(serializers.Serializer):
    prompt = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="An existing prompt's id."
    )
    prompt_text = serializers.CharField(
        required=False, max_length=MAX_TEXT, trim_whitespace=False, help_text="Or new prompt text."
    )
    messages = MessageSerializer(many=True, required=False, allow_empty=False, help_text="Or a new chat prompt.")
    reference = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT)
    label = serializers.CharField(required=False, allow_blank=True, max_length=100)
    tier = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=50)
    purpose = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text="test (the default: gold, the reports' score) or dev (what selection reads).",
    )
    confirmed = serializers.BooleanField(required=False, default=True)


class GoldUpdateSerializer(serializers.Serializer):
    reference = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT)
    label = serializers.CharField(required=False, allow_blank=True, max_length=100)
    tier = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=50)
    purpose = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text="test (the default: gold, the reports' score) or dev (what selection reads).",
    )
    confirmed = serializers.BooleanField(required=False)


GOLD_EXAMPLE = {
    "id": 7,
    "prompt": {"id": 17, "text": "Where do I change my VAT number?", "messages": None},
    "content_hash": "9a0364b9e99bb480dd25e1f0284c8555a7d1d4a4b5f1e1b3c5e7f9a1b3c5d7e9",
    "reference": "Settings, Billing, Tax.",
    "label": "",
    "tier": "easy",
    "purpose": "test",
    "confirmed": True,
    "created_by": "alice",
    "created_at": "2026-11-25T12:00:00Z",
    "updated_at": "2026-11-25T12:00:00Z",
}
BAD = OpenApiResponse(description="A field is wrong; the body names it (e.g. the prompt is already gold).")


@extend_schema_view(
    list=extend_schema(
        summary="The gold set (reviewers and engineers)",
        parameters=[
            SLUG_PARAMETER,
            OpenApiParameter("purpose", str, enum=["test", "dev"], description="Only the test set or the dev set."),
        ],
        examples=[OpenApiExample("Gold items", response_only=True, value=GOLD_EXAMPLE)],
    ),
    retrieve=extend_schema(
        summary="One gold item",
        parameters=[SLUG_PARAMETER],
        examples=[OpenApiExample("A gold item", response_only=True, value=GOLD_EXAMPLE)],
    ),
    create=extend_schema(
        summary="Add a gold item: an existing prompt, or new prompt text",
        parameters=[SLUG_PARAMETER],
        request=GoldCreateSerializer,
        responses={201: GoldItemSerializer, 400: BAD},
        examples=[
            OpenApiExample(
                "From new text",
                request_only=True,
                value={
                    "prompt_text": "Where do I change my VAT number?",
                    "reference": "Settings, Billing, Tax.",
                    "tier": "easy",
                },
            ),
            OpenApiExample("From an existing prompt", request_only=True, value={"prompt": 17, "label": "billing"}),
            OpenApiExample("Added", response_only=True, status_codes=["201"], value=GOLD_EXAMPLE),
        ],
    ),
    partial_update=extend_schema(
        summary="Correct a gold item's answer, tier, purpose or confirmation",
        parameters=[SLUG_PARAMETER],
        request=GoldUpdateSerializer,
        responses={200: GoldItemSerializer, 400: BAD},
        examples=[
            OpenApiExample(
                "Confirm with a better reference",
                request_only=True,
                value={"reference": "Settings → Billing → Tax ID.", "confirmed": True},
            ),
            OpenApiExample("Updated", response_only=True, value=GOLD_EXAMPLE),
        ],
    ),
)
class GoldItemViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, ProjectViewSet
):
    serializer_class = GoldItemSerializer
    read_role = gold.READS_GOLD
    write_role = Role.REVIEWER
    http_method_names = ["get", "post", "patch", "head", "options"]
    query_params = frozenset({"purpose"})

    def get_queryset(self):
        if self.schema_project():
            return GoldItem.objects.none()
        items = GoldItem.objects.filter(project=self.project).select_related("prompt", "tier", "created_by")
        purpose = self.request.query_params.get("purpose") if self.action == "list" else None
        return items.filter(purpose=gold.check_purpose(purpose)) if purpose else items

    def create(self, request, *args, **kwargs):
        incoming = GoldCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        item = gold.create_gold_item(
            self.project,
            request.user,
            prompt=data.get("prompt"),
            prompt_text=data.get("prompt_text"),
            messages=[dict(m) for m in data["messages"]] if "messages" in data else None,
            reference=data.get("reference", ""),
            label=data.get("label", ""),
            tier=data.get("tier"),
            purpose=data.get("purpose"),
            confirmed=data["confirmed"],
        )
        return Response(GoldItemSerializer(self.get_queryset().get(pk=item.pk)).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        item = self.get_object()
        unknown = (
            sorted(set(request.data.keys()) - set(GoldUpdateSerializer().fields))
            if hasattr(request.data, "keys")
            else []
        )
        if unknown:
            raise serializers.ValidationError(
                {k: ["Not a field you can change here (the prompt of a gold item never changes)."] for k in unknown}
            )
        incoming = GoldUpdateSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        item = gold.update_gold_item(item, dict(incoming.validated_data), by=request.user)
        return Response(GoldItemSerializer(self.get_queryset().get(pk=item.pk)).data)

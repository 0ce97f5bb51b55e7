"""API tokens of the signed-in user: create (the key is shown once), list, revoke."""

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from curation.api.base import IdCursorPagination
from curation.models import ApiToken
from curation.services import projects
from curation.services.inputs import parse_id


class TokenSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scope", "created_at", "expires_at", "last_used_at", "revoked_at", "active"]


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="What the token is for, e.g. 'training pipeline'.")
    scope = serializers.ChoiceField(
        choices=ApiToken.Scope.choices,
        default=ApiToken.Scope.FULL,
        help_text="full; read (GET only); capture (only POST prompts into the pool).",
    )
    expires_in_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=3650, help_text="Empty or null: never expires."
    )


class NewTokenSerializer(TokenSerializer):
    key = serializers.CharField(help_text="The key. Shown this once: only its hash is stored.")

    class Meta(TokenSerializer.Meta):
        fields = TokenSerializer.Meta.fields + ["key"]


TOKEN_EXAMPLE = {
    "id": 5,
    "name": "training pipeline",
    "prefix": "q3Jx9aZk",
    "scope": "read",
    "created_at": "2026-11-25T12:00:00Z",
    "expires_at": "2027-02-23T12:00:00Z",
    "last_used_at": "2026-11-25T13:10:00Z",
    "revoked_at": None,
    "active": True,
}


@extend_schema_view(
    list=extend_schema(
        summary="My API tokens (prefixes only; keys are never shown again)",
        examples=[OpenApiExample("Tokens", response_only=True, value=TOKEN_EXAMPLE)],
    ),
    create=extend_schema(
        summary="Create a token; the response holds its key, once",
        request=TokenCreateSerializer,
        responses={201: NewTokenSerializer, 400: OpenApiResponse(description="The body names the bad field.")},
        examples=[
            OpenApiExample(
                "Name it",
                request_only=True,
                value={"name": "training pipeline", "scope": "read", "expires_in_days": 90},
            ),
            OpenApiExample(
                "Created",
                response_only=True,
                status_codes=["201"],
                value={**TOKEN_EXAMPLE, "last_used_at": None, "key": "cc_q3Jx9aZk7YwB2v0m4c1-T8sE5rHn6uLpQdGfKjXo"},
            ),
        ],
    ),
    destroy=extend_schema(
        summary="Revoke a token (it stops working at once)",
        responses={
            204: OpenApiResponse(description="Revoked (or already revoked)."),
            404: OpenApiResponse(description="Not one of your tokens."),
        },
    ),
)
class TokenViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = TokenSerializer
    pagination_class = IdCursorPagination
    lookup_value_converter = "int"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        allowed = {"cursor", "size"} if self.action == "list" else set()
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise serializers.ValidationError({k: ["Unknown query parameter."] for k in unknown})

    def get_object(self):
        pk = str(self.kwargs.get("pk", ""))
        if parse_id(pk) is None:
            raise Http404("No such token.")
        return super().get_object()

    def create(self, request, *args, **kwargs):
        incoming = TokenCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        # ReviewError: 400 naming the field
        token, key = projects.issue(request.user, data["name"], data["scope"], data.get("expires_in_days"))
        token.key = key  # only on this instance, for this one response
        body = NewTokenSerializer(token).data
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        projects.revoke(instance)

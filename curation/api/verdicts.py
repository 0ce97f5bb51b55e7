"""Verdicts: an example's history (GET) and one reviewer decision (POST), with the optimistic lock.

A decision carries the ``version`` of the example the client loaded. If the example
changed since, nothing is written and the answer is 409 with the current version and
what changed (who, when, which fields), so the client can re-apply its decision on
purpose instead of overwriting someone else's.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from curation.api.base import SLUG_PARAMETER, OldestFirstPagination, ProjectViewSet, checked_id
from curation.api.examples import ExampleSerializer
from curation.models import Example, Role, Verdict
from curation.services import gold, review

MAX_TEXT = 100_000
MAX_COMMENT = 10_000
REQUIRED = {
    "edit": ["text"],
    "grade": ["grade"],
    "tier": ["tier"],
    "stage": ["stage"],
    "label": ["label"],
    "comment": ["comment"],
}


class VerdictSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Verdict
        fields = ["id", "action", "user", "changes", "comment", "version", "bulk_id", "created_at"]


class DecisionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=review.DECISIONS)
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, help_text="The example version you loaded.")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=MAX_COMMENT)
    text = serializers.CharField(required=False, max_length=MAX_TEXT, help_text="edit: the new response.")
    grade = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=5, help_text="grade: 1-5, or null to clear."
    )
    tier = serializers.CharField(
        required=False, allow_null=True, max_length=50, help_text="tier: a tier name, or null to clear."
    )
    stage = serializers.CharField(required=False, max_length=50, help_text="stage: the stage name to move to.")
    label = serializers.CharField(
        required=False, max_length=100, help_text="label (classification), or gold: the gold label."
    )
    reference = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_TEXT, help_text="gold: the reference answer."
    )

    def validate(self, data):
        for field in REQUIRED.get(data["action"], []):
            if field not in data:
                raise serializers.ValidationError({field: [f"Required for action {data['action']!r}."]})
        return data


class StaleSerializer(serializers.Serializer):
    detail = serializers.CharField()
    current_version = serializers.IntegerField()
    changes = serializers.ListField(child=serializers.DictField())
    example = ExampleSerializer()


DECISION_RESULT = inline_serializer(
    "DecisionResult",
    {
        "verdict": VerdictSerializer(),
        "example": ExampleSerializer(),
        "gold_item": serializers.IntegerField(allow_null=True, help_text="gold: the gold item's id."),
    },
)
VERDICT_EXAMPLE = {
    "id": 901,
    "action": "approve",
    "user": "alice",
    "changes": {"status": ["pending", "approved"]},
    "comment": "",
    "version": 4,
    "bulk_id": None,
    "created_at": "2026-11-25T12:31:00Z",
}
EXAMPLE_ID = OpenApiParameter("example_id", int, OpenApiParameter.PATH, description="The example's id.")


@extend_schema_view(
    list=extend_schema(
        summary="An example's history, oldest first",
        parameters=[SLUG_PARAMETER, EXAMPLE_ID],
        examples=[OpenApiExample("History", response_only=True, value=VERDICT_EXAMPLE)],
    ),
    create=extend_schema(
        summary="Decide on an example (reviewers and engineers)",
        description="Send the `version` you loaded. A stale version is refused with 409 and what changed since.",
        parameters=[SLUG_PARAMETER, EXAMPLE_ID],
        request=DecisionSerializer,
        responses={
            201: DECISION_RESULT,
            400: OpenApiResponse(
                description="A field is wrong or the action cannot be done; the body names the field."
            ),
            409: OpenApiResponse(StaleSerializer, description="Someone changed the example since your version."),
        },
        examples=[
            OpenApiExample("Approve", request_only=True, value={"action": "approve", "version": 3}),
            OpenApiExample(
                "Edit",
                request_only=True,
                value={
                    "action": "edit",
                    "version": 3,
                    "text": "The corrected answer.",
                    "comment": "fixed the VAT rule",
                },
            ),
            OpenApiExample(
                "Move to a stage", request_only=True, value={"action": "stage", "version": 3, "stage": "stage 2"}
            ),
            OpenApiExample(
                "Decided",
                response_only=True,
                status_codes=["201"],
                value={
                    "verdict": VERDICT_EXAMPLE,
                    "example": {"id": 42, "version": 4, "status": "approved"},
                    "gold_item": None,
                },
            ),
            OpenApiExample(
                "Stale version",
                response_only=True,
                status_codes=["409"],
                value={
                    "detail": "bob changed this example since you loaded it (version 4 now); your input was not saved.",
                    "current_version": 4,
                    "changes": [
                        {
                            "user": "bob",
                            "at": "2026-11-25T12:31:00Z",
                            "action": "edit",
                            "changes": {"response": ["Old.", "New."]},
                            "comment": "",
                            "version": 4,
                        }
                    ],
                    "example": {"id": 42, "version": 4},
                },
            ),
        ],
    ),
)
class VerdictViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, ProjectViewSet):
    serializer_class = VerdictSerializer
    pagination_class = OldestFirstPagination
    write_role = Role.REVIEWER

    def example(self) -> Example:
        if not hasattr(self, "_example"):
            pk = checked_id(self.kwargs["example_id"], "example")
            examples = gold.hide_gold_from_readers(self.project, Example.objects.filter(project=self.project))
            self._example = get_object_or_404(examples.select_related("project", "prompt"), pk=pk)
        return self._example

    def get_queryset(self):
        if self.schema_project():
            return Verdict.objects.none()
        return Verdict.objects.filter(example=self.example()).select_related("user")

    def get_serializer_class(self):
        return DecisionSerializer if self.action == "create" else VerdictSerializer

    def create(self, request, *args, **kwargs):
        example = self.example()
        decision = DecisionSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        data = decision.validated_data
        fields = {k: v for k, v in data.items() if k not in ("action", "version")}
        try:
            decided = review.apply(example, request.user, data["action"], data["version"], **fields)
        except review.StaleExample as stale:
            return Response(
                {
                    "detail": str(stale),
                    "current_version": stale.current.version,
                    "changes": stale.changes(),
                    "example": ExampleSerializer(
                        Example.objects.select_related("prompt", "tier", "stage", "reviewed_by").get(pk=example.pk)
                    ).data,
                },
                status=status.HTTP_409_CONFLICT,
            )
        except review.ReviewError as exc:  # a refusal about no one field is about the action
            raise serializers.ValidationError({exc.field or "action": [exc.message]}, code=exc.code) from None
        example = Example.objects.select_related("prompt", "tier", "stage", "reviewed_by").get(pk=example.pk)
        verdict = None
        if example.version > data["version"]:  # an edit to the same text writes nothing
            verdict = Verdict.objects.filter(example=example).select_related("user").order_by("-id").first()
        return Response(
            {
                "verdict": VerdictSerializer(verdict).data if verdict else None,
                "example": ExampleSerializer(example).data,
                "gold_item": decided.gold.pk if decided.gold else None,
            },
            status=status.HTTP_201_CREATED,
        )

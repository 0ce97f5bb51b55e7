"""Blind side-by-side review over the API (reviewers): claim the next pair, answer it, read the results.

A claimed pair comes as ``left`` and ``right`` answers and nothing else about them; the
verdict says what the reviewer preferred as seen (``left``, ``right``, ``tie``,
``both_bad``). Which model wrote which side is only in the results.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.api.base import ProjectScoped
from curation.api.training import ERRORS, ID, SLUG
from curation.models import PairComparison, PairItem, Role
from curation.services import review

ITEM = OpenApiParameter("item", int, OpenApiParameter.PATH, description="The pair's id.")

PAIR = inline_serializer(
    "BlindPair",
    {
        "comparison": serializers.IntegerField(),
        "item": serializers.IntegerField(),
        "prompt": serializers.JSONField(),
        "left": serializers.CharField(),
        "right": serializers.CharField(),
    },
)


WIN_RATE = inline_serializer(
    "PairWinRate",
    {
        "verdicts": serializers.IntegerField(),
        "a_better": serializers.IntegerField(),
        "b_better": serializers.IntegerField(),
        "ties": serializers.IntegerField(),
        "both_bad": serializers.IntegerField(),
        "win_rate": serializers.FloatField(allow_null=True, help_text="A better / (A better + B better)."),
        "ci95": serializers.ListField(child=serializers.FloatField(), allow_null=True, help_text="Wilson interval."),
    },
)
RESULTS = inline_serializer(
    "PairResults",
    {
        "id": serializers.IntegerField(),
        "a": serializers.CharField(),
        "b": serializers.CharField(),
        "second_pass": serializers.BooleanField(),
        "pairs": serializers.IntegerField(),
        "pairs_done": serializers.IntegerField(),
        "overall": WIN_RATE,
        "by_tier": serializers.DictField(child=WIN_RATE),
        "losses": serializers.ListField(child=serializers.IntegerField()),
    },
)


class PairVerdictSerializer(serializers.Serializer):
    choice = serializers.ChoiceField(
        choices=sorted(review.PAIR_CHOICES), help_text="What you prefer, as the sides were shown."
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=review.PAIR_NOTE_LIMIT)


def _comparison(project, pk) -> PairComparison:
    return get_object_or_404(PairComparison, project=project, pk=pk)


class PairNextView(ProjectScoped, APIView):
    """Lease the next open pair to you (the queue's lease rules); 204 when none is waiting for you."""

    write_role = Role.REVIEWER

    @extend_schema(
        operation_id="pairs_next",
        parameters=[SLUG, ID],
        request=None,
        responses={200: PAIR, 204: OpenApiResponse(description="No pair is waiting for you.")},
        examples=[
            OpenApiExample(
                "A pair",
                response_only=True,
                status_codes=["200"],
                value={
                    "comparison": 3,
                    "item": 41,
                    "prompt": "Customer: I was charged twice.",
                    "left": "Sorry about that: the second charge is refunded within 5 days.",
                    "right": "Please contact billing.",
                },
            )
        ],
    )
    def post(self, request, slug, pk):
        comparison = _comparison(self.project, pk)
        item = review.claim_next_pair(comparison, request.user)
        if item is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        left, right = item.sides()
        prompt = item.prompt.messages or item.prompt.text
        return Response({"comparison": comparison.pk, "item": item.pk, "prompt": prompt, "left": left, "right": right})


class PairVerdictView(ProjectScoped, APIView):
    """Your verdict on a pair: 201, 400 naming the field, or 409 (answered already, or leased to another reviewer)."""

    write_role = Role.REVIEWER

    @extend_schema(
        operation_id="pairs_verdict",
        parameters=[SLUG, ID, ITEM],
        request=PairVerdictSerializer,
        responses={
            201: inline_serializer("PairVerdictRecorded", {"item": serializers.IntegerField()}),
            400: ERRORS,
            409: ERRORS,
        },
        examples=[
            OpenApiExample(
                "Left is better", request_only=True, value={"choice": "left", "note": "answers the question"}
            ),
            OpenApiExample("Recorded", response_only=True, status_codes=["201"], value={"item": 41}),
        ],
    )
    def post(self, request, slug, pk, item):
        comparison = _comparison(self.project, pk)
        pair = get_object_or_404(PairItem, comparison=comparison, pk=item)
        data = PairVerdictSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            review.decide_pair(pair, request.user, data.validated_data["choice"], data.validated_data.get("note", ""))
        except review.ReviewError as exc:
            if exc.code == "conflict":
                return Response(exc.errors, status=status.HTTP_409_CONFLICT)
            raise
        return Response({"item": pair.pk}, status=status.HTTP_201_CREATED)


class PairResultsView(ProjectScoped, APIView):
    """A comparison's results: A's win rate over B with a Wilson interval, overall and by tier (50% = parity)."""

    read_role = Role.REVIEWER

    @extend_schema(
        operation_id="pairs_results",
        parameters=[SLUG, ID],
        responses={200: RESULTS},
        examples=[
            OpenApiExample(
                "Results",
                response_only=True,
                value={
                    "id": 3,
                    "a": "student v2 (report #12)",
                    "b": "teacher big-teacher",
                    "second_pass": False,
                    "pairs": 40,
                    "pairs_done": 40,
                    "overall": {
                        "verdicts": 40,
                        "a_better": 14,
                        "b_better": 18,
                        "ties": 6,
                        "both_bad": 2,
                        "win_rate": 0.4375,
                        "ci95": [0.28, 0.61],
                    },
                    "by_tier": {},
                    "losses": [41, 44],
                },
            )
        ],
    )
    def get(self, request, slug, pk):
        comparison = _comparison(self.project, pk)
        results = review.pair_results(comparison)
        return Response(
            {
                "id": comparison.pk,
                "a": comparison.label_a,
                "b": comparison.label_b,
                "second_pass": comparison.second_pass,
                "pairs": results["pairs"],
                "pairs_done": results["pairs_done"],
                "overall": results["overall"],
                "by_tier": results["by_tier"],
                "losses": [item.pk for item in results["losses"]],
            }
        )

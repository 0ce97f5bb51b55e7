"""The project's audit log over REST (engineers): the same entries and filters as the page."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.access import project_for
from curation.api.base import SLUG_PARAMETER
from curation.models import Role
from curation.services import audit

FILTERS = {"person", "kind", "since", "until", "before"}

ENTRY = inline_serializer(
    "AuditEntry",
    {
        "id": serializers.CharField(
            help_text="audit-<n>, verdict-<n>, redaction-<n> or bulk-<uuid>: unique across the log."
        ),
        "at": serializers.DateTimeField(),
        "actor": serializers.CharField(allow_null=True, help_text="Username; null for the system."),
        "kind": serializers.ChoiceField(choices=audit.KINDS),
        "action": serializers.CharField(),
        "target": serializers.CharField(),
        "before": serializers.JSONField(allow_null=True),
        "after": serializers.JSONField(allow_null=True),
    },
    many=True,
)


class AuditLogView(APIView):
    @extend_schema(
        summary="The project's audit log, newest first (engineers)",
        parameters=[
            SLUG_PARAMETER,
            OpenApiParameter("person", OpenApiTypes.STR, description="Only this username's changes."),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=audit.KINDS, description="Only this kind."),
            OpenApiParameter("since", OpenApiTypes.DATE, description="From this day (UTC), included."),
            OpenApiParameter("until", OpenApiTypes.DATE, description="Up to this day (UTC), included."),
            OpenApiParameter(
                "before", OpenApiTypes.STR, description="The cursor (a time, ~ and an entry id): `next` gives it."
            ),
        ],
        responses=inline_serializer("AuditPage", {"results": ENTRY, "next": serializers.CharField(allow_null=True)}),
        examples=[
            OpenApiExample(
                "A role change",
                response_only=True,
                value={
                    "results": [
                        {
                            "id": "audit-12",
                            "at": "2026-12-04T16:00:00+00:00",
                            "actor": "admin",
                            "kind": "role",
                            "action": "change",
                            "target": "alice",
                            "before": {"user": "alice", "role": "reviewer"},
                            "after": {"user": "alice", "role": "engineer"},
                        }
                    ],
                    "next": None,
                },
            )
        ],
    )
    def get(self, request, slug):
        project = project_for(request.user, slug, Role.ENGINEER)
        unknown = sorted(set(request.query_params) - FILTERS)
        if unknown:
            raise serializers.ValidationError({k: ["Unknown query parameter."] for k in unknown})
        rows, older = audit.page(project, audit.parse_filters(request.query_params))  # Invalid: 400
        next_url = None
        if older:
            query = request.query_params.copy()
            query["before"] = older
            next_url = request.build_absolute_uri(request.path) + "?" + query.urlencode()
        return Response({"results": [audit.as_json(row) for row in rows], "next": next_url})

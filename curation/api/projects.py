"""Projects (mine), and each project's tiers and stages (read-only)."""

from django.db.models import Count, Q
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from curation.access import project_for, visible_projects
from curation.api.base import SLUG_PARAMETER, IdCursorPagination, ProjectViewSet
from curation.models import Project, Stage, Tier
from curation.models.data import ExampleStatus


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role here: reader, reviewer or engineer.")

    class Meta:
        model = Project
        fields = ["slug", "name", "task_type", "labels", "guidelines", "require_second_approval", "role", "created_at"]

    def get_role(self, project) -> str:
        return self.context["roles"].get(project.id) or "engineer"


PROJECT_EXAMPLE = {
    "slug": "triage",
    "name": "Ticket triage",
    "task_type": "classification",
    "labels": ["billing", "bug", "account"],
    "guidelines": "Pick the team that should answer.",
    "require_second_approval": False,
    "role": "reader",
    "created_at": "2026-11-25T12:00:00Z",
}
NOT_FOUND = OpenApiResponse(description="No such project, or you are not a member (outsiders always get 404).")


class ProjectPagination(IdCursorPagination):
    ordering = "slug"


@extend_schema_view(
    list=extend_schema(
        summary="Projects I am a member of",
        examples=[OpenApiExample("My projects", value=PROJECT_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One of my projects",
        parameters=[SLUG_PARAMETER],
        responses={200: ProjectSerializer, 404: NOT_FOUND},
        examples=[OpenApiExample("A project", value=PROJECT_EXAMPLE, response_only=True)],
    ),
)
class ProjectApiViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ProjectSerializer
    pagination_class = ProjectPagination
    lookup_field = "slug"
    lookup_value_converter = "slug"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        return visible_projects(self.request.user)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["roles"] = dict(self.request.user.memberships.values_list("project_id", "role"))
        return context

    def list(self, request, *args, **kwargs):
        unknown = sorted(set(request.query_params) - {"cursor", "size"})
        if unknown:
            raise serializers.ValidationError(
                {k: ["Unknown query parameter; this endpoint takes: cursor, size."] for k in unknown}
            )
        return super().list(request, *args, **kwargs)

    def get_object(self):
        if set(self.request.query_params):
            raise serializers.ValidationError(
                {k: ["This endpoint takes no query parameters."] for k in self.request.query_params}
            )
        return project_for(self.request.user, self.kwargs["slug"])


class TierSerializer(serializers.ModelSerializer):
    examples = serializers.IntegerField(source="n_examples", read_only=True, help_text="Examples in this tier.")
    approved = serializers.IntegerField(
        source="n_approved", read_only=True, help_text="Approved examples in this tier."
    )

    class Meta:
        model = Tier
        fields = ["id", "name", "order", "examples", "approved"]


class StageSerializer(serializers.ModelSerializer):
    examples = serializers.IntegerField(source="n_examples", read_only=True, help_text="Examples in this stage.")
    approved = serializers.IntegerField(
        source="n_approved",
        read_only=True,
        help_text="Approved examples: what a snapshot of it holds before the gold guard.",
    )

    class Meta:
        model = Stage
        fields = ["id", "name", "order", "is_pool", "description", "examples", "approved"]


def _with_counts(qs):
    return qs.annotate(
        n_examples=Count("examples"), n_approved=Count("examples", filter=Q(examples__status=ExampleStatus.APPROVED))
    )


class _OrderedPagination(IdCursorPagination):
    ordering = ("order", "id")


class _CurriculumViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectViewSet):
    """Tiers and stages: the project's ordered rows with their example counts (read-only)."""

    pagination_class = _OrderedPagination

    def get_queryset(self):
        model = self.get_serializer_class().Meta.model
        if self.schema_project():
            return model.objects.none()
        return _with_counts(model.objects.filter(project=self.project))


@extend_schema_view(
    list=extend_schema(
        summary="The project's difficulty tiers, easiest first",
        parameters=[SLUG_PARAMETER],
        examples=[
            OpenApiExample(
                "Tiers",
                response_only=True,
                value={"id": 1, "name": "easy", "order": 0, "examples": 120, "approved": 80},
            )
        ],
    ),
    retrieve=extend_schema(
        summary="One tier",
        parameters=[SLUG_PARAMETER],
        examples=[
            OpenApiExample(
                "A tier",
                response_only=True,
                value={"id": 1, "name": "easy", "order": 0, "examples": 120, "approved": 80},
            )
        ],
    ),
)
class TierViewSet(_CurriculumViewSet):
    serializer_class = TierSerializer


@extend_schema_view(
    list=extend_schema(
        summary="The project's curriculum stages in order (the pool first)",
        parameters=[SLUG_PARAMETER],
        examples=[
            OpenApiExample(
                "Stages",
                response_only=True,
                value={
                    "id": 2,
                    "name": "stage 1",
                    "order": 1,
                    "is_pool": False,
                    "description": "Short answers.",
                    "examples": 300,
                    "approved": 280,
                },
            )
        ],
    ),
    retrieve=extend_schema(
        summary="One stage",
        parameters=[SLUG_PARAMETER],
        examples=[
            OpenApiExample(
                "A stage",
                response_only=True,
                value={
                    "id": 2,
                    "name": "stage 1",
                    "order": 1,
                    "is_pool": False,
                    "description": "",
                    "examples": 300,
                    "approved": 280,
                },
            )
        ],
    ),
)
class StageViewSet(_CurriculumViewSet):
    serializer_class = StageSerializer

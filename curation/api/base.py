"""What every project-scoped endpoint shares: the role check, strict query parameters, pagination."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import SAFE_METHODS

from curation.access import project_for
from curation.models import Role
from curation.services.inputs import parse_whole

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50

SLUG_PARAMETER = OpenApiParameter(
    "slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The project's slug.", pattern=r"^[-a-zA-Z0-9_]+$"
)


def page_size(request, default=DEFAULT_PAGE_SIZE) -> int:
    raw = request.query_params.get("size")
    if raw in (None, ""):
        return default
    size = parse_whole(raw, 1, MAX_PAGE_SIZE)
    if size is None:
        raise exceptions.ValidationError({"size": [f"A whole number from 1 to {MAX_PAGE_SIZE}, got {raw[:50]!r}."]})
    return size


class IdCursorPagination(CursorPagination):
    """Newest first by id: an index range per page, never OFFSET."""

    ordering = "-id"
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        return page_size(request, self.page_size)

    def get_paginated_response_schema(self, schema):
        document = super().get_paginated_response_schema(schema)
        for name, cursor in (("next", "cD0yMDI2LTExLTI1"), ("previous", "cj0xJnA9MjAyNi0xMS0yNQ")):
            document["properties"][name]["example"] = (
                f"http://api.example.org/api/v1/projects/triage/snapshots/?cursor={cursor}"
            )
        return document

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {"cursor": ["This cursor is out of date or broken; start again from the first page."]}
            ) from None


class OldestFirstPagination(IdCursorPagination):
    ordering = "id"


class ProjectScoped:
    """Looks the project up through ``project_for`` before anything else runs.

    Reads need ``read_role``; writes need ``write_role``. Outsiders get 404 whatever
    they ask, so an endpoint never tells them a project exists.
    """

    read_role = Role.READER
    write_role = Role.ENGINEER
    #: query parameters a GET may carry (anything else is a 400 naming it)
    query_params: frozenset[str] = frozenset()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        role = self.read_role if request.method in SAFE_METHODS else self.write_role
        self.project = project_for(request.user, kwargs.get("slug"), role)
        if request.method in SAFE_METHODS:
            self.check_query_params(request)

    def check_query_params(self, request):
        allowed = set(self.query_params)
        if getattr(self, "pagination_class", None) and self.action in ("list", None):
            allowed |= {"cursor", "size"}
        unknown = sorted(set(request.query_params.keys()) - allowed)
        if unknown:
            known = ", ".join(sorted(allowed)) or "none"
            raise exceptions.ValidationError(
                {name: [f"Unknown query parameter; this endpoint takes: {known}."] for name in unknown}
            )

    def schema_project(self):
        """Spectacular builds the schema without a request; querysets then start from nothing."""
        return getattr(self, "swagger_fake_view", False)


def checked_id(value, what: str) -> int:
    """A path id the database can hold; anything else is simply not found."""
    pk = parse_whole(value)
    if pk is None:
        raise Http404(f"No such {what} in this project.")
    return pk


class ProjectViewSet(ProjectScoped, viewsets.GenericViewSet):
    pagination_class = IdCursorPagination
    lookup_value_converter = "int"

    def get_object(self):
        checked_id(
            self.kwargs.get(self.lookup_url_kwarg or self.lookup_field), self.get_queryset().model._meta.verbose_name
        )
        return super().get_object()

"""The one scoped lookup every view and API endpoint uses.

An outsider learns nothing (404, as if the project did not exist); a member whose
role is too low for the action gets 403.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from curation.models import ROLE_RANK, Project, Role


def project_for(user, slug, min_role=Role.READER) -> Project:
    """The project ``slug`` as seen by ``user``, with ``.current_role`` set."""
    project = Project.objects.filter(slug=slug).first()
    role = project.role_of(user) if project is not None else None
    if role is None:
        raise Http404("No such project.")
    if ROLE_RANK[role] < ROLE_RANK[min_role]:
        raise PermissionDenied(f"This needs the {min_role} role; you are a {role} here.")
    project.current_role = role
    return project


def can(project: Project, min_role) -> bool:
    """Whether the role looked up by ``project_for`` reaches ``min_role`` (for templates)."""
    return ROLE_RANK[project.current_role] >= ROLE_RANK[min_role]


def visible_projects(user):
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)

"""Projects and their members, managed in the browser by engineers: create a project, its labels,
members and their roles. One rule throughout: a project always keeps at least one engineer.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from curation.models import Example, Membership, Project, Role
from curation.services.errors import Invalid

MAX_LABELS = 50
LABEL_CHARS = 50


def can_create_projects(user) -> bool:
    """Administrators, and anyone who is an engineer of some project."""
    return user.is_superuser or Membership.objects.filter(user=user, role=Role.ENGINEER).exists()


def parse_labels(text: str, field: str = "labels") -> list[str]:
    """Labels from one per line (or comma-separated): trimmed, in order, each once; Invalid on ``field``."""
    raw = [part.strip() for line in (text or "").splitlines() for part in line.split(",")]
    labels = list(dict.fromkeys(label for label in raw if label))
    problems = Invalid()
    if len(labels) > MAX_LABELS:
        problems.add(field, f"At most {MAX_LABELS} labels.")
    for label in labels:
        if len(label) > LABEL_CHARS:
            problems.add(field, f"“{label[:20]}…” is longer than {LABEL_CHARS} characters.")
    problems.raise_if_any()
    return labels


@transaction.atomic
def create_project(user, *, name: str, slug: str = "", task_type: str = "generation", labels: str = "") -> Project:
    """A project with the default tiers and stages, ``user`` its first engineer; Invalid naming the field."""
    problems = Invalid()
    name = (name or "").strip()
    slug = slugify(slug or name)[:100]
    if not name:
        problems.add("name", "Give the project a name.")
    elif len(name) > 200:
        problems.add("name", "At most 200 characters.")
    if name and not slug:
        problems.add("slug", "The address needs letters or digits.")
    elif slug and Project.objects.filter(slug=slug).exists():
        problems.add("slug", f"The address “{slug}” is taken; choose another.")
    if task_type not in Project.TaskType.values:
        problems.add("task_type", f"choose one of {', '.join(Project.TaskType.values)}.")
    try:
        label_list = parse_labels(labels)
    except Invalid as exc:
        problems.errors.update(exc.errors)
        label_list = []
    if task_type == Project.TaskType.CLASSIFICATION and not label_list and "labels" not in problems:
        problems.add("labels", "A classification project needs its labels, one per line.")
    problems.raise_if_any()
    project = Project.create_with_defaults(
        name=name, slug=slug, task_type=task_type, labels=label_list, created_by=user
    )
    Membership.objects.create(project=project, user=user, role=Role.ENGINEER)
    return project


def set_labels(project: Project, text: str) -> list[str]:
    """Replace the labels (order kept as typed); a label examples still carry cannot go."""
    labels = parse_labels(text)
    if project.is_classification and not labels:
        raise Invalid({"labels": ["A classification project needs at least one label."]})
    dropped = [label for label in project.labels or [] if label not in labels]
    in_use = (
        Example.objects.filter(project=project, label__in=dropped).values_list("label", flat=True).distinct()
        if dropped
        else []
    )
    if in_use:
        names = ", ".join(sorted(in_use))
        raise Invalid({"labels": [f"Examples still carry {names}: relabel them (the queue's label filter) first."]})
    project.labels = labels
    project.save(update_fields=["labels"])
    return labels


def _engineers_left(project: Project, without: Membership) -> int:
    return project.memberships.filter(role=Role.ENGINEER).exclude(pk=without.pk).count()


@transaction.atomic
def add_member(project: Project, username: str, role: str) -> Membership:
    """Add an existing user by username; Invalid on ``username`` or ``role``."""
    if role not in Role.values:
        raise Invalid({"role": [f"choose one of {', '.join(Role.values)}."]})
    user = get_user_model().objects.filter(username=(username or "").strip(), is_active=True).first()
    if user is None:
        raise Invalid({"username": [f"No active user is called “{(username or '').strip()}”."]})
    if project.memberships.filter(user=user).exists():
        raise Invalid({"username": [f"{user.username} is a member already; change their role below."]})
    return Membership.objects.create(project=project, user=user, role=role)


@transaction.atomic
def set_role(membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise Invalid({"role": [f"choose one of {', '.join(Role.values)}."]})
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if (
        membership.role == Role.ENGINEER
        and role != Role.ENGINEER
        and not _engineers_left(membership.project, membership)
    ):
        raise Invalid({"role": ["This is the project's only engineer: make someone else an engineer first."]})
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(membership: Membership) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.ENGINEER and not _engineers_left(membership.project, membership):
        raise Invalid({"member": ["This is the project's only engineer: make someone else an engineer first."]})
    membership.delete()

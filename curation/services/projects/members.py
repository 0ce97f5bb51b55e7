"""Who belongs to a project and in which role: the one path every surface (admin, command,
single sign-on, demo seed) takes, so each change leaves one audit entry."""

from django.db import transaction

from curation.models import Membership, Role
from curation.services import audit
from curation.services.errors import ReviewError


@transaction.atomic
def set_role(project, user, role: str, *, by=None) -> Membership:
    """Make ``user`` a member of ``project`` with ``role`` (adding or changing the membership)."""
    if role not in Role.values:
        raise ReviewError(f"{role!r} is not a role; choose one of {', '.join(Role.values)}.", "role")
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    who = user.get_username()
    if membership is None:
        membership = Membership.objects.create(project=project, user=user, role=role)
        audit.record(audit.Kind.MEMBERSHIP, "add", who, project=project, by=by, after={"user": who, "role": role})
    elif membership.role != role:
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit.record(
            audit.Kind.ROLE,
            "change",
            who,
            project=project,
            by=by,
            before={"user": who, "role": before},
            after={"user": who, "role": role},
        )
    return membership


@transaction.atomic
def remove_member(project, user, *, by=None) -> bool:
    """Take ``user`` out of ``project``; False when they were not a member."""
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership is None:
        return False
    who = user.get_username()
    membership.delete()
    audit.record(
        audit.Kind.MEMBERSHIP, "remove", who, project=project, by=by, before={"user": who, "role": membership.role}
    )
    return True

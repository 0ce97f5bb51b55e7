"""Work distribution: "next for me" hands each reviewer a different pending example.

A claim leases the example to one reviewer for ``REVIEW_LEASE_SECONDS``; nobody else is
handed it until the lease ends or the reviewer acts on it (every action in
``services.review`` releases the actor's lease). The claim is atomic on both
databases: PostgreSQL skips rows another transaction is claiming
(``FOR UPDATE SKIP LOCKED``) and SQLite's IMMEDIATE transactions serialise writers;
either way the final conditional UPDATE only takes a row that is still free, so a
lost race moves on to the next row instead of sharing one.

Second pass (``Project.require_second_approval``): examples that wait for a second
approval, or whose reviewers disagreed, come first, and never go back to the
reviewer who gave the first approval.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from curation.models import Example, ExampleStatus, Verdict
from curation.services.review.filters import cursor_at, rows_after

# A lost race retries with the next row; more than a handful of losses in a row means
# a crowd of reviewers on a tiny filter, and "nothing free right now" is the honest answer.
CLAIM_ATTEMPTS = 8


def lease_length() -> timedelta:
    return timedelta(seconds=settings.REVIEW_LEASE_SECONDS)


def free_for(user, now) -> Q:
    """Not leased to anyone else right now."""
    return Q(leased_by__isnull=True) | Q(lease_expires_at__lte=now) | Q(leased_by=user)


def leased_to_someone_else(example, user, now=None) -> bool:
    now = now or timezone.now()
    return bool(example.leased_by_id and example.leased_by_id != user.id and example.lease_expires_at > now)


def release_leases(project, user) -> int:
    return Example.objects.filter(project=project, leased_by=user).update(leased_by=None, lease_expires_at=None)


def without_my_first_approvals(queryset, user):
    """Drop examples whose pending approval is ``user``'s own: the second must come from someone else."""
    last_approver = (
        Verdict.objects.filter(example=OuterRef("pk"), action=Verdict.Action.APPROVE)
        .order_by("-id")
        .values("user_id")[:1]
    )
    return queryset.annotate(last_approver=Subquery(last_approver)).exclude(
        Q(approvals__gte=1) & Q(last_approver=user.id)
    )


@transaction.atomic
def claim_next(project, user, queryset, order: str, after=None) -> Example | None:
    """Lease the next pending example of ``queryset`` (in ``order``) to ``user``; None when none is free.

    ``after`` (an example) starts the search behind it (skipping it), wrapping around
    to the start of the filter. The reviewer's earlier leases in the project end.
    """
    now = timezone.now()
    release_leases(project, user)
    candidates = queryset.filter(status=ExampleStatus.PENDING).filter(free_for(user, now))
    groups = [candidates]
    if project.require_second_approval:
        candidates = without_my_first_approvals(candidates, user)
        groups = [candidates.filter(Q(approvals__gte=1) | Q(conflict=True)), candidates]
    for group in groups:
        for start in [after, None] if after is not None else [None]:
            claimed = _claim_first(group, order, start, user, now)
            if claimed is not None:
                return claimed
    return None


def _claim_first(candidates, order, start, user, now):
    locking = connection.features.has_select_for_update_skip_locked
    cursor = cursor_at(start, order) if start is not None else None
    for _ in range(CLAIM_ATTEMPTS):
        row = None
        for phase in rows_after(candidates, order, cursor):
            if locking:
                phase = phase.select_for_update(skip_locked=True, of=("self",))
            row = phase.first()
            if row is not None:
                break
        if row is None:
            return None
        taken = (
            Example.objects.filter(pk=row.pk, status=ExampleStatus.PENDING)
            .filter(free_for(user, now))
            .update(leased_by=user, lease_expires_at=now + lease_length())
        )
        if taken:
            return Example.objects.select_related("leased_by").get(pk=row.pk)
        cursor = cursor_at(row, order)
    return None

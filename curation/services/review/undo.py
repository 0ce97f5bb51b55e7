"""Undo: a reviewer's last decision on an example, or a whole bulk action, within a time window.

Both restore the exact values the audit rows (``Verdict.changes``, ``{field: [before, after]}``)
recorded as "before", and both are themselves audited: one ``Verdict`` with action ``undo``
per example (its changes read ``{field: [undone value, restored value]}``), and for a bulk
action a ``BulkAction`` of its own (action ``undo``, ``undoes`` the original).

The optimistic lock decides what may be undone: an example whose ``version`` is no longer
the one the audit row left (someone changed it since) keeps its newer values. A single
undo is then refused with ``StaleExample``; a bulk undo skips such examples and says how
many it skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from curation.models import BulkAction, Example, Verdict
from curation.services.errors import ReviewError
from curation.services.projects import stage_named, tier_named
from curation.services.review import readiness
from curation.services.review.decisions import StaleExample, _lock

A = Verdict.Action
# What a single undo can take back; an edit is taken back by editing, gold on the Gold page.
UNDOABLE = {A.APPROVE, A.REJECT, A.GRADE, A.TIER, A.STAGE, A.LABEL}
REVIEWING = (A.APPROVE, A.REJECT, A.EDIT, A.GRADE, A.LABEL)
PAST = {
    A.APPROVE: "approval",
    A.REJECT: "rejection",
    A.GRADE: "grade",
    A.TIER: "tier change",
    A.STAGE: "stage move",
    A.LABEL: "label change",
}
_BATCH = 500


def window() -> timedelta:
    return timedelta(seconds=settings.REVIEW_UNDO_SECONDS)


def undoable_verdict(example: Example, user, now=None) -> Verdict | None:
    """The verdict ``user`` may undo on ``example`` right now: their own, the latest, still in the window."""
    now = now or timezone.now()
    latest = Verdict.objects.filter(example_id=example.pk).order_by("-id").first()
    if (
        latest is None
        or latest.user_id != getattr(user, "id", None)
        or latest.bulk_id is not None
        or latest.action not in UNDOABLE
        or latest.version != example.version
        or latest.created_at < now - window()
    ):
        return None
    return latest


def _restored_fields(example: Example, verdict: Verdict) -> tuple[dict, list[str]]:
    """({field: [now, restored]}, fields to save) after setting ``example`` back to the verdict's "before"."""
    changes, fields = {}, []
    for field, pair in (verdict.changes or {}).items():
        if not (isinstance(pair, list) and len(pair) == 2) or pair[0] == pair[1]:
            continue
        before = pair[0]
        if field == "status":
            example.status = before
        elif field == "approvals":
            example.approvals = int(before or 0)
        elif field == "conflict":
            example.conflict = bool(before)
        elif field == "grade":
            example.grade = before
        elif field == "label":
            example.label = before or ""
        elif field == "tier":
            example.tier = tier_named(example.project, before) if before else None
            example.tier_locked = _tier_was_locked(example, verdict)
            fields.append("tier_locked")
        elif field == "stage":
            example.stage = stage_named(example.project, before)
        else:
            continue
        changes[field] = [pair[1], before]
        fields.append(field)
    return changes, fields


def _tier_was_locked(example: Example, verdict: Verdict) -> bool:
    """A tier is locked by a person's (or a bulk action's) tier verdict; auto-tiering never writes one."""
    earlier = (
        Verdict.objects.filter(example_id=example.pk, action=A.TIER, id__lt=verdict.id)
        .order_by("-id")
        .values_list("changes", flat=True)
        .first()
    )
    return bool(earlier and isinstance(earlier.get("tier"), list) and earlier["tier"][1] is not None)


@dataclass
class Undone:
    example: Example
    verdict: Verdict  # the one that was undone

    @property
    def description(self) -> str:
        what = PAST.get(self.verdict.action, self.verdict.action)
        return f"Undid the {what} of #{self.example.pk}"


@transaction.atomic
def undo_decision(example: Example, user, verdict_id: int | None, version: int | None, now=None) -> Undone:
    """Take back ``user``'s decision ``verdict_id`` on ``example``; ReviewError or StaleExample if it cannot be."""
    now = now or timezone.now()
    verdict = Verdict.objects.filter(pk=verdict_id, example_id=example.pk).first() if verdict_id else None
    if verdict is None:
        raise ReviewError("There is no such decision on this example to undo.", "verdict", code="not_found")
    if verdict.user_id != user.id or verdict.bulk_id is not None:
        raise ReviewError("Only the reviewer who made a decision can undo it here.", "verdict")
    if verdict.action not in UNDOABLE:
        raise ReviewError(f"A {verdict.get_action_display().lower()} cannot be undone; change it instead.", "verdict")
    if verdict.created_at < now - window():
        minutes = settings.REVIEW_UNDO_SECONDS // 60
        raise ReviewError(f"Undo is possible for {minutes} minutes after a decision; change it instead.", "verdict")
    ex = _lock(example, version)
    if ex.version != verdict.version:  # changed after this decision: undoing would overwrite that
        later = list(Verdict.objects.filter(example=ex, id__gt=verdict.id).select_related("user").order_by("id"))
        raise StaleExample(ex, later)
    left_stage = ex.stage_id
    changes, fields = _restored_fields(ex, verdict)
    if verdict.action in (A.APPROVE, A.REJECT, A.GRADE, A.LABEL):
        previous = (
            Verdict.objects.filter(example_id=ex.pk, id__lt=verdict.id, action__in=REVIEWING, bulk_id__isnull=True)
            .order_by("-id")
            .first()
        )
        ex.reviewed_by_id, ex.reviewed_at = (previous.user_id, previous.created_at) if previous else (None, None)
        fields += ["reviewed_by", "reviewed_at"]
    ex.version += 1
    ex.save(update_fields=sorted({*fields, "version", "updated_at"}))
    Verdict.objects.create(
        project_id=ex.project_id,
        example=ex,
        user=user,
        action=A.UNDO,
        changes=changes,
        comment=f"Undid the {PAST[verdict.action]} (v{verdict.version}).",
        version=ex.version,
    )
    readiness.refresh(ex.project_id, [ex.stage_id, left_stage])
    return Undone(Example.objects.select_related("tier", "stage").get(pk=ex.pk), verdict)


# ------------------------------------------------------------------ bulk
def undoable_bulk(project, user, now=None) -> BulkAction | None:
    """``user``'s latest bulk action in ``project`` that can still be undone (shown on the queue)."""
    now = now or timezone.now()
    return (
        BulkAction.objects.filter(project=project, user=user, undone_at__isnull=True, created_at__gte=now - window())
        .exclude(action="undo")
        .order_by("-created_at")
        .first()
    )


@dataclass
class BulkUndone:
    original: BulkAction
    undo: BulkAction
    restored: int
    skipped: int

    def describe(self) -> str:
        text = f"Undid {self.original.action} on {self.restored:,} example{'' if self.restored == 1 else 's'}"
        if self.skipped:
            text += f"; {self.skipped:,} changed since and keep their newer values"
        return text + "."


def _restore_values(project, changes: dict) -> dict:
    """The UPDATE's fields from one audit constant's "before" values."""
    values = {}
    for field, pair in changes.items():
        if not (isinstance(pair, list) and len(pair) == 2) or pair[0] == pair[1]:
            continue
        before = pair[0]
        if field == "status":
            values["status"] = before
        elif field == "approvals":
            values["approvals"] = int(before or 0)
        elif field == "conflict":
            values["conflict"] = bool(before)
        elif field == "tier":
            values["tier"] = tier_named(project, before) if before else None
        elif field == "stage":
            values["stage"] = stage_named(project, before)
    return values


@transaction.atomic
def undo_bulk(bulk: BulkAction, user, now=None) -> BulkUndone:
    """Restore every example of ``bulk`` still at the version the bulk action left it.

    Examples changed since keep their newer values and are counted as skipped. The bulk
    action's audit rows are found by ``bulk_id`` (not indexed: bulk inserts stay cheap,
    and an undo is rare).
    """
    now = now or timezone.now()
    bulk = BulkAction.objects.select_for_update().get(pk=bulk.pk)
    if bulk.action == "undo":
        raise ReviewError("An undo cannot itself be undone; apply the action again instead.", "bulk")
    if bulk.undone_at is not None:
        raise ReviewError("This bulk action was already undone.", "bulk")
    if bulk.user_id != user.id:
        raise ReviewError("Only the reviewer who applied a bulk action can undo it.", "bulk")
    if bulk.created_at < now - window():
        minutes = settings.REVIEW_UNDO_SECONDS // 60
        raise ReviewError(f"A bulk action can be undone for {minutes} minutes; apply the opposite action instead.")
    project = bulk.project
    audit = {
        example_id: (version, changes)
        for example_id, version, changes in Verdict.objects.filter(bulk_id=bulk.id).values_list(
            "example_id", "version", "changes"
        )
    }
    # Lock the examples still at the version the bulk action left them; the rest changed since.
    current = {}
    ids = list(audit)
    for start in range(0, len(ids), _BATCH):
        rows = (
            Example.objects.select_for_update(of=("self",))
            .filter(project=project, pk__in=ids[start : start + _BATCH])
            .values_list("pk", "version")
        )
        current.update(rows)
    restorable = {pk: audit[pk] for pk, version in current.items() if version == audit[pk][0]}
    undo = BulkAction.objects.create(
        project=project,
        user=user,
        action="undo",
        target=bulk.action,
        filter=bulk.filter,
        count=len(restorable),
        undoes=bulk,
    )
    groups: dict[str, list[int]] = {}
    constants = {}
    for pk, (_version, changes) in restorable.items():
        key = repr(sorted((changes or {}).items()))
        groups.setdefault(key, []).append(pk)
        constants[key] = changes or {}
    verdicts = []
    for key, pks in groups.items():
        values = _restore_values(project, constants[key])
        back = {field: [pair[1], pair[0]] for field, pair in constants[key].items() if pair[0] != pair[1]}
        for start in range(0, len(pks), _BATCH):
            chunk = pks[start : start + _BATCH]
            rows = Example.objects.filter(pk__in=chunk)
            if "tier" in values:
                # Locked again only where a person had set the tier before the bulk action.
                by_person = (
                    Verdict.objects.filter(example_id__in=chunk, action=A.TIER)
                    .exclude(bulk_id=bulk.id)
                    .values("example_id")
                )
                has_tier = values["tier"] is not None
                rows.filter(pk__in=by_person).update(tier_locked=has_tier)
                rows.exclude(pk__in=by_person).update(tier_locked=False)
            rows.update(**values, version=F("version") + 1, updated_at=now)
            verdicts += [
                Verdict(
                    project_id=project.id,
                    example_id=pk,
                    user=user,
                    action=A.UNDO,
                    changes=back,
                    comment=f"Undid bulk {bulk.action}",
                    bulk_id=undo.id,
                    version=restorable[pk][0] + 1,
                    created_at=now,
                )
                for pk in chunk
            ]
    Verdict.objects.bulk_create(verdicts, batch_size=_BATCH)
    bulk.undone_at = now
    bulk.save(update_fields=["undone_at"])
    readiness.refresh(project)
    return BulkUndone(bulk, undo, len(restorable), len(audit) - len(restorable))

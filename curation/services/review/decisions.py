"""One reviewer decision on one example: the rules, the optimistic lock, the audit row.

Every action takes the ``version`` the reviewer loaded. If someone else changed the
example since, nothing is written and ``StaleExample`` carries the current example and
the verdicts made after that version, so the page (or the API's 409) can show what
changed while the reviewer's own input stays in the form. Each change bumps
``Example.version`` and writes one append-only ``Verdict`` row.

Second pass (``Project.require_second_approval``): an approval by one reviewer leaves
the example pending with ``approvals = 1``; a second approval by a *different* reviewer
approves it. A rejection against an approval (or an approval against a rejection) is a
disagreement: the example goes back to pending with ``conflict = True`` (the
"conflicts" filter), and the next approve or reject settles it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from curation.models import Example, ExampleStatus, GoldItem, Stage, Tier, Verdict
from curation.services.errors import ReviewError
from curation.services.gold import create_gold_item, update_gold_item
from curation.services.inputs import to_number
from curation.services.projects import NONE, stage_named, tier_named
from curation.services.review import readiness

A = Verdict.Action


class StaleExample(Exception):
    def __init__(self, current: Example, verdicts: list[Verdict]):
        self.current = current
        self.verdicts = verdicts
        who = sorted({v.user.username if v.user else "someone" for v in verdicts}) or ["someone"]
        super().__init__(
            f"{', '.join(who)} changed this example since you loaded it (version {current.version} now); "
            "your input was not saved. Review the change, then save again."
        )

    def changes(self) -> list[dict]:
        """What changed, oldest first: who, when, action, {field: [before, after]}."""
        return [
            {
                "user": v.user.username if v.user else None,
                "at": v.created_at.isoformat(),
                "action": v.action,
                "changes": v.changes,
                "comment": v.comment,
                "version": v.version,
            }
            for v in self.verdicts
        ]


def _lock(example: Example, expected_version: int | None) -> Example:
    current = (
        Example.objects.select_for_update(of=("self",)).select_related("project", "stage", "tier").get(pk=example.pk)
    )
    if expected_version is not None and current.version != int(expected_version):
        later = list(
            Verdict.objects.filter(example=current, version__gt=int(expected_version))
            .select_related("user")
            .order_by("id")
        )
        raise StaleExample(current, later)
    return current


def _save(
    example: Example, user, action: str, changes: dict, fields: list[str], comment: str = "", left_stage=None
) -> Example:
    example.version += 1
    now = timezone.now()
    update = set(fields) | {"version", "updated_at"}
    if action in (A.APPROVE, A.REJECT, A.EDIT, A.GRADE, A.LABEL):
        example.reviewed_by, example.reviewed_at = user, now
        update |= {"reviewed_by", "reviewed_at"}
    # A decision finishes the reviewer's turn; grading or tiering on the way keeps the lease.
    holds_lease = example.leased_by_id is not None and example.leased_by_id == getattr(user, "id", None)
    if holds_lease and action in (A.APPROVE, A.REJECT):
        example.leased_by, example.lease_expires_at = None, None
        update |= {"leased_by", "lease_expires_at"}
    example.save(update_fields=sorted(update))
    Verdict.objects.create(
        project_id=example.project_id,
        example=example,
        user=user,
        action=action,
        changes=changes,
        comment=comment,
        version=example.version,
    )
    if action in (A.APPROVE, A.REJECT, A.STAGE):
        readiness.refresh(example.project_id, [example.stage_id, left_stage])
    return example


def _first_approver_id(example: Example):
    verdict = (
        Verdict.objects.filter(example=example, action=A.APPROVE)
        .order_by("-id")
        .values_list("user_id", flat=True)
        .first()
    )
    return verdict


@transaction.atomic
def approve(example: Example, user, version: int | None, comment: str = "") -> Example:
    ex = _lock(example, version)
    before = {"status": ex.status, "approvals": ex.approvals, "conflict": ex.conflict}
    if ex.conflict:
        ex.status, ex.conflict = ExampleStatus.APPROVED, False
    elif not ex.project.require_second_approval:
        ex.status, ex.approvals = ExampleStatus.APPROVED, max(ex.approvals, 1)
    elif ex.status == ExampleStatus.APPROVED:
        pass
    elif ex.status == ExampleStatus.REJECTED and ex.reviewed_by_id != user.id:
        ex.status, ex.conflict = ExampleStatus.PENDING, True
    elif ex.approvals >= 1 and ex.status == ExampleStatus.PENDING:
        if _first_approver_id(ex) == user.id:
            raise ReviewError("You already approved this example; the second approval must come from another reviewer.")
        ex.status, ex.approvals = ExampleStatus.APPROVED, 2
    else:
        ex.status, ex.approvals = ExampleStatus.PENDING, 1
    changes = {k: [v, getattr(ex, k)] for k, v in before.items() if getattr(ex, k) != v}
    return _save(ex, user, A.APPROVE, changes, ["status", "approvals", "conflict"], comment)


@transaction.atomic
def reject(example: Example, user, version: int | None, comment: str = "") -> Example:
    ex = _lock(example, version)
    before = {"status": ex.status, "approvals": ex.approvals, "conflict": ex.conflict}
    if ex.conflict:
        ex.status, ex.conflict, ex.approvals = ExampleStatus.REJECTED, False, 0
    elif ex.project.require_second_approval and ex.approvals >= 1 and _first_approver_id(ex) != user.id:
        ex.status, ex.conflict = ExampleStatus.PENDING, True
    else:
        ex.status, ex.approvals = ExampleStatus.REJECTED, 0
    changes = {k: [v, getattr(ex, k)] for k, v in before.items() if getattr(ex, k) != v}
    return _save(ex, user, A.REJECT, changes, ["status", "approvals", "conflict"], comment)


@transaction.atomic
def edit(example: Example, user, version: int | None, text: str, comment: str = "") -> Example:
    """The edited text becomes the response; the teacher's original is kept in ``original_response``.

    Editing back to the teacher's text undoes the edit: ``edited`` is cleared and the
    original is held once again, in ``response``.
    """
    if not isinstance(text, str) or not text.strip():
        raise ReviewError(
            "The edited response is empty; write the answer, or reject the example instead.", "text", code="required"
        )
    ex = _lock(example, version)
    old, teacher = ex.response_text, ex.teacher_response
    if text == old:
        return ex
    ex.set_response_text(text)
    ex.edited = text != teacher
    ex.original_response = teacher if ex.edited else ""
    # Soft targets describe the teacher's text; after an edit a score job must re-score it.
    sample = ex.sample if ex.sample_id else None
    ex.soft_targets = sample.soft_targets if (sample is not None and not ex.edited) else ""
    return _save(
        ex,
        user,
        A.EDIT,
        {"response": [old, text]},
        ["response", "original_response", "edited", "soft_targets"],
        comment,
    )


@transaction.atomic
def grade(example: Example, user, version: int | None, value: int | None) -> Example:
    if value is not None and (not isinstance(value, int) or not 1 <= value <= 5):
        raise ReviewError(f"A grade is a whole number from 1 to 5, got {value!r}.", "grade")
    ex = _lock(example, version)
    old, ex.grade = ex.grade, value
    return _save(ex, user, A.GRADE, {"grade": [old, value]}, ["grade"])


@transaction.atomic
def set_tier(example: Example, user, version: int | None, tier: Tier | None) -> Example:
    """A human-set tier is locked: auto-tiering keeps it."""
    if tier is not None and tier.project_id != example.project_id:
        raise ReviewError("That tier belongs to another project.", "tier")
    ex = _lock(example, version)
    old = ex.tier.name if ex.tier else None
    ex.tier, ex.tier_locked = tier, tier is not None
    return _save(ex, user, A.TIER, {"tier": [old, tier.name if tier else None]}, ["tier", "tier_locked"])


@transaction.atomic
def move_to_stage(example: Example, user, version: int | None, stage: Stage) -> Example:
    if stage.project_id != example.project_id:
        raise ReviewError("That stage belongs to another project.", "stage")
    ex = _lock(example, version)
    old, left = ex.stage.name, ex.stage_id
    ex.stage = stage
    return _save(ex, user, A.STAGE, {"stage": [old, stage.name]}, ["stage"], left_stage=left)


def neighbour_stage(example: Example, step: int) -> Stage:
    """The next (+1) or previous (-1) stage in curriculum order; ReviewError at either end."""
    stages = list(example.project.stages.order_by("order", "id"))
    index = next(i for i, s in enumerate(stages) if s.id == example.stage_id)
    target = index + step
    if not 0 <= target < len(stages):
        raise ReviewError(
            "This example is already in the last stage." if step > 0 else "This example is already in the pool."
        )
    return stages[target]


def promote(example: Example, user, version: int | None) -> Example:
    return move_to_stage(example, user, version, neighbour_stage(example, +1))


def demote(example: Example, user, version: int | None) -> Example:
    return move_to_stage(example, user, version, neighbour_stage(example, -1))


@transaction.atomic
def set_label(example: Example, user, version: int | None, label: str) -> Example:
    labels = example.project.labels or []
    if label not in labels:
        raise ReviewError(f"Label {label!r} is not one of this project's labels ({', '.join(labels)}).", "label")
    ex = _lock(example, version)
    old, ex.label = ex.label, label
    return _save(ex, user, A.LABEL, {"label": [old, label]}, ["label"])


@transaction.atomic
def comment(example: Example, user, version: int | None, text: str) -> Example:
    if not text or not text.strip():
        raise ReviewError("The comment is empty.", "comment", code="required")
    ex = _lock(example, version)
    return _save(ex, user, A.COMMENT, {}, [], text.strip())


@transaction.atomic
def add_to_gold(example: Example, user, version: int | None, reference: str = "", label: str = "") -> GoldItem:
    """Make the example's prompt a confirmed gold item; it (and any duplicate) never enters training.

    Through the gold set's one create and one update path (``gold.create_gold_item`` /
    ``update_gold_item``): the Gold page's answer check, length limit and wording.
    """
    project = example.project
    ex = _lock(example, version)
    gold = GoldItem.objects.filter(project=project, content_hash=ex.prompt.content_hash).first()
    before = {"reference": gold.reference, "label": gold.label} if gold else None
    if gold is None:
        gold = create_gold_item(
            project, user, prompt=ex.prompt_id, reference=reference, label=label, tier=ex.tier, confirmed=True
        )
    else:
        changes = {"reference": reference, "label": label, "confirmed": True}
        gold = update_gold_item(
            gold, changes if gold.tier_id or not ex.tier_id else {**changes, "tier": ex.tier}, by=user
        )
    _save(ex, user, A.GOLD, {"gold": [before, {"reference": gold.reference, "label": gold.label}]}, [])
    return gold


# ------------------------------------------------------------- one entry
DECISIONS = ("approve", "reject", "edit", "grade", "tier", "stage", "promote", "demote", "label", "comment", "gold")


@dataclass
class Decided:
    """What ``apply`` did: the example as it is now, and for ``gold`` the gold item."""

    example: Example
    gold: GoldItem | None = None


def apply(example: Example, user, action: str, version: int | None, **fields) -> Decided:
    """One reviewer decision, by name: the focus view's keys and the verdicts API both come here.

    ``fields`` are the action's own: ``comment`` (approve, reject, edit), ``text`` (edit),
    ``grade`` (1-5; None, "", "none" or 0 clear it), ``tier`` (a name; None, "" or "none"
    clear it), ``stage`` (a name), ``label`` (label, gold), ``reference`` (gold). Tier and
    stage names go through the one lookup (``projects.tier_named``/``stage_named``).
    ``ReviewError`` names the field; ``StaleExample`` when ``version`` is not the example's.
    """
    comment_text = fields.get("comment") or ""
    if action == "approve":
        return Decided(approve(example, user, version, comment_text))
    if action == "reject":
        return Decided(reject(example, user, version, comment_text))
    if action == "edit":
        return Decided(edit(example, user, version, fields.get("text"), comment_text))
    if action == "grade":
        return Decided(grade(example, user, version, _grade_of(fields.get("grade"))))
    if action == "tier":
        return Decided(set_tier(example, user, version, tier_named(example.project, fields.get("tier"))))
    if action == "stage":
        return Decided(move_to_stage(example, user, version, stage_named(example.project, fields.get("stage"))))
    if action == "promote":
        return Decided(promote(example, user, version))
    if action == "demote":
        return Decided(demote(example, user, version))
    if action == "label":
        return Decided(set_label(example, user, version, fields.get("label") or ""))
    if action == "comment":
        return Decided(comment(example, user, version, fields.get("comment") or ""))
    if action == "gold":
        item = add_to_gold(example, user, version, fields.get("reference") or "", fields.get("label") or "")
        return Decided(Example.objects.get(pk=example.pk), item)
    raise ReviewError(f"choose one of {', '.join(DECISIONS)}.", "action", code="not_found")


def _grade_of(raw) -> int | None:
    if raw in (None, "", NONE, 0, "0"):
        return None
    try:
        return to_number(raw, int)
    except ValueError:
        raise ReviewError(f"A grade is a whole number from 1 to 5, got {raw!r}.", "grade") from None

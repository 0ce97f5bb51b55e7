"""The gold set's items: one way to create one and one way to change one, for the Gold page, the
focus view's ``g`` and the API alike, with one answer check (``check_gold_answer``), one
length limit (``check_length``) and one purpose check (``check_purpose``); search, confirming
imported candidates, discarding them. Each change leaves one audit entry.

``test_items`` and ``dev_items`` are what evaluation and selection read: reports score the test
set, selection reads the dev set (``GoldItem.purpose``). The Gold page filters by purpose too.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from curation.models import GoldItem, Project, Prompt
from curation.normalize import content_hash
from curation.services import audit, hygiene
from curation.services.errors import ReviewError
from curation.services.inputs import by_id, check_messages
from curation.services.projects import tier_named


def check_length(field: str, noun: str, length: int) -> None:
    """The import's length limit (``IMPORT_MAX_PROMPT_CHARS``), for a gold prompt or reference on any surface."""
    limit = settings.IMPORT_MAX_PROMPT_CHARS
    if length > limit:
        raise ReviewError(f"The {noun} is {length:,} characters; the limit is {limit:,}.", field, code="too_long")


def check_gold_answer(project, reference: str, label: str) -> tuple[str, str]:
    """(reference, label) cleaned; ReviewError naming what is missing or too long."""
    reference, label = (reference or "").strip(), (label or "").strip()
    check_length("reference", "reference", len(reference))
    if project.is_classification:
        if label not in (project.labels or []):
            raise ReviewError(f"a gold item of this project needs one of {', '.join(project.labels or [])}.", "label")
        return reference, label
    if not reference:
        raise ReviewError("a gold item needs a reference answer.", "reference", code="required")
    return reference, label


def check_purpose(value) -> str:
    """``value`` as a ``GoldItem.Purpose`` (blank: test); ReviewError naming the choices."""
    value = str(value if value is not None else "").strip().lower() or GoldItem.Purpose.TEST
    if value not in GoldItem.Purpose.values:
        raise ReviewError(
            f"a gold item's purpose is 'test' (the reports' score) or 'dev' (what selection reads), not {value!r}.",
            "purpose",
        )
    return value


def test_items(project):
    """The confirmed gold items the reports score (the test set)."""
    return GoldItem.objects.filter(project=project, confirmed=True, purpose=GoldItem.Purpose.TEST)


def dev_items(project):
    """The confirmed items selection reads (the dev set); no report quotes a score on them as quality."""
    return GoldItem.objects.filter(project=project, confirmed=True, purpose=GoldItem.Purpose.DEV)


def _prompt_from(project: Project, prompt_id, text, messages, *, by=None) -> tuple[Prompt, str]:
    """(the prompt, the field that named it): an existing prompt by id, else new text or chat turns.

    New text equal to an existing prompt of the project after normalisation reuses that prompt; a new
    prompt gets the data-hygiene job like an imported one.
    """
    given = [
        name
        for name, value in (("prompt", prompt_id), ("prompt_text", text), ("messages", messages))
        if value not in (None, "")
    ]
    if len(given) != 1:
        field = given[1] if len(given) > 1 else "prompt"
        message = "Give exactly one of: prompt (an existing prompt's id), prompt_text, or messages."
        raise ReviewError(message, field, code="required")
    field = given[0]
    if field == "prompt":
        prompt = by_id(Prompt.objects.filter(project=project), prompt_id)
        if prompt is None:
            raise ReviewError(f"No prompt {prompt_id} in this project.", "prompt", code="not_found")
        return prompt, field
    if field == "messages":
        problem = check_messages(messages)
        if problem:
            raise ReviewError(problem, "messages")
        text, length = "", sum(len(m["content"]) for m in messages)
    else:
        if not text.strip():
            raise ReviewError("write the prompt of the gold item.", "prompt_text", code="required")
        text, messages, length = text.strip(), None, len(text.strip())
    check_length(field, "prompt", length)
    key = content_hash(text, messages)
    prompt = Prompt.objects.filter(project=project, content_hash=key, twin_of=None).first()
    if prompt is None:
        prompt = Prompt.objects.create(project=project, text=text, messages=messages, source=Prompt.Source.HUMAN)
        hygiene.after_prompts_added(project, [prompt.pk], by=by)
    return prompt, field


@transaction.atomic
def create_gold_item(
    project: Project,
    user,
    *,
    prompt=None,
    prompt_text=None,
    messages=None,
    reference="",
    label="",
    tier=None,
    confirmed=True,
    purpose="test",
) -> GoldItem:
    """A gold item for an existing prompt (by id), new prompt text or chat turns; refuses a second item
    for one prompt (after normalisation). ``tier``: a tier name (or a Tier); ``purpose``: test or dev."""
    reference, label = check_gold_answer(project, reference, label)
    purpose = check_purpose(purpose)
    tier_obj = tier if tier is None or hasattr(tier, "pk") else tier_named(project, tier)
    prompt_obj, field = _prompt_from(project, prompt, prompt_text, messages, by=user)
    existing = GoldItem.objects.filter(project=project, content_hash=prompt_obj.content_hash).first()
    if existing is not None:
        raise ReviewError(
            f"This prompt (or one equal to it after normalisation) is already gold item {existing.pk}; "
            "change that one instead.",
            field,
            code="duplicate",
        )
    item = GoldItem(
        project=project,
        prompt=prompt_obj,
        reference=reference,
        label=label,
        tier=tier_obj,
        confirmed=confirmed,
        purpose=purpose,
        created_by=user,
    )
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:
        raise ReviewError(
            "This prompt became a gold item a moment ago; reload and change that one.", field, code="duplicate"
        ) from None
    hygiene.after_gold_changed(project)
    audit.record(audit.Kind.GOLD, "create", item, project=project, by=user, after=_state(item))
    return item


@transaction.atomic
def update_gold_item(item: GoldItem, changes: dict, *, by=None) -> GoldItem:
    """Change the reference, label, tier, purpose or confirmation of ``item`` (its prompt never changes)."""
    project = item.project
    before = _state(item)
    item.reference, item.label = check_gold_answer(
        project, changes.get("reference", item.reference), changes.get("label", item.label)
    )
    if "tier" in changes:
        tier = changes["tier"]
        item.tier = tier if tier is None or hasattr(tier, "pk") else tier_named(project, tier)
    if "confirmed" in changes:
        item.confirmed = bool(changes["confirmed"])
    if "purpose" in changes:
        item.purpose = check_purpose(changes["purpose"])
    old, new = audit.changed(before, _state(item))
    if new:
        item.save()
        audit.record(audit.Kind.GOLD, "update", item, project=project, by=by, before=old, after=new)
    return item


def search_gold(project, query: str = "", state: str = "", purpose: str = ""):
    items = GoldItem.objects.filter(project=project).select_related("prompt", "tier", "created_by")
    if purpose in GoldItem.Purpose.values:
        items = items.filter(purpose=purpose)
    query = (query or "").strip()
    if query:
        items = items.filter(
            Q(prompt__text__icontains=query)
            | Q(prompt__messages__icontains=query)
            | Q(reference__icontains=query)
            | Q(label__iexact=query)
        )
    if state == "candidates":
        items = items.filter(confirmed=False)
    elif state == "confirmed":
        items = items.filter(confirmed=True)
    return items


@transaction.atomic
def confirm_candidates(project, ids, *, by=None) -> int:
    """Confirm imported gold candidates (by id); returns how many changed (one audit entry for all)."""
    chosen = GoldItem.objects.select_for_update().filter(project=project, confirmed=False, id__in=list(ids))
    confirmed = sorted(chosen.values_list("id", flat=True))
    if not confirmed:
        return 0
    done = GoldItem.objects.filter(id__in=confirmed).update(confirmed=True)
    target = f"{done} gold candidate{'s' if done != 1 else ''}"
    audit.record(
        audit.Kind.GOLD,
        "confirm",
        target,
        project=project,
        by=by,
        before={"confirmed": False},
        after={"confirmed": True, "items": confirmed},
    )
    return done


@transaction.atomic
def discard_candidate(item: GoldItem, *, by=None) -> None:
    """Drop an imported candidate an expert turned down; confirmed gold stays (it may guard training)."""
    if item.confirmed:
        raise ReviewError("Only unconfirmed candidates can be discarded; confirmed gold items guard training.")
    project = item.project
    before = _state(item)
    target = str(item)
    item.delete()
    hygiene.after_gold_changed(project)
    audit.record(audit.Kind.GOLD, "discard", target, project=project, by=by, before=before)


def _state(item: GoldItem) -> dict:
    """What the audit log keeps of a gold item."""
    return {
        "prompt": item.prompt_id,
        "reference": item.reference,
        "label": item.label,
        "tier": item.tier.name if item.tier_id else None,
        "confirmed": item.confirmed,
        "purpose": item.purpose,
    }

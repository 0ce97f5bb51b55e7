"""The gold set and its guard: gold prompts, and prompts equal to them after normalisation, never train.

``training_eligible`` is the one definition of the guard. The curriculum board counts
with it, and the snapshot builder must use it too, so a stage's approved count on the
board is exactly what a snapshot of that stage contains.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q

from curation.models import Example, ExampleStatus, GoldItem, Prompt
from curation.normalize import content_hash
from curation.services.errors import ReviewError


def _gold_of_same_prompt():
    """True for an example whose prompt's normalised hash is a gold item's of its project."""
    return Exists(
        GoldItem.objects.filter(project_id=OuterRef("project_id"), content_hash=OuterRef("prompt__content_hash"))
    )


def training_eligible(queryset):
    """``queryset`` (examples) without the gold-guarded ones: what may enter a training snapshot."""
    return queryset.filter(~_gold_of_same_prompt())


def gold_guarded(queryset):
    """The examples of ``queryset`` that the gold guard keeps out of training."""
    return queryset.filter(_gold_of_same_prompt())


def with_gold_flag(queryset):
    """Annotate ``is_gold`` (the badge on queue rows and the focus view)."""
    return queryset.annotate(is_gold=_gold_of_same_prompt())


def contamination(project):
    """Examples still headed for training (not rejected) whose normalised prompt equals a gold prompt."""
    return gold_guarded(Example.objects.filter(project=project).exclude(status=ExampleStatus.REJECTED))


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


def search_gold(project, query: str = "", state: str = ""):
    items = GoldItem.objects.filter(project=project).select_related("prompt", "tier", "created_by")
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
def add_gold_prompt(project, user, text: str, reference: str = "", label: str = "") -> GoldItem:
    """A new gold item from a prompt typed in; an existing prompt with the same normalised text is reused."""
    text = (text or "").strip()
    if not text:
        raise ReviewError("write the prompt of the gold item.", "prompt", code="required")
    check_length("prompt", "prompt", len(text))
    reference, label = check_gold_answer(project, reference, label)
    key = content_hash(text, None)
    if GoldItem.objects.filter(project=project, content_hash=key).exists():
        raise ReviewError(
            "this prompt (or one equal to it after normalisation) is already in the gold set.",
            "prompt",
            code="duplicate",
        )
    prompt = Prompt.objects.filter(project=project, content_hash=key).first()
    if prompt is None:
        prompt = Prompt.objects.create(project=project, text=text, source=Prompt.Source.HUMAN, content_hash=key)
    try:
        with transaction.atomic():
            return GoldItem.objects.create(
                project=project, prompt=prompt, reference=reference, label=label, confirmed=True, created_by=user
            )
    except IntegrityError:
        raise ReviewError(
            "someone added this prompt to the gold set a moment ago.", "prompt", code="duplicate"
        ) from None


@transaction.atomic
def set_gold_answer(item: GoldItem, reference: str, label: str) -> GoldItem:
    item.reference, item.label = check_gold_answer(item.project, reference, label)
    item.save(update_fields=["reference", "label", "content_hash", "updated_at"])
    return item


def confirm_candidates(project, ids) -> int:
    """Confirm imported gold candidates (by id); returns how many changed."""
    return GoldItem.objects.filter(project=project, confirmed=False, id__in=list(ids)).update(confirmed=True)


def discard_candidate(item: GoldItem) -> None:
    """Drop an imported candidate an expert turned down; confirmed gold stays (it may guard training)."""
    if item.confirmed:
        raise ReviewError("Only unconfirmed candidates can be discarded; confirmed gold items guard training.")
    item.delete()

"""Gold items over the API (by prompt id, new text or chat turns; tier; confirmation), and the
snapshot builder's second line of the gold guard.

The first line is ``services/gold.training_eligible`` (stored hashes, in SQL). Stored
hashes are not the whole truth: a prompt edited in the admin keeps its old
``content_hash`` (``Prompt.save`` only fills an empty one), and a chat prompt of one
user turn asks exactly what the same text as a plain prompt asks, yet hashes
differently. ``guard_keys`` covers both.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from curation.models import GoldItem, Project, Prompt
from curation.normalize import content_hash
from curation.services.errors import Invalid
from curation.services.gold.items import check_gold_answer, check_length
from curation.services.inputs import check_messages
from curation.services.projects import tier_named


def guard_keys(text: str, messages: list | None) -> set[str]:
    """Every normalised hash under which this prompt counts as "the same prompt"."""
    keys = {content_hash(text or "", messages)}
    if messages and len(messages) == 1 and messages[0].get("role") == "user":
        keys.add(content_hash(str(messages[0].get("content", "")), None))
    return keys


class GoldGuard:
    """The project's gold keys, loaded once; ``reason(...)`` says why a prompt must stay out."""

    def __init__(self, project: Project):
        self.prompt_ids: set[int] = set()
        self.keys: set[str] = set()
        for prompt_id, stored, text, messages in GoldItem.objects.filter(project=project).values_list(
            "prompt_id", "content_hash", "prompt__text", "prompt__messages"
        ):
            self.prompt_ids.add(prompt_id)
            self.keys.add(stored)
            self.keys |= guard_keys(text, messages)

    def reason(self, prompt_id: int, stored_hash: str, keys: set[str]) -> str | None:
        if prompt_id in self.prompt_ids:
            return "gold_prompt"
        if stored_hash in self.keys or not self.keys.isdisjoint(keys):
            return "gold_duplicate"
        return None


def _prompt_from(project: Project, prompt_id, text, messages) -> Prompt:
    given = [
        name
        for name, value in (("prompt", prompt_id), ("prompt_text", text), ("messages", messages))
        if value not in (None, "")
    ]
    if len(given) != 1:
        field = given[1] if len(given) > 1 else "prompt"
        raise Invalid({field: ["Give exactly one of: prompt (an existing prompt's id), prompt_text, or messages."]})
    if prompt_id not in (None, ""):
        prompt = Prompt.objects.filter(project=project, pk=prompt_id).first()
        if prompt is None:
            raise Invalid({"prompt": [f"No prompt {prompt_id} in this project."]})
        return prompt
    if messages not in (None, ""):
        problem = check_messages(messages)
        if problem:
            raise Invalid({"messages": [problem]})
        text, length = "", sum(len(m["content"]) for m in messages)
    else:
        if not text.strip():
            raise Invalid({"prompt_text": ["The prompt is empty."]})
        messages, length = None, len(text)
    check_length(given[0], "prompt", length)  # the web page's rule and wording
    key = content_hash(text, messages)
    prompt = Prompt.objects.filter(project=project, content_hash=key).first()
    if prompt is None:
        prompt = Prompt.objects.create(
            project=project, text=text, messages=messages, source=Prompt.Source.HUMAN, content_hash=key
        )
    return prompt


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
) -> GoldItem:
    """A gold item for an existing prompt (by id) or for new prompt text; refuses a second item for one prompt."""
    check_gold_answer(project, reference, label)
    tier_obj = tier_named(project, tier)
    prompt_obj = _prompt_from(project, prompt, prompt_text, messages)
    existing = GoldItem.objects.filter(project=project, content_hash=prompt_obj.content_hash).first()
    field = "prompt" if prompt not in (None, "") else ("messages" if messages else "prompt_text")
    if existing is not None:
        raise Invalid({field: [f"This prompt is already gold item {existing.pk}; change that one instead."]})
    item = GoldItem(
        project=project,
        prompt=prompt_obj,
        reference=(reference or "").strip(),
        label=label or "",
        tier=tier_obj,
        confirmed=confirmed,
        created_by=user,
    )
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:
        raise Invalid({field: ["This prompt became a gold item a moment ago; reload and change that one."]}) from None
    return item


@transaction.atomic
def update_gold_item(item: GoldItem, changes: dict) -> GoldItem:
    """Change the reference, label, tier or confirmation of ``item`` (its prompt never changes)."""
    project = item.project
    reference = changes.get("reference", item.reference)
    label = changes.get("label", item.label)
    check_gold_answer(project, reference, label)
    if "tier" in changes:
        item.tier = tier_named(project, changes["tier"])
    item.reference, item.label = (reference or "").strip(), label or ""
    if "confirmed" in changes:
        item.confirmed = bool(changes["confirmed"])
    item.save()
    return item

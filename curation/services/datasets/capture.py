"""Production capture: batches of production requests into the pool, as prompts of source ``production``.

A batch is checked whole before anything is written: one bad item refuses the batch
(``Invalid``, each problem under ``items.<i>.<field>``) and nothing is stored. Each item
carries the caller's ``client_id``; an id the project already has is skipped, so a
client that resends a batch after a timeout stores nothing twice. Prompts are
deduplicated on the normalised hash, like imports: a request whose prompt the project
already holds points at that prompt (whatever its source). Inserts are bulk and tolerate
a concurrent batch inserting the same prompt or client id (``ignore_conflicts``). A batch's new
prompts get one data-hygiene job (PII, near-duplicates of gold, clusters), queued on commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from curation.models import CapturedRequest, Prompt
from curation.normalize import content_hash
from curation.services import hygiene
from curation.services.errors import Invalid
from curation.services.inputs import check_messages

MAX_ITEMS = 1000
MAX_CLIENT_ID = CapturedRequest._meta.get_field("client_id").max_length
MAX_MODEL_NAME = CapturedRequest._meta.get_field("model_name").max_length
FIELDS = frozenset({"client_id", "prompt", "messages", "answer", "model", "timestamp", "metadata"})


@dataclass
class CaptureResult:
    received: int
    stored: int  # new requests
    replayed: int  # client ids seen before (in this project or earlier in the batch)
    new_prompts: int

    def as_dict(self) -> dict:
        return {
            "received": self.received,
            "stored": self.stored,
            "replayed": self.replayed,
            "new_prompts": self.new_prompts,
        }


@dataclass
class _Item:
    client_id: str
    text: str
    messages: list | None
    answer: str
    model: str
    captured_at: object
    metadata: dict

    @property
    def hash(self) -> str:
        return content_hash(self.text, self.messages)


def capture(project, items) -> CaptureResult:
    """Store a batch of production requests of ``project``; ``Invalid`` (nothing stored) for a bad batch."""
    parsed = _parse(items)
    return _store(project, parsed)


def _parse(items) -> list[_Item]:
    errors = Invalid()
    if not isinstance(items, list) or not items:
        errors.add("items", "A non-empty array of requests.")
        errors.raise_if_any()
    if len(items) > MAX_ITEMS:
        errors.add("items", f"At most {MAX_ITEMS:,} requests per batch, got {len(items):,}; send several batches.")
        errors.raise_if_any()
    parsed = []
    for i, raw in enumerate(items):
        item = _parse_one(raw, f"items.{i}", errors)
        if item is not None:
            parsed.append(item)
    errors.raise_if_any()
    return parsed


def _parse_one(raw, at: str, errors: Invalid) -> _Item | None:
    if not isinstance(raw, dict):
        errors.add(at, "An object with client_id and prompt (or messages).")
        return None
    before = len(errors.flat())
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        errors.add(at, f"Unknown field(s) {', '.join(unknown)[:200]}; known: {', '.join(sorted(FIELDS))}.")
    client_id = raw.get("client_id")
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > MAX_CLIENT_ID:
        errors.add(f"{at}.client_id", f"A non-empty string of at most {MAX_CLIENT_ID} characters: your id for it.")
    text, messages = raw.get("prompt"), raw.get("messages")
    limit = settings.IMPORT_MAX_PROMPT_CHARS
    if (text is None) == (messages is None):
        errors.add(f"{at}.prompt", "Give either 'prompt' (text) or 'messages' (a chat), one of them.")
    elif messages is not None:
        problem = check_messages(messages)
        if problem:
            errors.add(f"{at}.messages", problem[0].upper() + problem[1:] + ".")
        elif sum(len(m["content"]) for m in messages) > limit:
            errors.add(f"{at}.messages", f"At most {limit:,} characters in all (IMPORT_MAX_PROMPT_CHARS).")
    elif not isinstance(text, str) or not text.strip():
        errors.add(f"{at}.prompt", "A non-empty string.")
    elif len(text) > limit:
        errors.add(f"{at}.prompt", f"At most {limit:,} characters (IMPORT_MAX_PROMPT_CHARS), got {len(text):,}.")
    answer, model = raw.get("answer", ""), raw.get("model", "")
    if not isinstance(answer, str) or len(answer) > limit:
        errors.add(f"{at}.answer", f"A string of at most {limit:,} characters.")
    if not isinstance(model, str) or len(model) > MAX_MODEL_NAME:
        errors.add(f"{at}.model", f"The model's name: a string of at most {MAX_MODEL_NAME} characters.")
    when = timezone.now()
    if raw.get("timestamp") is not None:
        stamp = raw["timestamp"]
        when = parse_datetime(stamp) if isinstance(stamp, str) else None
        if when is None:
            errors.add(f"{at}.timestamp", "An ISO 8601 date and time, e.g. 2026-12-04T15:30:00Z.")
        elif when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    metadata = raw.get("metadata", {})
    if not isinstance(metadata, dict):
        errors.add(f"{at}.metadata", "An object.")
    if len(errors.flat()) > before:
        return None
    return _Item(client_id, text or "", messages, answer, model, when, metadata)


@transaction.atomic
def _store(project, items: list[_Item]) -> CaptureResult:
    ids = [item.client_id for item in items]
    seen = set(CapturedRequest.objects.filter(project=project, client_id__in=ids).values_list("client_id", flat=True))
    fresh: dict[str, _Item] = {}
    for item in items:
        if item.client_id not in seen and item.client_id not in fresh:
            fresh[item.client_id] = item
    by_hash: dict[str, _Item] = {}
    for item in fresh.values():
        by_hash.setdefault(item.hash, item)
    existing = dict(
        Prompt.objects.filter(project=project, content_hash__in=list(by_hash), twin_of=None).values_list(
            "content_hash", "id"
        )
    )
    new = [
        Prompt(
            project=project,
            text=item.text,
            messages=item.messages,
            source=Prompt.Source.PRODUCTION,
            metadata={**item.metadata, **({"model": item.model} if item.model else {})},
            content_hash=key,
        )
        for key, item in by_hash.items()
        if key not in existing
    ]
    # A concurrent batch may insert the same prompt first: skip it and read the ids back.
    Prompt.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
    prompt_ids = dict(
        Prompt.objects.filter(project=project, content_hash__in=list(by_hash), twin_of=None).values_list(
            "content_hash", "id"
        )
    )
    hygiene.after_prompts_added(project, [prompt_ids[key] for key in by_hash if key not in existing])
    CapturedRequest.objects.bulk_create(
        [
            CapturedRequest(
                project=project,
                client_id=item.client_id,
                prompt_id=prompt_ids[item.hash],
                answer=item.answer,
                model_name=item.model,
                captured_at=item.captured_at,
                metadata=item.metadata,
            )
            for item in fresh.values()
        ],
        batch_size=500,
        ignore_conflicts=True,
    )
    return CaptureResult(
        received=len(items),
        stored=len(fresh),
        replayed=len(items) - len(fresh),
        new_prompts=len(prompt_ids) - len(existing),
    )

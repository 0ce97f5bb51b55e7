"""Personal data in prompts: detection on import, reviewers' decisions, redaction with an audit trail.

Detection and redaction are ``workers.hygiene.pii`` (Presidio pattern recognizers and anonymizer).
A prompt stores its detected spans (``pii_spans``: offsets and entity types, never the value) and
the reviewers' decisions (``pii_decisions``); ``has_pii`` is whether any span stands after the
decisions. Redaction before a prompt leaves for a remote teacher detects afresh (so a prompt that
was never scanned, or was edited since, is covered too), applies the decisions and writes one
``RedactionEvent`` per replaced span: who or which job, what entity type, where, never the value.
"""

from __future__ import annotations

from django.db import transaction

from curation.models import Prompt, RedactionEvent
from curation.services.errors import Invalid
from curation.services.hygiene.settings import settings_of
from workers.hygiene import pii as core

BATCH = 1000


def effective_spans(prompt) -> list[dict]:
    return core.effective_spans(prompt.pii_spans or [], prompt.pii_decisions or [])


def detect_prompts(project, prompt_ids=None, *, force: bool = False) -> int:
    """Detect personal data in the project's prompts (or ``prompt_ids``) when the project asks for it
    (``pii_detect``, or ``force``); returns how many prompts have some."""
    if not (force or settings_of(project)["pii_detect"]):
        return 0
    prompts = Prompt.objects.filter(project=project)
    if prompt_ids is not None:
        prompts = prompts.filter(id__in=list(prompt_ids))
    last, found = 0, 0
    while True:
        chunk = list(prompts.filter(id__gt=last).order_by("id").only("id", "text", "messages", "pii_decisions")[:BATCH])
        if not chunk:
            return found
        last = chunk[-1].id
        for p in chunk:
            p.pii_spans = core.detect(p.text, p.messages)
            p.has_pii = bool(effective_spans(p))
            found += p.has_pii
        Prompt.objects.bulk_update(chunk, ["pii_spans", "has_pii"], batch_size=BATCH)


def _content(prompt, part: int) -> str | None:
    if part == -1:
        return None if prompt.messages else (prompt.text or "")
    messages = prompt.messages or []
    return str(messages[part].get("content", "")) if 0 <= part < len(messages) else None


@transaction.atomic
def decide_span(prompt, user, *, part, start, end, entity, is_pii: bool) -> Prompt:
    """A reviewer marks a span as personal data (of type ``entity``) or not; the decision sticks
    through later detections and is audited (offsets and type only)."""
    from curation.services.inputs import parse_whole

    errors = Invalid()
    part_n = -1 if part in (None, "", -1, "-1") else parse_whole(part, 0, 10_000)
    start_n, end_n = parse_whole(start, 0, 10_000_000), parse_whole(end, 0, 10_000_000)
    prompt = Prompt.objects.select_for_update().get(pk=prompt.pk)
    content = None if part_n is None else _content(prompt, part_n)
    if content is None:
        errors.add("part", "No such part of this prompt (-1 for its text, else a chat message's index).")
    elif start_n is None or end_n is None or not start_n < end_n <= len(content):
        errors.add("start", f"A span is start < end <= {len(content)} (the text's length).")
    if entity not in core.PLACEHOLDERS:
        errors.add("entity", f"Choose one of {', '.join(core.PLACEHOLDERS)}.")
    errors.raise_if_any()
    decision = {"part": part_n, "start": start_n, "end": end_n, "entity": entity, "is_pii": bool(is_pii)}
    key = (part_n, start_n, end_n)
    prompt.pii_decisions = [d for d in (prompt.pii_decisions or []) if (d["part"], d["start"], d["end"]) != key]
    prompt.pii_decisions.append(decision)
    prompt.has_pii = bool(effective_spans(prompt))
    prompt.save(update_fields=["pii_decisions", "has_pii"])
    RedactionEvent.objects.create(
        project_id=prompt.project_id,
        prompt=prompt,
        user=user,
        action=RedactionEvent.Action.MARK_PII if is_pii else RedactionEvent.Action.MARK_NOT_PII,
        where=RedactionEvent.Where.REVIEW,
        entity=entity,
        part=part_n,
        start=start_n,
        end=end_n,
    )
    return prompt


def _events(project_id, prompt_id, spans, where, *, user=None, job_id=None, snapshot_id=None):
    return [
        RedactionEvent(
            project_id=project_id,
            prompt_id=prompt_id,
            user=user,
            action=RedactionEvent.Action.REDACT,
            where=where,
            entity=s["entity"],
            part=s["part"],
            start=s["start"],
            end=s["end"],
            job_id=job_id,
            snapshot_id=snapshot_id,
        )
        for s in spans
    ]


def redact_for_teacher(project, prompts, *, job_id=None, user=None) -> dict:
    """``{prompt id: model input}`` with personal data replaced by typed placeholders, for prompts about
    to leave for a remote teacher, when the project redacts (``redact_teacher``); empty otherwise.
    Prompts without personal data are left out of the mapping (send them as they are)."""
    if not settings_of(project)["redact_teacher"]:
        return {}
    out, events = {}, []
    for p in prompts:
        detected = core.detect(p.text, p.messages)
        spans = core.effective_spans(detected, getattr(p, "pii_decisions", None) or [])
        if not spans:
            continue
        text, messages = core.redact(p.text, p.messages, spans)
        out[p.id] = messages or text
        events += _events(project.pk, p.id, spans, RedactionEvent.Where.TEACHER, user=user, job_id=job_id)
    RedactionEvent.objects.bulk_create(events, batch_size=BATCH)
    return out


def redact_for_snapshot(project, snapshot_id, prompt_id, text, messages, spans, decisions, events: list):
    """(text, messages) of a snapshot row with the prompt's stored spans (after decisions) replaced;
    the audit rows go to ``events`` (written by the caller with the rows)."""
    effective = core.effective_spans(spans or [], decisions or [])
    if not effective:
        return text, messages
    events += _events(project.pk, prompt_id, effective, RedactionEvent.Where.SNAPSHOT, snapshot_id=snapshot_id)
    return core.redact(text, messages, effective)


def redaction_log(project):
    return RedactionEvent.objects.filter(project=project).select_related("user").order_by("-id")

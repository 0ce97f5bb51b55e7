"""Personal data on the focus view: the prompt's spans highlighted, and a reviewer's decision on a span."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from curation.access import project_for
from curation.models import Example, Role
from curation.services import hygiene
from curation.services.errors import Invalid
from curation.services.gold import hide_gold_from_readers
from curation.services.inputs import by_id

ENTITY_CHOICES = [
    ("EMAIL_ADDRESS", "e-mail"),
    ("PHONE_NUMBER", "phone"),
    ("CREDIT_CARD", "card"),
    ("IBAN_CODE", "IBAN"),
    ("IP_ADDRESS", "IP address"),
    ("US_SSN", "SSN"),
    ("PERSON", "name"),
    ("OTHER", "other"),
]


def segments(content: str, spans: list[dict]) -> list[dict]:
    """``content`` cut into plain and personal-data pieces (the template escapes each piece)."""
    out, at = [], 0
    for s in sorted(spans, key=lambda s: s["start"]):
        if s["start"] < at or s["end"] > len(content):
            continue  # overlapping or stale (the text changed since detection)
        if s["start"] > at:
            out.append({"text": content[at : s["start"]], "span": None})
        out.append({"text": content[s["start"] : s["end"]], "span": s})
        at = s["end"]
    if at < len(content):
        out.append({"text": content[at:], "span": None})
    return out


def prompt_parts(prompt) -> list[dict]:
    """The prompt's text or chat turns, each with its highlighted pieces and the spans dismissed."""
    effective = hygiene.effective_spans(prompt)
    dismissed = [d for d in (prompt.pii_decisions or []) if not d.get("is_pii")]
    if prompt.messages:
        parts = [(i, m.get("role", ""), str(m.get("content", ""))) for i, m in enumerate(prompt.messages)]
    else:
        parts = [(-1, "", prompt.text or "")]
    return [
        {
            "part": part,
            "role": role,
            "segments": segments(content, [s for s in effective if s["part"] == part]),
            "dismissed": [d for d in dismissed if d["part"] == part],
        }
        for part, role, content in parts
    ]


@login_required
@require_POST
def decide_span(request, slug, pk):
    """Mark a span of the example's prompt as personal data or not. A span is given by offsets
    (``part``, ``start``, ``end``) or, for one the detector missed, by the exact ``text`` to mark."""
    project = project_for(request.user, slug, Role.REVIEWER)
    example = by_id(hide_gold_from_readers(project, Example.objects.filter(project=project)), pk)
    if example is None:
        from django.http import Http404

        raise Http404("No such example.")
    post = request.POST
    part, start, end = post.get("part", "-1"), post.get("start"), post.get("end")
    if post.get("text"):
        found = _find(example.prompt, part, post["text"])
        start, end = found if found else (None, None)
    try:
        hygiene.decide_span(
            example.prompt,
            request.user,
            part=part,
            start=start,
            end=end,
            entity=post.get("entity", ""),
            is_pii=post.get("is_pii") == "true",
        )
    except Invalid as exc:
        messages.error(request, "Not recorded: " + str(exc))
    else:
        messages.success(request, "Recorded; redaction follows your decision from now on.")
    return redirect("review-focus", slug=project.slug, pk=example.pk)


def _find(prompt, part, text):
    try:
        index = int(part)
    except (TypeError, ValueError):
        return None
    if index == -1:
        content = "" if prompt.messages else (prompt.text or "")
    else:
        messages_ = prompt.messages or []
        content = str(messages_[index].get("content", "")) if 0 <= index < len(messages_) else ""
    at = content.find(text) if text else -1
    return (at, at + len(text)) if at >= 0 else None

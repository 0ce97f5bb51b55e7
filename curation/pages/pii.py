"""Personal data on the focus view: the prompt cut into plain and highlighted pieces, and the kinds a
reviewer can mark."""

from curation.services import hygiene

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

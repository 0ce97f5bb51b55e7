"""Excerpts of prompts for lists: what tells one row from the next.

Prompts of a project usually open with the same instruction ("Classify this support
ticket ..."), so a plain excerpt makes every queue row look the same. A list says the
leading lines its page's prompts share once, above its rows, and each row shows what
follows them from its beginning (cut at the end, never at the start); the whole text
stays in the row's title.
"""

from __future__ import annotations


def prompt_source(prompt, text: str | None = None) -> str:
    """The text a prompt's excerpt is cut from: its text, or the last user turn of a chat.

    ``text`` stands in for ``prompt.text`` where a list loaded only its beginning.
    """
    text = (prompt.text if text is None else text) or ""
    messages = getattr(prompt, "messages", None)
    if not text and messages:
        users = [m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        text = (users or [messages[-1].get("content", "") if isinstance(messages[-1], dict) else ""])[-1]
    return str(text)


def shared_leading_lines(texts: list[str]) -> str:
    """The whole lines every one of ``texts`` (two or more) opens with, newline included; else ""."""
    if len(texts) < 2:
        return ""
    first = texts[0]
    shared = len(first)
    for text in texts[1:]:
        n = 0
        limit = min(shared, len(text))
        while n < limit and first[n] == text[n]:
            n += 1
        shared = n
    cut = first.rfind("\n", 0, shared) + 1  # back off to the end of a whole line
    # Skipping must leave something of every text to show.
    return first[:cut] if cut and all(len(t) > cut and t[cut:].strip() for t in texts) else ""


def with_prompt_excerpts(rows, text_attr: str | None = "prompt_text_excerpt") -> str:
    """Set ``prompt_full`` and ``prompt_excerpt`` (shared leading lines skipped) on each row.

    ``text_attr`` names the row's loaded beginning of its prompt's text (None: the whole text).
    Returns the skipped lines (stripped; "" when none), for the page to show once."""
    for row in rows:
        row.prompt_full = prompt_source(row.prompt, getattr(row, text_attr, None) if text_attr else None)
    shared = shared_leading_lines([row.prompt_full for row in rows])
    for row in rows:
        row.prompt_excerpt = row.prompt_full[len(shared) :]
    return shared.strip()


# A hit within the first this-many characters of an excerpt shows on the row's own line.
HIT_VISIBLE_CHARS = 60
HIT_CONTEXT_CHARS = 50


def search_hit(text: str, query: str) -> tuple[str, str, str] | None:
    """(before, match, after) around the first case-insensitive ``query`` in ``text`` when it lies
    past what the row's one line shows; None when it is near the start or absent.

    The row keeps the prompt's beginning; the hit gets a line of its own (escaped by the template)."""
    query = (query or "").strip()
    flat = " ".join((text or "").split())
    at = flat.casefold().find(query.casefold()) if query else -1
    if at < HIT_VISIBLE_CHARS:
        return None
    end = at + len(query)
    return flat[max(0, at - HIT_CONTEXT_CHARS) : at], flat[at:end], flat[end : end + HIT_CONTEXT_CHARS]

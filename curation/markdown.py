"""A small, safe Markdown subset for project guidelines.

Everything is HTML-escaped first; only then are a few constructs turned into tags we
write ourselves: headings, paragraphs, bullet and numbered lists, code blocks,
inline code, bold, italic and links to http(s)/mailto addresses. Raw HTML in the
source stays visible text, so guidelines cannot carry a script into the page.
"""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_ITALIC = re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])|(?<![_\w])_(?!\s)(.+?)(?<!\s)_(?![_\w])")
# Applied to escaped text, so the URL cannot contain a raw quote or angle bracket.
_LINK = re.compile(r"\[([^\]]+)\]\(((?:https?://|mailto:)[^\s)]+)\)")


def _inline(escaped: str) -> str:
    codes: list[str] = []

    def keep_code(match):
        codes.append(f"<code>{match.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = _CODE.sub(keep_code, escaped)
    text = _LINK.sub(
        lambda m: f'<a href="{m.group(2)}" rel="noopener noreferrer" target="_blank">{m.group(1)}</a>', text
    )
    text = _BOLD.sub(lambda m: f"<strong>{m.group(1) or m.group(2)}</strong>", text)
    text = _ITALIC.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], text)


def render_markdown(source: str) -> SafeString:
    out: list[str] = []
    paragraph: list[str] = []
    list_tag: str | None = None
    in_code = False
    code: list[str] = []

    def close_paragraph():
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()

    def close_list():
        nonlocal list_tag
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    for raw in (source or "").replace("\r\n", "\n").split("\n"):
        if raw.strip().startswith("```"):
            if in_code:
                out.append(f"<pre><code>{escape(chr(10).join(code))}</code></pre>")
                code.clear()
            else:
                close_paragraph()
                close_list()
            in_code = not in_code
            continue
        if in_code:
            code.append(raw)
            continue
        line = escape(raw)
        if not raw.strip():
            close_paragraph()
            close_list()
        elif heading := _HEADING.match(line):
            close_paragraph()
            close_list()
            level = min(len(heading.group(1)) + 2, 6)  # the page has its own h1/h2
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif (item := _BULLET.match(line)) or (item := _NUMBERED.match(line)):
            close_paragraph()
            tag = "ul" if _BULLET.match(line) else "ol"
            if list_tag != tag:
                close_list()
                out.append(f"<{tag}>")
                list_tag = tag
            out.append(f"<li>{_inline(item.group(1))}</li>")
        else:
            close_list()
            paragraph.append(line.strip())
    if in_code:
        out.append(f"<pre><code>{escape(chr(10).join(code))}</code></pre>")
    close_paragraph()
    close_list()
    return mark_safe("\n".join(out))

"""Prompt normalisation: what counts as "the same prompt" for dedup and the gold guard."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed and trimmed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def content_hash(text: str = "", messages: list | None = None) -> str:
    """sha256 of the normalised prompt; chat prompts hash their (role, content) turns."""
    if messages:
        turns = [[str(m.get("role", "")).casefold(), normalize_text(str(m.get("content", "")))] for m in messages]
        key = "chat:" + json.dumps(turns, ensure_ascii=False, separators=(",", ":"))
    else:
        key = "text:" + normalize_text(text)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()

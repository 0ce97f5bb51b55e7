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
    """sha256 of the normalised prompt: the dedup key and the gold guard's key (``Prompt.content_hash``).

    A chat of one user turn asks exactly what the same text asks as a plain prompt, so it
    hashes as that text; other chats hash their (role, content) turns.
    """
    if _one_user_turn(messages):
        return _sha("text:" + normalize_text(str(messages[0].get("content", ""))))
    return split_key(text, messages)


def split_key(text: str = "", messages: list | None = None) -> str:
    """The key a snapshot's train/validation split hashes (``SnapshotRow.prompt_hash``).

    It is ``content_hash`` as it was before one-turn chats were folded into plain text, and
    stays so: a prompt keeps its side in every snapshot built with the same seed.
    """
    if messages:
        turns = [[str(m.get("role", "")).casefold(), normalize_text(str(m.get("content", "")))] for m in messages]
        return _sha("chat:" + json.dumps(turns, ensure_ascii=False, separators=(",", ":")))
    return _sha("text:" + normalize_text(text))


def _one_user_turn(messages) -> bool:
    return bool(messages) and len(messages) == 1 and str(messages[0].get("role", "")).casefold() == "user"


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()

"""The input gate: shape rules for what people send us, shared by every surface (CLI, REST, web).

A rule here answers with a message naming the offending part, or None when the value is
fine; the surfaces turn that into a line error (imports) or a field error (forms, REST)."""

from __future__ import annotations

import math

CHAT_ROLES = {"system", "user", "assistant", "tool"}


def check_messages(messages):
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array of {role, content} objects"
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages[{i}] must be an object with 'role' and 'content'"
        role, content = message.get("role"), message.get("content")
        if role not in CHAT_ROLES:
            return f"messages[{i}].role must be one of {', '.join(sorted(CHAT_ROLES))}, got {role!r}"
        if not isinstance(content, str):
            return f"messages[{i}].content must be a string"
    return None


def parse_number(raw, field, errors, *, kind=float, default=None, minimum=None, maximum=None, required=False):
    name = field.rsplit(".", 1)[-1] if not field.endswith("gate.threshold") else "gate threshold"
    if raw is None or raw == "":
        if required:
            errors.add(field, "This field is required.")
        return default
    if isinstance(raw, bool):
        errors.add(field, f"{name} must be a number, got {raw!r}")
        return default
    try:
        value = kind(raw) if kind is float else _whole(raw)
    except (TypeError, ValueError):
        errors.add(field, f"{name} must be {'a whole number' if kind is int else 'a number'}, got {raw!r}")
        return default
    if kind is float and not math.isfinite(value):
        errors.add(field, f"{name} must be a finite number, got {raw!r}")
        return default
    if minimum is not None and value < minimum:
        errors.add(field, f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        errors.add(field, f"{name} must be at most {maximum}, got {value}")
    return value


def _whole(raw) -> int:
    if isinstance(raw, float):
        if not raw.is_integer():
            raise ValueError
        return int(raw)
    return int(str(raw).strip())


def _choice(raw, field, choices, errors, default):
    if raw is None or raw == "":
        return default
    if raw not in choices:
        errors.add(field, f"{raw!r} is not supported; choose one of {', '.join(choices)}")
        return default
    return raw

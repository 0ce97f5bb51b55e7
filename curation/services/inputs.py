"""The input gate: shape rules for what people send us, shared by every surface (CLI, REST, web).

A rule here answers with a message naming the offending part, or None when the value is
fine; the surfaces turn that into a line error (imports) or a field error (forms, REST).

Numbers have one parser, ``to_number``: a number, or text of ASCII digits (``²`` or ``١٢``
are not numbers here, and ``1_000`` is not either, although Python's ``int`` takes them).
``parse_number`` adds the field's range and its message; ``parse_id`` is for primary keys,
which the database holds up to ``MAX_ID``.

JSON has one reader, ``load_json``: nesting deeper than ``MAX_JSON_DEPTH`` is refused
before the parser recurses (Python's ``json`` raises RecursionError, a 500, at about a
thousand levels), and so is text no database stores alike (``text_problem``: NUL, which
PostgreSQL refuses in text and jsonb while SQLite keeps it, and lone surrogates, which are
not Unicode and cannot even be hashed). Every surface reads JSON through it: the import
parser, the REST parser (``curation.api.parsers``), and the web forms.
"""

from __future__ import annotations

import json
import math
import re

CHAT_ROLES = {"system", "user", "assistant", "tool"}
MAX_ID = 2**63 - 1  # the largest primary key a bigint column holds

_WHOLE = re.compile(r"[+-]?[0-9]+")
_REAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


MAX_JSON_DEPTH = 32  # arrays and objects inside each other; real prompts, filters and params use a handful

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def json_depth_problem(text: str, limit: int = MAX_JSON_DEPTH) -> str | None:
    """A message when the JSON ``text`` nests arrays/objects more than ``limit`` deep, else None.
    Counts brackets outside strings, without parsing (so without recursion)."""
    if text.count("[") + text.count("{") <= limit:
        return None
    depth = 0
    for bracket in _BRACKET.findall(_JSON_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return f"nested more than {limit} levels deep"
    return None


def json_error(exc: json.JSONDecodeError) -> str:
    """json's message without its own dangling "at" ("Invalid control character at")."""
    return f"{exc.msg.removesuffix(' at')} at column {exc.colno}"


def text_problem(value, name: str = "") -> str | None:
    """The first string (or key) in ``value`` that no database stores alike, as a message
    naming where it is; None when there is none. Walks without recursion."""
    stack = [(name, value, False)]
    while stack:
        where, item, is_key = stack.pop()
        if isinstance(item, str):
            found = _UNSTORABLE.search(item)
            if found:
                char = found.group()
                what = (
                    "a NUL character (\\u0000), which cannot be stored"
                    if char == "\x00"
                    else f"a lone surrogate (\\u{ord(char):04x}), which is not valid Unicode"
                )
                place = (
                    f"a key of {where!r}" if is_key and where else "a key" if is_key else repr(where) if where else ""
                )
                return f"{place} contains {what}".strip()
        elif isinstance(item, dict):
            for key, sub in item.items():
                stack.append((where, key, True))
                stack.append((f"{where}.{key}" if where else str(key), sub, False))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", sub, False) for i, sub in enumerate(item))
    return None


def load_json(text: str | bytes, *, limit: int = MAX_JSON_DEPTH):
    """Parse JSON through the gate; ValueError with a message for people when it is not JSON,
    nests deeper than ``limit``, or holds a NUL character or a lone surrogate."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("not UTF-8 text") from None
    problem = json_depth_problem(text, limit)
    if problem:
        raise ValueError(problem)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({json_error(exc)})") from None
    except RecursionError:  # cannot happen below the depth limit; kept as a 400, not a 500
        raise ValueError(f"nested more than {limit} levels deep") from None
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def json_type(value) -> str:
    return {
        list: "an array",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
        dict: "an object",
    }.get(type(value), "null")


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


def to_number(raw, kind=float):
    """``raw`` (an int, a float, or ASCII text of one) as ``kind``; ValueError when it is not one.

    Booleans are not numbers; ``kind=int`` takes a float only when it is whole (3.0, not 3.5).
    """
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if not (_WHOLE if kind is int else _REAL).fullmatch(text):
            raise ValueError(raw)
        raw = int(text) if kind is int else float(text)
    if isinstance(raw, float) and kind is int:
        if not raw.is_integer():
            raise ValueError(raw)
        return int(raw)
    if not isinstance(raw, (int, float)):
        raise ValueError(raw)
    try:
        return kind(raw)
    except OverflowError:  # an int too large for a float
        raise ValueError(raw) from None


def parse_whole(raw, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """``raw`` as a whole number from ``minimum`` to ``maximum``, or None when it is not one."""
    try:
        value = to_number(raw, int)
    except ValueError:
        return None
    return value if minimum <= value <= maximum else None


def parse_id(raw) -> int | None:
    """``raw`` as a primary key (1 to ``MAX_ID``), or None when it cannot be one: matches nothing, never overflows."""
    return parse_whole(raw, 1)


def by_id(queryset, raw):
    """The row of ``queryset`` whose primary key ``raw`` names, or None (also when ``raw`` is no id)."""
    pk = parse_id(raw)
    return queryset.filter(pk=pk).first() if pk is not None else None


def parse_number(
    raw, field, errors, *, kind=float, default=None, minimum=None, maximum=None, required=False, label=None
):
    """``raw`` checked as the number ``field`` holds; on a problem, adds it to ``errors`` (an ``Invalid``)
    and returns ``default``. Messages start with ``label`` (default: the field's last part; "" for none)."""
    if label is None:
        label = "gate threshold" if field.endswith("gate.threshold") else field.rsplit(".", 1)[-1]
    name = f"{label} " if label else ""
    if raw is None or raw == "":
        if required:
            errors.add(field, "This field is required.")
        return default
    if isinstance(raw, bool):
        errors.add(field, f"{name}must be a number, got {raw!r}")
        return default
    try:
        value = to_number(raw, kind)
    except ValueError:
        errors.add(field, f"{name}must be {'a whole number' if kind is int else 'a number'}, got {_shown(raw)}")
        return default
    if kind is float and not math.isfinite(value):
        errors.add(field, f"{name}must be a finite number, got {_shown(raw)}")
        return default
    low = minimum is not None and value < minimum
    high = maximum is not None and value > maximum
    if (low or high) and minimum is not None and maximum is not None:
        errors.add(field, f"{name}must be between {minimum} and {maximum}, got {value}")
        return default
    if low:
        errors.add(field, f"{name}must be at least {minimum}, got {value}")
        return default
    if high:
        errors.add(field, f"{name}must be at most {maximum}, got {value}")
        return default
    return value


def _shown(raw) -> str:
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_choice(raw, field, choices, errors, default):
    """``raw`` if it is one of ``choices`` (empty: ``default``); else the problem goes to ``errors``."""
    if raw is None or raw == "":
        return default
    if raw not in choices:
        errors.add(field, f"{raw!r} is not supported; choose one of {', '.join(choices)}")
        return default
    return raw


_TRUE, _FALSE = ("true", "on", "1"), ("false", "off", "0", "")


def parse_switch(raw, field, errors):
    """``raw`` as a bool (JSON true/false, or a form's "on"/"true"/"1"/"off"/"false"/"0"/""); on a
    problem, adds it to ``errors`` and returns None."""
    value = raw
    if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
        value = value.lower() in _TRUE
    if not isinstance(value, bool):
        errors.add(field, f"{field} must be true or false, got {_shown(raw)}")
        return None
    return value


def check_known(data: dict, known, errors) -> None:
    """Adds to ``errors`` each key of ``data`` that is not one of ``known`` settings."""
    for name in sorted(set(data) - set(known)):
        errors.add(name, f"unknown setting; the settings are {', '.join(known)}")

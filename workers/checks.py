"""Automatic checks on a teacher answer, configured per project as a JSON-able list.

    [{"type": "non_empty"},
     {"type": "max_length", "chars": 2000},
     {"type": "regex_must_match", "pattern": "^Category: \\w+"},
     {"type": "regex_must_not_match", "pattern": "(?i)lorem ipsum"},
     {"type": "json"},
     {"type": "json_schema", "schema": {...}},
     {"type": "refusal", "phrases": [...]},          # phrases optional: DEFAULT_REFUSALS
     {"type": "label_in_set", "labels": ["a", "b"]}]

Every entry may carry a ``name`` (default: its type) under which its result is
reported. ``run_checks`` returns one ``{"name", "passed", "detail"}`` per entry; a
failing check flags the sample, it never deletes it.

Regular expressions run on at most ``REGEX_TEXT_LIMIT`` characters of the text and
are refused at configuration time when they nest unbounded repetition (``(a+)+``,
``(\\w*)*``): the shape behind catastrophic backtracking in Python's engine.
"""

from __future__ import annotations

import json
import re

import jsonschema

REGEX_TEXT_LIMIT = 20_000
MAX_PATTERN_LENGTH = 500
DEFAULT_REFUSALS = [
    "i'm sorry, but i can't",
    "i am sorry, but i cannot",
    "i cannot help with",
    "i can't help with",
    "i can't assist",
    "i cannot assist",
    "i'm unable to",
    "i am unable to",
    "as an ai language model",
    "as an ai, i",
    "i won't be able to",
    "i must decline",
]

_FIELDS = {
    "non_empty": {},
    "max_length": {"chars": int},
    "regex_must_match": {"pattern": str},
    "regex_must_not_match": {"pattern": str},
    "json": {},
    "json_schema": {"schema": dict},
    "refusal": {},
    "label_in_set": {"labels": list},
}
CHECK_TYPES = tuple(_FIELDS)
_OPTIONAL = {"refusal": {"phrases": list}, "regex_must_match": {"flags": str}, "regex_must_not_match": {"flags": str}}
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*](?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,\})")


def _describe(i: int, entry) -> str:
    kind = entry.get("type") if isinstance(entry, dict) else None
    return f"check #{i + 1}" + (f" ({kind})" if kind else "")


def _compile(pattern: str, where: str) -> re.Pattern:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"{where}: pattern is longer than {MAX_PATTERN_LENGTH} characters")
    if _NESTED_QUANTIFIER.search(pattern):
        raise ValueError(
            f"{where}: pattern {pattern!r} nests repetition (like '(a+)+'), "
            "which can take exponential time; rewrite it without the outer repetition"
        )
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{where}: invalid regular expression {pattern!r}: {exc}") from None


def validate_checks_config(cfg) -> list[dict]:
    """Check a project's check list; raise ValueError naming the first bad entry."""
    if not isinstance(cfg, list):
        raise ValueError("checks configuration must be a list of {'type': ...} objects")
    names = set()
    for i, entry in enumerate(cfg):
        where = _describe(i, entry)
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be an object with a 'type'")
        kind = entry.get("type")
        if kind not in _FIELDS:
            raise ValueError(f"{where}: unknown check type {kind!r}; known types: {', '.join(_FIELDS)}")
        allowed = {"type", "name"} | set(_FIELDS[kind]) | set(_OPTIONAL.get(kind, {}))
        extra = set(entry) - allowed
        if extra:
            raise ValueError(f"{where}: unexpected field(s) {', '.join(sorted(extra))}")
        for field, typ in {**_FIELDS[kind], **_OPTIONAL.get(kind, {})}.items():
            if field not in entry:
                if field in _FIELDS[kind]:
                    raise ValueError(f"{where}: missing '{field}'")
                continue
            value = entry[field]
            if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
                raise ValueError(f"{where}: '{field}' must be {typ.__name__}, got {type(value).__name__}")
        if kind == "max_length" and entry["chars"] < 0:
            raise ValueError(f"{where}: 'chars' must be >= 0")
        if kind.startswith("regex"):
            _compile(entry["pattern"], where)
        if kind == "json_schema":
            try:
                jsonschema.validators.validator_for(entry["schema"]).check_schema(entry["schema"])
            except jsonschema.SchemaError as exc:
                raise ValueError(f"{where}: invalid JSON schema: {exc.message}") from None
        if kind == "label_in_set" and (not entry["labels"] or not all(isinstance(x, str) for x in entry["labels"])):
            raise ValueError(f"{where}: 'labels' must be a non-empty list of strings")
        if kind == "refusal" and not all(isinstance(x, str) and x for x in entry.get("phrases", ["x"])):
            raise ValueError(f"{where}: 'phrases' must be a list of non-empty strings")
        name = entry.get("name", kind)
        if name in names:
            raise ValueError(f"{where}: a second check named {name!r}; give one of them a distinct 'name'")
        names.add(name)
    return cfg


def describe_check(entry: dict) -> str:
    """One validated check in words, for the settings page."""
    kind = entry["type"]
    if kind == "non_empty":
        text = "the answer is not empty"
    elif kind == "max_length":
        text = f"the answer has at most {entry['chars']:,} characters"
    elif kind == "regex_must_match":
        text = f"the answer matches the pattern {entry['pattern']!r}"
    elif kind == "regex_must_not_match":
        text = f"the answer does not match the pattern {entry['pattern']!r}"
    elif kind == "json":
        text = "the answer is valid JSON"
    elif kind == "json_schema":
        text = f"the answer is JSON that follows a schema ({len(entry['schema'].get('properties', {}))} properties)"
    elif kind == "refusal":
        phrases = entry.get("phrases")
        text = "the answer is not a refusal" + (f" (phrases: {', '.join(map(repr, phrases))})" if phrases else "")
    else:
        text = f"the label is one of {', '.join(entry['labels'])}"
    return f"{entry.get('name', kind)}: {text}"


def _run_one(text: str, entry: dict) -> tuple[bool, str]:
    kind = entry["type"]
    if kind == "non_empty":
        return (bool(text.strip()), "" if text.strip() else "answer is empty")
    if kind == "max_length":
        ok = len(text) <= entry["chars"]
        return ok, "" if ok else f"{len(text)} characters, limit {entry['chars']}"
    if kind in ("regex_must_match", "regex_must_not_match"):
        found = _compile(entry["pattern"], kind).search(text[:REGEX_TEXT_LIMIT])
        if kind == "regex_must_match":
            return (found is not None, "" if found else f"no match for {entry['pattern']!r}")
        return (found is None, "" if found is None else f"matched {found.group(0)[:80]!r}")
    if kind in ("json", "json_schema"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            return False, f"not JSON: {exc}"
        if kind == "json":
            return True, ""
        error = jsonschema.exceptions.best_match(
            jsonschema.validators.validator_for(entry["schema"])(entry["schema"]).iter_errors(value)
        )
        if error is None:
            return True, ""
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return False, f"{where}: {error.message}"
    if kind == "refusal":
        lowered = " ".join(text.lower().replace("\u2019", "'").split())
        hits = [p for p in entry.get("phrases", DEFAULT_REFUSALS) if p.lower() in lowered]
        return (not hits, f"refusal phrase {hits[0]!r}" if hits else "")
    if kind == "label_in_set":
        ok = text.strip() in entry["labels"]
        return ok, "" if ok else f"{text.strip()[:80]!r} is not one of {entry['labels']}"
    raise ValueError(f"unknown check type {kind!r}")


def run_checks(text: str, cfg: list[dict]) -> list[dict]:
    """One ``{"name", "passed", "detail"}`` per configured check, in order."""
    validate_checks_config(cfg)
    text = text or ""
    out = []
    for entry in cfg:
        passed, detail = _run_one(text, entry)
        out.append({"name": entry.get("name", entry["type"]), "passed": passed, "detail": detail})
    return out


def all_passed(results: list[dict]) -> bool:
    return all(r["passed"] for r in results)

"""Prompt import from JSONL and CSV: validated line by line, atomic, deduplicated.

Every bad line is reported with its number and reason. By default one bad line
means nothing is imported; with ``skip_bad_lines`` the good lines go in and the
skipped ones are listed. Duplicates (after normalisation, within the file or
against the project) are skipped and counted. Inserts are bulk, never a query
per row.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings
from django.db import transaction

from curation.models import GoldItem, Project, Prompt
from curation.normalize import content_hash
from curation.services import audit, hygiene
from curation.services.errors import ReviewError
from curation.services.gold import check_gold_answer, check_purpose
from curation.services.inputs import check_messages, json_type, load_json, text_problem
from curation.services.projects import tier_named

BATCH = 2000
MAX_REPORTED = 1000


class ImportRejected(Exception):
    """The whole file is unusable (too big, empty, binary, not UTF-8, no prompt column)."""


@dataclass
class LineError:
    line: int
    reason: str

    def __str__(self):
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportResult:
    created: int = 0
    duplicates: int = 0
    gold_candidates: int = 0
    lines: int = 0
    errors: list[LineError] = field(default_factory=list)
    error_count: int = 0
    skipped_bad_lines: bool = False
    prompt_ids: list[int] = field(default_factory=list)  # the prompts this import created

    @property
    def ok(self):
        return self.error_count == 0 or self.skipped_bad_lines

    def add_error(self, line, reason):
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append(LineError(line, reason))

    def as_dict(self):
        return {
            "imported": self.ok,
            "created": self.created,
            "duplicates": self.duplicates,
            "gold_candidates": self.gold_candidates,
            "lines": self.lines,
            "error_count": self.error_count,
            "errors": [{"line": e.line, "reason": e.reason} for e in self.errors],
            "errors_truncated": self.error_count > len(self.errors),
            "skipped_bad_lines": self.skipped_bad_lines,
        }


@dataclass
class _Row:
    line: int
    text: str
    messages: list | None
    metadata: dict
    reference: str
    label: str
    tier: object = None
    purpose: str = "test"

    @property
    def hash(self):
        return content_hash(self.text, self.messages)


def detect_format(filename: str, head: bytes) -> str:
    name = (filename or "").lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    return "jsonl" if head.lstrip()[:1] in (b"{", b"[") else "csv"


def import_prompts(
    project: Project,
    fileobj: BinaryIO,
    *,
    filename: str = "",
    fmt: str | None = None,
    skip_bad_lines: bool = False,
    source: str = Prompt.Source.IMPORTED,
    size: int | None = None,
    as_gold: bool = False,
    by=None,
) -> ImportResult:
    """Validate and import a prompt file into ``project``. Raises ImportRejected for unusable files.

    ``as_gold``: every line is a confirmed gold item (``reference`` or ``label`` required, an optional
    ``tier`` name and ``purpose``: test, the default, or dev), checked line by line like any prompt
    (``manage.py import_gold``, the API)."""
    parsed, result = parse_prompt_file(project, fileobj, filename=filename, fmt=fmt, size=size)
    result.skipped_bad_lines = skip_bad_lines
    check = _as_gold if as_gold else _as_candidate
    rows = [r for r in (check(project, row, result) for row in parsed) if r is not None]
    if result.lines == 0:
        raise ImportRejected("The file has no prompts: every line is blank.")
    if result.error_count and not skip_bad_lines:
        return result
    created = _store(project, rows, result, source, gold_confirmed=as_gold, by=by)
    result.prompt_ids = list(created)
    hygiene.after_prompts_added(project, created)
    if result.gold_candidates:
        hygiene.after_gold_changed(project)
    return result


def parse_prompt_file(project, fileobj, *, filename: str = "", fmt: str | None = None, size: int | None = None):
    """(rows, result) of a prompt file checked line by line as the import checks it, nothing stored:
    for looking at an outside dataset (``check_contamination``). Rows carry ``line``, ``text``, ``messages``."""
    limit = settings.IMPORT_MAX_BYTES
    if size is not None and size > limit:
        raise ImportRejected(_too_big(size, limit))
    head = fileobj.read(8192)
    if not head:
        raise ImportRejected(
            "The file is empty: expected JSONL (one JSON object per line) or CSV with a 'prompt' column."
        )
    _reject_binary(head)
    fmt = fmt or detect_format(filename, head)
    if fmt not in ("jsonl", "csv"):
        raise ImportRejected(f"Unknown format {fmt!r}: use jsonl or csv.")
    result = ImportResult()
    parse = _parse_jsonl if fmt == "jsonl" else _parse_csv
    rows = list(parse(project, _Chained(head, fileobj, limit), result))
    return rows, result


def _as_gold(project, row, result):
    """A parsed line as a gold item: its answer checked as every gold item's is, its tier a tier of the project."""
    if not (row.reference or row.label):
        need = "'label'" if project.is_classification else "'reference'"
        result.add_error(row.line, f"a gold item needs {need}")
        return None
    try:
        row.reference, row.label = check_gold_answer(project, row.reference, row.label)
        tier = row.metadata.pop("tier", None)
        row.tier = None if tier in (None, "") else tier_named(project, str(tier))
        row.purpose = check_purpose(row.metadata.pop("purpose", None))
    except ReviewError as exc:
        result.add_error(row.line, exc.message)
        return None
    return row


def _as_candidate(project, row, result):
    """A parsed line of a prompt import: one with a reference or label is a gold candidate, whose
    ``purpose`` (test or dev) is checked as a gold item's is; a plain prompt is left as it came."""
    if row.reference or row.label:
        try:
            row.purpose = check_purpose(row.metadata.pop("purpose", None))
        except ReviewError as exc:
            result.add_error(row.line, exc.message)
            return None
    return row


def _too_big(size, limit):
    return (
        f"The file is {megabytes(size)}; the limit is {megabytes(limit)} (IMPORT_MAX_BYTES). "
        "Split it into smaller files."
    )


def upload_too_big(size: int, limit: int) -> str:
    """The message for an upload refused on its declared size (before it was read)."""
    return _too_big(size, limit).replace("The file is", "The upload is", 1)


def megabytes(size: int) -> str:
    """Decimal megabytes, as IMPORT_MAX_BYTES' default (100 MB = 100,000,000 bytes) is set."""
    return f"{size / 1e6:.1f} MB"


def _reject_binary(head: bytes):
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportRejected("The file is UTF-16 encoded; save it as UTF-8 and upload it again.")
    if b"\x00" in head:
        raise ImportRejected("This is not a text file (it contains NUL bytes); expected UTF-8 JSONL or CSV.")


class _Chained(io.RawIOBase):
    """Re-attaches the sniffed head to the rest of the upload and enforces the size limit."""

    def __init__(self, head, rest, limit):
        self._head, self._rest, self._limit, self._seen = head, rest, limit, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        if self._head:
            chunk, self._head = self._head[: len(buffer)], self._head[len(buffer) :]
        else:
            chunk = self._rest.read(len(buffer))
        self._seen += len(chunk)
        if self._seen > self._limit:
            raise ImportRejected(_too_big(self._seen, self._limit) + " (read so far)")
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _decoded_lines(stream, result):
    """(line number, text) for each line; undecodable lines become errors."""
    reader = io.BufferedReader(stream, buffer_size=1 << 20)
    for number, raw in enumerate(reader, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            result.lines += 1
            bad = raw[exc.start : exc.start + 1].hex()
            result.add_error(
                number, f"not valid UTF-8 (byte 0x{bad} at column {exc.start + 1}); save the file as UTF-8"
            )


def _parse_jsonl(project, stream, result):
    for number, text in _decoded_lines(stream, result):
        if not text.strip():
            continue
        result.lines += 1
        try:
            obj = load_json(text)
        except ValueError as exc:  # not JSON, nested too deep, or text no database stores alike
            result.add_error(number, str(exc))
            continue
        if not isinstance(obj, dict):
            result.add_error(number, f"expected a JSON object, got {_json_type(obj)}")
            continue
        row = _validate(project, number, obj, result)
        if row is not None:
            yield row


def _parse_csv(project, stream, result):
    text_stream = _LineText(_decoded_lines(stream, result))
    reader = csv.DictReader(text_stream)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise ImportRejected(f"The CSV header could not be read: {exc}.") from None
    if not header:
        raise ImportRejected("The CSV has no header row; its first line must name the columns, one of them 'prompt'.")
    columns = {name.strip().lower(): name for name in header if name}
    if "prompt" not in columns:
        found = ", ".join(repr(h) for h in header)
        raise ImportRejected(f"The CSV has no 'prompt' column (found: {found}).")
    try:
        for record in reader:
            number = text_stream.record_start
            if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
                continue
            result.lines += 1
            if None in record:
                result.add_error(number, f"{len(header)} columns expected, got more")
                continue
            obj = {"prompt": record.get(columns["prompt"]) or ""}
            metadata, bad = {}, None
            for key, original in columns.items():
                value = record.get(original)
                if key == "prompt" or value in (None, ""):
                    continue
                if key in ("reference", "label"):
                    obj[key] = value
                elif key == "metadata":
                    try:
                        cell = load_json(value)
                    except ValueError as exc:
                        bad = f"'metadata' must be a JSON object ({exc})"
                        break
                    if not isinstance(cell, dict):
                        bad = f"'metadata' must be a JSON object, got {_json_type(cell)}"
                        break
                    metadata.update(cell)
                else:
                    metadata[original.strip()] = value
            if bad:
                result.add_error(number, bad)
                continue
            obj["metadata"] = metadata
            row = _validate(project, number, obj, result)
            if row is not None:
                yield row
    except csv.Error as exc:
        result.add_error(text_stream.line, f"malformed CSV ({exc})")


class _LineText:
    """Feeds decoded lines to csv while remembering which line each record starts on."""

    def __init__(self, lines):
        self._lines = lines
        self.line = 0
        self.record_start = 0
        self._in_quotes = False

    def __iter__(self):
        return self

    def __next__(self):
        number, text = next(self._lines)
        self.line = number
        if not self._in_quotes:
            self.record_start = number
        # An odd number of quotes opens (or closes) a field that spans lines.
        if text.count('"') % 2:
            self._in_quotes = not self._in_quotes
        return text


_json_type = json_type


def _validate(project, number, obj, result):
    max_chars = settings.IMPORT_MAX_PROMPT_CHARS
    problem = text_problem(obj)  # NUL (CSV cells too) and lone surrogates, refused on every database alike
    if problem:
        result.add_error(number, problem)
        return None
    text, messages = obj.get("prompt"), obj.get("messages")
    if text is None and messages is None:
        result.add_error(number, "missing field 'prompt' (or 'messages' for a chat prompt)")
        return None
    if text is not None and messages is not None:
        result.add_error(number, "give either 'prompt' or 'messages', not both")
        return None
    if messages is not None:
        problem = check_messages(messages)
        if problem:
            result.add_error(number, problem)
            return None
        length = sum(len(m["content"]) for m in messages)
        text = ""
    else:
        if not isinstance(text, str):
            result.add_error(number, f"'prompt' must be a string, got {_json_type(text)}")
            return None
        if not text.strip():
            result.add_error(number, "'prompt' is empty")
            return None
        length = len(text)
    if length > max_chars:
        result.add_error(
            number, f"prompt is {length:,} characters; the limit is {max_chars:,} (IMPORT_MAX_PROMPT_CHARS)"
        )
        return None
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        result.add_error(number, f"'metadata' must be an object, got {_json_type(metadata)}")
        return None
    extra = {k: v for k, v in obj.items() if k not in ("prompt", "messages", "metadata", "reference", "label")}
    metadata = {**extra, **metadata}
    reference, label = obj.get("reference", ""), obj.get("label", "")
    for name, value in (("reference", reference), ("label", label)):
        if not isinstance(value, str):
            result.add_error(number, f"'{name}' must be a string, got {_json_type(value)}")
            return None
    if label and project.labels and label not in project.labels:
        allowed = ", ".join(project.labels)
        result.add_error(number, f"label {label!r} is not one of this project's labels ({allowed})")
        return None
    return _Row(number, text, messages, metadata, reference, label)


@transaction.atomic
def _store(project, rows, result, source, gold_confirmed=False, by=None):
    """Store new prompts and gold items; returns the ids of the prompts created."""
    by_hash = {}
    for row in rows:
        key = row.hash
        if key in by_hash:
            result.duplicates += 1
            first = by_hash[key]
            if not (first.reference or first.label) and (row.reference or row.label):
                # the later line makes the prompt gold: its answer, tier and purpose together
                first.reference, first.label = row.reference, row.label
                first.tier, first.purpose = row.tier, row.purpose
        else:
            by_hash[key] = row
    hashes = list(by_hash)
    existing = {}
    for start in range(0, len(hashes), BATCH):
        chunk = hashes[start : start + BATCH]
        existing.update(
            Prompt.objects.filter(project=project, content_hash__in=chunk, twin_of=None).values_list(
                "content_hash", "id"
            )
        )
    result.duplicates += len(existing)
    new_prompts = [
        Prompt(
            project=project,
            text=row.text,
            messages=row.messages,
            metadata=row.metadata,
            source=source,
            content_hash=key,
        )
        for key, row in by_hash.items()
        if key not in existing
    ]
    created = Prompt.objects.bulk_create(new_prompts, batch_size=BATCH)
    result.created = len(created)
    prompt_ids = dict(existing)
    prompt_ids.update((p.content_hash, p.id) for p in created)

    gold_rows = {key: row for key, row in by_hash.items() if row.reference or row.label}
    if gold_rows:
        have_gold = set()
        keys = list(gold_rows)
        for start in range(0, len(keys), BATCH):
            have_gold.update(
                GoldItem.objects.filter(project=project, content_hash__in=keys[start : start + BATCH]).values_list(
                    "content_hash", flat=True
                )
            )
        gold = [
            GoldItem(
                project=project,
                prompt_id=prompt_ids[key],
                content_hash=key,
                reference=row.reference,
                label=row.label,
                tier=row.tier,
                purpose=row.purpose,
                confirmed=gold_confirmed,
            )
            for key, row in gold_rows.items()
            if key not in have_gold
        ]
        GoldItem.objects.bulk_create(gold, batch_size=BATCH)
        result.gold_candidates = len(gold)
        if gold:
            target = f"{len(gold)} gold candidate{'s' if len(gold) != 1 else ''}"
            audit.record(audit.Kind.GOLD, "import", target, project=project, by=by, after={"candidates": len(gold)})
    return [p.id for p in created]


def check_contamination(project, fileobj, *, filename: str = "", fmt: str | None = None, size: int | None = None):
    """One dict per line of a prompt file: ``{"line", "excluded", "reason", "gold_item", "similarity"}``
    (``reason``: exact, near, semantic or None) plus ``evidence``; a line the import would refuse is
    ``{"line", "excluded": None, "error"}``. Nothing is stored: for checking an outside dataset
    against the project's gold set before training on it."""
    rows, result = parse_prompt_file(project, fileobj, filename=filename, fmt=fmt, size=size)
    decisions = hygiene.check_prompts(project, [(r.text, r.messages) for r in rows])
    out = [{"line": r.line, **d.as_dict()} for r, d in zip(rows, decisions)]
    out += [
        {"line": e.line, "excluded": None, "reason": None, "gold_item": None, "similarity": None, "evidence": None}
        | {"error": e.reason}
        for e in result.errors
    ]
    return sorted(out, key=lambda d: d["line"])

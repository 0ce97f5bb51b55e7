"""Snapshot files: JSONL and chat lines built by the database, gzip, and Parquet.

JSONL and chat lines are built by the database itself (string concatenation of
``to_json`` / ``json_quote`` values), read on PostgreSQL through ``COPY ... TO
STDOUT`` and on SQLite through a plain cursor. One generator, ``iter_lines``, feeds
both the file writer and the download fallback (``services/downloads.py``) when a
file is missing, so the bytes a client gets are the same whichever path served them.
Python never holds more than one chunk of lines.

Files of a snapshot live in ``ARTIFACT_DIR/snapshots/<hh>/<content_hash>/``, one per
format and split (``train.jsonl``, ``validation.chat.jsonl.gz``, ``train.parquet``, …),
plus ``files.json`` (sizes and sha256), written last: a directory without it is
incomplete and is rebuilt. Snapshots with the same content hash share the directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import connection
from django.db.models import Count

from curation.models import Snapshot, SnapshotRow
from workers.softtargets import SoftTargetError, read_soft_targets

FORMATS = ("jsonl", "chat", "parquet")
LINE_FORMATS = ("jsonl", "chat")
SPLITS = (SnapshotRow.Split.TRAIN.value, SnapshotRow.Split.VALIDATION.value)
GZIP_LEVEL = 6
CHUNK_BYTES = 256 * 1024
SQLITE_FETCH = 2000
PARQUET_BATCH_ROWS = 20_000
PARQUET_BATCH_ROWS_SOFT = 500  # soft targets are ~k*6 bytes a token: keep a batch well under 100 MB
INDEX = "files.json"
TABLE = SnapshotRow._meta.db_table


def file_name(fmt: str, split: str, gzip: bool = False) -> str:
    base = {"jsonl": f"{split}.jsonl", "chat": f"{split}.chat.jsonl", "parquet": f"{split}.parquet"}[fmt]
    return base + (".gz" if gzip else "")


def snapshot_dir(content_hash: str) -> Path:
    return Path(settings.ARTIFACT_DIR) / "snapshots" / content_hash[:2] / content_hash


# ------------------------------------------------------------------- lines
def _quote(vendor: str) -> Callable[[str], str]:
    if vendor == "postgresql":
        return lambda expr: f"to_json({expr})::text"
    return lambda expr: f"json_quote({expr})"


def _jsonl_expr(vendor: str) -> str:
    q = _quote(vendor)
    parts = [
        "'{\"prompt\":' || " + q("prompt_text"),
        "',\"completion\":' || " + q("response"),
        "',\"split\":' || " + q("split"),
        "',\"stage\":' || " + q("stage"),
        "',\"tier\":' || COALESCE(" + q("NULLIF(tier, '')") + ", 'null')",
        "',\"source\":' || " + q("source"),
        "',\"grade\":' || COALESCE(CAST(grade AS TEXT), 'null')",
        "',\"edited\":' || CASE WHEN edited THEN 'true' ELSE 'false' END",
        "',\"example_id\":' || COALESCE(CAST(example_id AS TEXT), 'null')",
    ]
    return " || ".join(parts) + " || '}'"


def _chat_expr(vendor: str, system_fragment: str) -> str:
    """OpenAI fine-tuning lines: {"messages": [system?, prompt turns, assistant]}."""
    q = _quote(vendor)
    if vendor == "postgresql":
        first_role = "COALESCE(prompt_messages->0->>'role', '')"
        turns = (
            "(SELECT string_agg('{\"role\":' || to_json(m->>'role')::text || ',\"content\":' || "
            "to_json(m->>'content')::text || '}', ',' ORDER BY i) "
            "FROM jsonb_array_elements(prompt_messages) WITH ORDINALITY AS t(m, i))"
        )
    else:
        first_role = "COALESCE(json_extract(prompt_messages, '$[0].role'), '')"
        turns = (
            "(SELECT group_concat('{\"role\":' || json_quote(json_extract(j.value, '$.role')) || ',\"content\":' || "
            "json_quote(json_extract(j.value, '$.content')) || '}', ',') FROM json_each(prompt_messages) AS j)"
        )
    system = "''"
    if system_fragment:
        system = f"CASE WHEN {first_role} = 'system' THEN '' ELSE %(system)s END"
    user = '\'{"role":"user","content":\' || ' + q("prompt_text") + " || '},'"
    return (
        "'{\"messages\":[' || " + system + " || "
        f"CASE WHEN prompt_messages IS NULL THEN {user} ELSE {turns} || ',' END || "
        '\'{"role":"assistant","content":\' || ' + q("response") + " || '}]}'"
    )


def _system_fragment(snapshot: Snapshot) -> str:
    if not snapshot.system_prompt:
        return ""
    return (
        json.dumps({"role": "system", "content": snapshot.system_prompt}, ensure_ascii=False, separators=(",", ":"))
        + ","
    )


def lines_sql(snapshot: Snapshot, fmt: str, vendor: str, split: str | None = "") -> tuple[str, dict]:
    """The SELECT of one line per row of ``snapshot`` in file order: one split, or (None) all of them."""
    if fmt == "jsonl":
        expr = _jsonl_expr(vendor)
    elif fmt == "chat":
        expr = _chat_expr(vendor, _system_fragment(snapshot))
    else:
        raise ValueError(f"{fmt} is not a line format")
    params = {"snapshot": snapshot.pk, "system": _system_fragment(snapshot), "split": split}
    if split is None:
        where = "snapshot_id = %(snapshot)s ORDER BY split, row_hash"
    else:
        where = "snapshot_id = %(snapshot)s AND split = %(split)s ORDER BY row_hash"
    return f"SELECT {expr} FROM {TABLE} WHERE {where}", params


def copy_statement(snapshot: Snapshot, fmt: str, split: str | None):
    """``COPY (lines) TO STDOUT`` for PostgreSQL, in a form that writes each line verbatim."""
    from psycopg import sql as pgsql

    sql, params = lines_sql(snapshot, fmt, "postgresql", split)
    template = sql.replace("{", "{{").replace("}", "}}").replace("%(", "{").replace(")s", "}")
    select = pgsql.SQL(template).format(**{k: pgsql.Literal(v) for k, v in params.items() if "{" + k + "}" in template})
    # CSV with delimiter and quote characters that JSON text never holds raw (to_json
    # escapes every control character): each line comes out verbatim, no escaping.
    return pgsql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')").format(select)


def iter_lines(snapshot: Snapshot, fmt: str, split: str, chunk_bytes: int | None = None) -> Iterator[bytes]:
    """The lines of one split, UTF-8, each ending in a newline, in chunks of about ``chunk_bytes``."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    if connection.vendor == "postgresql":
        yield from _copy_lines(copy_statement(snapshot, fmt, split), chunk_bytes)
    else:
        sql, params = lines_sql(snapshot, fmt, connection.vendor, split)
        yield from _cursor_lines(sql, params, chunk_bytes)


def _copy_lines(statement, chunk_bytes: int) -> Iterator[bytes]:
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
        buffer = bytearray()
        for data in copy:
            buffer += data
            if len(buffer) >= chunk_bytes:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)


def _cursor_lines(sql: str, params: dict, chunk_bytes: int) -> Iterator[bytes]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        buffer = bytearray()
        while True:
            rows = cursor.fetchmany(SQLITE_FETCH)
            if not rows:
                break
            buffer += ("\n".join(r[0] for r in rows) + "\n").encode("utf-8")
            if len(buffer) >= chunk_bytes:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)


def gzip_chunks(chunks) -> Iterator[bytes]:
    """Deterministic gzip (no name, no time): the same input gives the same bytes, file or stream."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


# ------------------------------------------------------------------- parquet
_BASE_COLUMNS = [
    ("example_id", pa.int64()),
    ("prompt", pa.string()),
    ("prompt_messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("completion", pa.string()),
    ("split", pa.string()),
    ("stage", pa.string()),
    ("tier", pa.string()),
    ("source", pa.string()),
    ("grade", pa.int16()),
    ("edited", pa.bool_()),
]
_SOFT_COLUMNS = [
    ("token_ids", pa.list_(pa.int32())),
    ("topk_ids", pa.list_(pa.list_(pa.int32()))),
    ("topk_logprobs", pa.list_(pa.list_(pa.float16()))),
    ("tail_logprob", pa.list_(pa.float32())),
    ("token_logprob", pa.list_(pa.float32())),
]


def parquet_schema(snapshot: Snapshot, split: str) -> pa.Schema:
    project = snapshot.project
    columns = list(_BASE_COLUMNS)
    if project.is_classification:
        columns.append(("label_distribution", pa.list_(pa.float32())))
    elif snapshot.include_soft_targets:
        columns += _SOFT_COLUMNS
    metadata = {
        "curation.content_hash": snapshot.content_hash,
        "curation.split": split,
        "curation.labels": json.dumps(list(project.labels or []) if project.is_classification else []),
    }
    return pa.schema(columns, metadata=metadata)


def _nested(arrays: list, dtype, depth: int) -> pa.Array:
    """A list (depth 1) or list-of-lists (depth 2) column from numpy arrays; None is a null row."""
    mask = np.array([a is None for a in arrays], dtype=bool)
    present = [a for a in arrays if a is not None]
    if depth == 1:
        values = np.concatenate(present).astype(dtype) if present else np.array([], dtype=dtype)
        lengths = [0 if a is None else len(a) for a in arrays]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values), mask=pa.array(mask))
    k = present[0].shape[1] if present else 0
    flat = np.concatenate([a.reshape(-1) for a in present]).astype(dtype) if present else np.array([], dtype=dtype)
    rows_per = [0 if a is None else a.shape[0] for a in arrays]
    inner_offsets = np.arange(0, sum(rows_per) * k + 1, k if k else 1, dtype=np.int32)[: sum(rows_per) + 1]
    inner = pa.ListArray.from_arrays(pa.array(inner_offsets), pa.array(flat))
    outer_offsets = np.concatenate([[0], np.cumsum(rows_per)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(outer_offsets), inner, mask=pa.array(mask))


def _soft_batch(pointers: list[str], problems: list) -> dict:
    loaded = []
    for pointer in pointers:
        st = None
        if pointer:
            try:
                st = read_soft_targets(settings.ARTIFACT_DIR, pointer)
            except SoftTargetError as exc:
                problems.append(str(exc))
        loaded.append(st)
    return {
        "token_ids": _nested([s.token_ids if s else None for s in loaded], np.int32, 1),
        "topk_ids": _nested([s.topk_ids if s else None for s in loaded], np.int32, 2),
        "topk_logprobs": _nested([s.topk_logprobs if s else None for s in loaded], np.float16, 2),
        "tail_logprob": _nested([s.tail_logprob if s else None for s in loaded], np.float32, 1),
        "token_logprob": _nested(
            [s.token_logprob if (s is not None and s.token_logprob is not None) else None for s in loaded],
            np.float32,
            1,
        ),
    }


_PARQUET_FIELDS = (
    "example_id",
    "prompt_text",
    "prompt_messages",
    "response",
    "split",
    "stage",
    "tier",
    "source",
    "grade",
    "edited",
    "label_distribution",
    "soft_targets",
)


def write_parquet(snapshot: Snapshot, split: str, path: Path, problems: list, on_rows: Callable[[int], None]) -> int:
    schema = parquet_schema(snapshot, split)
    names = set(schema.names)
    labels = list(snapshot.project.labels or [])
    soft = "token_ids" in names
    batch_rows = PARQUET_BATCH_ROWS_SOFT if soft else PARQUET_BATCH_ROWS
    rows = (
        SnapshotRow.objects.filter(snapshot=snapshot, split=split)
        .order_by("row_hash")
        .values_list(*_PARQUET_FIELDS)
        .iterator(chunk_size=min(batch_rows, 5000))
    )
    written = 0
    with closing(rows), pq.ParquetWriter(path, schema, compression="zstd") as writer:
        buffer: list[tuple] = []

        def flush():
            nonlocal written
            if not buffer:
                return
            cols = list(zip(*buffer))
            data = {
                "example_id": cols[0],
                "prompt": cols[1],
                "prompt_messages": [
                    [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in msgs]
                    if msgs
                    else None
                    for msgs in cols[2]
                ],
                "completion": cols[3],
                "split": cols[4],
                "stage": cols[5],
                "tier": [t or None for t in cols[6]],
                "source": cols[7],
                "grade": cols[8],
                "edited": cols[9],
            }
            arrays = [pa.array(data[name], type=schema.field(name).type) for name, _ in _BASE_COLUMNS]
            if "label_distribution" in names:
                # {label: p} in the project's label order (schema metadata "curation.labels").
                ordered = [[d.get(label, 0.0) for label in labels] if d else None for d in cols[10]]
                arrays.append(pa.array(ordered, type=pa.list_(pa.float32())))
            if soft:
                soft_cols = _soft_batch(list(cols[11]), problems)
                arrays += [soft_cols[name].cast(schema.field(name).type) for name, _ in _SOFT_COLUMNS]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            written += len(buffer)
            on_rows(len(buffer))
            buffer.clear()

        for row in rows:
            buffer.append(row)
            if len(buffer) >= batch_rows:
                flush()
        flush()
    return written


# ------------------------------------------------------------------- files
class _HashingWriter:
    def __init__(self, path: Path):
        self.fh = open(path, "wb")
        self.sha = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes):
        self.fh.write(data)
        self.sha.update(data)
        self.bytes += len(data)

    def close(self):
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_index(directory: Path) -> dict | None:
    """The files of a complete snapshot directory, or None when any is missing or the wrong size."""
    try:
        index = json.loads((directory / INDEX).read_text())
    except (OSError, ValueError):
        return None
    for name, info in index.items():
        try:
            if (directory / name).stat().st_size != info["bytes"]:
                return None
        except OSError:
            return None
    return index


def write_files(
    snapshot: Snapshot, progress: Callable[[int], None] | None = None, cancelled: Callable[[], bool] | None = None
) -> dict:
    """Write (or reuse) every file of ``snapshot``; returns {name: {path, bytes, sha256, rows, format, split, gzip}}."""
    from curation.services.datasets.exports import BuildCancelled

    final = snapshot_dir(snapshot.content_hash)
    index = read_index(final)
    if index is None:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".tmp-{snapshot.content_hash}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            index = _write_all(snapshot, tmp, progress, cancelled)
            (tmp / INDEX).write_text(json.dumps(index, indent=1, sort_keys=True))
            if final.exists():
                winner = read_index(final)
                if winner is not None:  # a concurrent build of the same content finished first
                    shutil.rmtree(tmp)
                    return _with_paths(winner, final)
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if cancelled and cancelled():
            raise BuildCancelled()
    return _with_paths(index, final)


def _with_paths(index: dict, directory: Path) -> dict:
    rel = directory.relative_to(Path(settings.ARTIFACT_DIR))
    return {name: {**info, "path": str(rel / name)} for name, info in index.items()}


def _write_all(snapshot: Snapshot, directory: Path, progress, cancelled) -> dict:
    from curation.services.datasets.exports import BuildCancelled

    counts = dict(SnapshotRow.objects.filter(snapshot=snapshot).values_list("split").annotate(n=Count("id")).order_by())
    index: dict = {}
    done = 0
    for split in SPLITS:
        rows = counts.get(split, 0)
        for fmt in LINE_FORMATS:
            plain = _HashingWriter(directory / file_name(fmt, split))
            packed = _HashingWriter(directory / file_name(fmt, split, gzip=True))
            try:
                for out in gzip_chunks(_tee(iter_lines(snapshot, fmt, split), plain)):
                    packed.write(out)
            finally:
                plain.close()
                packed.close()
            for writer, gz in ((plain, False), (packed, True)):
                index[file_name(fmt, split, gz)] = {
                    "bytes": writer.bytes,
                    "sha256": writer.sha.hexdigest(),
                    "rows": rows,
                    "format": fmt,
                    "split": split,
                    "gzip": gz,
                }
            if cancelled and cancelled():
                raise BuildCancelled()
        problems: list[str] = []
        path = directory / file_name("parquet", split)

        def on_rows(n):
            nonlocal done
            done += n
            if progress:
                progress(done)

        written = write_parquet(snapshot, split, path, problems, on_rows)
        index[file_name("parquet", split)] = {
            "bytes": path.stat().st_size,
            "sha256": _sha256_of(path),
            "rows": written,
            "format": "parquet",
            "split": split,
            "gzip": False,
        }
        if problems:
            index[file_name("parquet", split)]["soft_target_problems"] = problems[:20] + (
                [f"... and {len(problems) - 20} more"] if len(problems) > 20 else []
            )
    return index


def _tee(chunks, writer: _HashingWriter):
    for chunk in chunks:
        writer.write(chunk)
        yield chunk


class BuildCancelled(Exception):
    pass

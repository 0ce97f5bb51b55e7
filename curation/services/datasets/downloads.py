"""What a snapshot download serves: representations, their ETags, and byte ranges.

A representation is (format, split, gzip). Its bytes are one segment per split
(``split=None`` means train then validation: JSONL files concatenate, and so do gzip
members), each segment served from its file in ``ARTIFACT_DIR`` when the file is
there, else rebuilt by the database (``exports.iter_lines``) — the same bytes, since
the files were written by that generator. Sizes come from the manifest, so both
paths answer ``Range`` requests; the database path skips to the offset (it costs the
bytes before it, never memory).

The ETag is the content hash plus the representation, so it changes exactly when
the bytes do: a snapshot never changes, and a different representation is a
different ETag.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from curation.models import Snapshot
from curation.services.datasets import exports

READ_BYTES = 256 * 1024
CONTENT_TYPES = {"jsonl": "application/jsonl", "chat": "application/jsonl", "parquet": "application/vnd.apache.parquet"}


class Unavailable(Exception):
    """The representation cannot be served (yet): ``field`` names the parameter it is about."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


@dataclass
class Segment:
    snapshot: Snapshot
    fmt: str
    split: str
    gzip: bool
    size: int
    path: Path | None

    def chunks(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end) of this segment."""
        if start >= end:
            return
        if self.path is not None:
            yield from _file_chunks(self.path, start, end)
            return
        stream = exports.iter_lines(self.snapshot, self.fmt, self.split)
        if self.gzip:
            stream = exports.gzip_chunks(stream)
        position = 0
        for chunk in stream:
            lo, hi = max(start - position, 0), min(end - position, len(chunk))
            if lo < hi:
                yield chunk[lo:hi]
            position += len(chunk)
            if position >= end:
                break


def _file_chunks(path: Path, start: int, end: int) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        fh.seek(start)
        left = end - start
        while left > 0:
            block = fh.read(min(READ_BYTES, left))
            if not block:
                raise OSError(f"{path} is shorter than its manifest says")
            left -= len(block)
            yield block


@dataclass
class Representation:
    snapshot: Snapshot
    fmt: str
    split: str | None
    gzip: bool
    segments: list[Segment]

    @property
    def size(self) -> int:
        return sum(s.size for s in self.segments)

    @property
    def etag(self) -> str:
        return f'"{self.snapshot.content_hash}.{self.fmt}.{self.split or "all"}{".gz" if self.gzip else ""}"'

    @property
    def single_file(self) -> Path | None:
        if len(self.segments) == 1 and self.segments[0].path is not None:
            return self.segments[0].path
        return None

    @property
    def filename(self) -> str:
        base = f"{self.snapshot.project.slug}-{self.snapshot.content_hash[:12]}.{self.split or 'all'}"
        ext = {"jsonl": "jsonl", "chat": "chat.jsonl", "parquet": "parquet"}[self.fmt]
        return f"{base}.{ext}"

    def chunks(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        end = self.size if end is None else end
        offset = 0
        for segment in self.segments:
            lo, hi = max(start - offset, 0), min(end - offset, segment.size)
            if lo < hi:
                yield from segment.chunks(lo, hi)
            offset += segment.size


def representation(snapshot: Snapshot, fmt: str, split: str | None, gzip: bool) -> Representation:
    if snapshot.status != Snapshot.Status.READY:
        state = (
            "is still being built; poll the snapshot until its status is ready"
            if snapshot.status == Snapshot.Status.BUILDING
            else f"failed to build: {snapshot.message or 'see its job'}"
        )
        raise Unavailable("snapshot", f"Snapshot {snapshot.pk} {state}.")
    if fmt == "parquet" and split is None:
        raise Unavailable("split", "Parquet files are per split: ask for split=train or split=validation.")
    if fmt == "parquet" and gzip:
        raise Unavailable("compression", "Parquet is compressed inside (zstd); ask without compression.")
    files = (snapshot.manifest or {}).get("files", {})
    directory = exports.snapshot_dir(snapshot.content_hash)
    segments = []
    for name_split in [split] if split else list(exports.SPLITS):
        name = exports.file_name(fmt, name_split, gzip)
        info = files.get(name)
        if info is None:
            raise Unavailable("format", f"This snapshot has no {name} (built by an older version); rebuild it.")
        path = directory / name
        present = path.is_file() and path.stat().st_size == info["bytes"]
        if not present and fmt == "parquet":
            raise Unavailable(
                "format",
                f"The Parquet file is not in this server's ARTIFACT_DIR ({settings.ARTIFACT_DIR}); "
                "JSONL and chat downloads still work (the database rebuilds them).",
            )
        segments.append(Segment(snapshot, fmt, name_split, gzip, info["bytes"], path if present else None))
    return Representation(snapshot, fmt, split, gzip, segments)


# ------------------------------------------------------------------ HTTP rules
def parse_range(header: str | None, size: int):
    """(start, end) exclusive for a satisfiable single byte range; None to serve it all; "unsatisfiable"."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None  # other units and multipart ranges: a server may answer with the whole body
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0 or size == 0:
                return "unsatisfiable"
            return max(size - suffix, 0), size
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start < 0 or (last and end <= start):
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(end, size)


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match: weak comparison, '*' matches anything."""
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def accepts_gzip(header: str | None) -> bool:
    for part in (header or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False

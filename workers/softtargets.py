"""Soft targets: the teacher's per-token top-k distribution, and their shard store.

Format
------
For every response token t the teacher's log-softmax at temperature 1 (raw logits,
before any sampling temperature or top_p) is reduced to:

- ``topk_ids[t]``      int32  [k]  the k most likely token ids, most likely first
- ``topk_logprobs[t]`` float16 [k] their log-probabilities
- ``tail_logprob[t]``  float32     ``log(1 - sum(exp(topk_logprobs[t])))``, computed in
  float32 from the unrounded values and floored at ``TAIL_FLOOR`` (an empty tail)
- ``token_ids[t]``     int32       the response token the row describes
- ``token_logprob[t]`` float32     that token's own log-probability (optional: it may
  lie outside the top-k, and the mean log-probability statistic needs it)

Shards
------
Format v2, the default (workers/softtargets_v2.py), stores a shard's samples concatenated,
with narrow ids and quantised log-probabilities (softcodec.py), the token's own log-probability
in float16, and optionally RS-KD samples: about 61 bytes a token at k = 20 against v1's 145.
``ShardWriter(..., format="v1")`` still writes the float arrays one tensor per field (top-k
only); ``read_soft_targets`` reads both, telling them apart by the shard's metadata.

``ShardWriter`` buffers samples and writes them as one immutable safetensors file
``<root>/shards/<prefix>-<NNNNN>.safetensors`` per flush, tensors named
``<key>/<field>``. A shard is written to a temporary file, fsynced, and linked into
place without ever replacing an existing file, so a killed process loses at most its
unflushed buffer and never damages what it wrote before. A pointer
``shards/<prefix>-00003.safetensors#<key>`` (relative to the root) names a sample.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save as save_safetensors

from workers.softtargets_v2 import FORMAT as V2_FORMAT
from workers.softtargets_v2 import ShardFormatError, pack_shard, read_sample, shard_group

TAIL_FLOOR = -30.0
SHARD_DIR = "shards"
FIELDS = ("token_ids", "topk_ids", "topk_logprobs", "tail_logprob", "token_logprob")
_KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]+$")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


class SoftTargetError(Exception):
    """A pointer or shard that cannot be read, or a sample that cannot be stored."""


@dataclass
class SoftTargets:
    token_ids: np.ndarray  # int32 [T]  the response tokens these rows describe
    topk_ids: np.ndarray  # int32 [T, k]
    topk_logprobs: np.ndarray  # float16 [T, k]
    tail_logprob: np.ndarray  # float32 [T]
    token_logprob: np.ndarray | None = None  # float32 [T]  log p of token_ids[t]
    sample_ids: np.ndarray | None = None  # [T, m]  RS-KD draws (softcodec.sample_targets)
    sample_logw: np.ndarray | None = None  # float32 [T, m]  their log importance weights

    def __post_init__(self):
        self.token_ids = np.ascontiguousarray(self.token_ids, dtype=np.int32)
        self.topk_ids = np.ascontiguousarray(self.topk_ids, dtype=np.int32)
        self.topk_logprobs = np.ascontiguousarray(self.topk_logprobs, dtype=np.float16)
        self.tail_logprob = np.ascontiguousarray(self.tail_logprob, dtype=np.float32)
        if self.token_logprob is not None:
            self.token_logprob = np.ascontiguousarray(self.token_logprob, dtype=np.float32)
        if (self.sample_ids is None) != (self.sample_logw is None):
            raise SoftTargetError("sampled soft targets need both sample_ids and sample_logw")
        if self.sample_ids is not None:
            self.sample_ids = np.ascontiguousarray(self.sample_ids, dtype=np.int32)
            self.sample_logw = np.ascontiguousarray(self.sample_logw, dtype=np.float32)
        t = self.token_ids.shape[0]
        if self.topk_ids.ndim != 2 or self.topk_ids.shape != self.topk_logprobs.shape or self.topk_ids.shape[0] != t:
            raise SoftTargetError(
                f"soft-target shapes disagree: token_ids {self.token_ids.shape}, "
                f"topk_ids {self.topk_ids.shape}, topk_logprobs {self.topk_logprobs.shape}"
            )
        if self.tail_logprob.shape != (t,) or (self.token_logprob is not None and self.token_logprob.shape != (t,)):
            raise SoftTargetError("tail_logprob and token_logprob must have one value per token")

    @property
    def k(self) -> int:
        return int(self.topk_ids.shape[1])

    def __len__(self) -> int:
        return int(self.token_ids.shape[0])

    def sampled_only(self) -> SoftTargets:
        """What a sampled job stores: its RS-KD draws and the tokens' own log-probabilities, without
        the top-k (its statistics are taken before); k = 0, an empty tail."""
        t = len(self)
        return SoftTargets(
            token_ids=self.token_ids,
            topk_ids=np.zeros((t, 0), np.int32),
            topk_logprobs=np.zeros((t, 0), np.float16),
            tail_logprob=np.zeros(t, np.float32),
            token_logprob=self.token_logprob,
            sample_ids=self.sample_ids,
            sample_logw=self.sample_logw,
        )

    @property
    def sampled(self) -> bool:
        return self.sample_ids is not None

    def nbytes(self) -> int:
        return sum(getattr(self, f).nbytes for f in FIELDS if getattr(self, f) is not None)

    def to_json_obj(self) -> dict:
        """The same arrays as plain lists: what storing them in a JSON column would hold."""
        out = {
            "token_ids": self.token_ids.tolist(),
            "topk_ids": self.topk_ids.tolist(),
            "topk_logprobs": [[round(float(x), 4) for x in row] for row in self.topk_logprobs],
            "tail_logprob": [round(float(x), 4) for x in self.tail_logprob],
        }
        if self.token_logprob is not None:
            out["token_logprob"] = [round(float(x), 4) for x in self.token_logprob]
        return out


def tail_logprob_from_topk(topk_logprobs_f32: np.ndarray) -> np.ndarray:
    """``log(1 - sum(exp(topk)))`` per row, in float32, floored at ``TAIL_FLOOR``."""
    mass = np.exp(topk_logprobs_f32.astype(np.float32)).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.log1p(-np.minimum(mass, 1.0))
    return np.maximum(tail, TAIL_FLOOR).astype(np.float32)


def summarize(st: SoftTargets) -> dict:
    """Per-sample statistics used for filtering and tiering.

    - ``mean_logprob``: mean log-probability of the chosen tokens. Uses
      ``token_logprob`` when stored; otherwise the token's top-k value, or the tail
      log-probability (an upper bound) when the token is outside the top-k.
    - ``mean_entropy``: mean over tokens of the entropy (nats) of the k + 1 buckets
      (top-k plus one tail bucket): ``-sum p_i log p_i - p_tail log p_tail``.
    - ``min_margin``: minimum over tokens of ``topk_logprobs[:, 0] - topk_logprobs[:, 1]``
      (0 when k < 2).
    - ``token_count``.
    Empty samples give zeros (and ``token_count`` 0).
    """
    t = len(st)
    if t == 0:
        return {"mean_logprob": 0.0, "mean_entropy": 0.0, "min_margin": 0.0, "token_count": 0}
    lp = st.topk_logprobs.astype(np.float32)
    if st.token_logprob is not None:
        chosen = st.token_logprob
    else:
        hit = st.topk_ids == st.token_ids[:, None]
        chosen = np.where(hit.any(axis=1), np.where(hit, lp, 0.0).sum(axis=1), st.tail_logprob)
    p = np.exp(lp)
    tail = st.tail_logprob.astype(np.float32)
    entropy = -(p * lp).sum(axis=1) - np.exp(tail) * tail
    margin = (lp[:, 0] - lp[:, 1]) if st.k >= 2 else np.zeros(t, dtype=np.float32)
    return {
        "mean_logprob": float(np.mean(chosen)),
        "mean_entropy": float(np.mean(entropy)),
        "min_margin": float(np.min(margin)),
        "token_count": t,
    }


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise SoftTargetError(f"sample key {key!r} must be a non-empty string of letters, digits, '_', '.', ':' or '-'")
    return key


class ShardWriter:
    """Buffer soft targets and write them as immutable safetensors shards.

    ``add(key, st)`` buffers; ``flush()`` writes the buffer as the next shard and
    returns ``{key: pointer}`` for what it wrote. ``add`` never writes, so pointers are
    only ever handed out for data already on disk. Shard numbers continue after the
    highest existing shard of the same prefix (a resumed job never collides with the
    shards its killed predecessor left). A v2 flush whose samples differ in k (or in having
    RS-KD draws) writes one shard per kind.
    """

    def __init__(self, root_dir: str | Path, prefix: str, *, format: str = "v2", bits: int = 6):
        if format not in ("v1", "v2"):
            raise SoftTargetError(f"shard format must be 'v1' or 'v2', got {format!r}")
        self.format, self.bits = format, bits
        if not _PREFIX_RE.match(prefix or ""):
            raise SoftTargetError(f"shard prefix {prefix!r} must be letters, digits, '_', '.' or '-'")
        self.root = Path(root_dir)
        self.prefix = prefix
        self.dir = self.root / SHARD_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self._buffer: dict[str, SoftTargets] = {}
        self._next = self._first_free_index()

    def _first_free_index(self) -> int:
        pattern = re.compile(re.escape(self.prefix) + r"-(\d{5,})\.safetensors$")
        found = [int(m.group(1)) for p in self.dir.iterdir() if (m := pattern.match(p.name))]
        return max(found, default=-1) + 1

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def add(self, key: str, st: SoftTargets) -> None:
        key = _check_key(key)
        if key in self._buffer:
            raise SoftTargetError(f"sample key {key!r} is already buffered for this shard")
        if self.format == "v1" and st.sample_ids is not None:
            raise SoftTargetError("shard format v1 holds top-k soft targets only; sampled targets need v2")
        self._buffer[key] = st

    def flush(self) -> dict[str, str]:
        if not self._buffer:
            return {}
        groups: dict[tuple, dict[str, SoftTargets]] = {}
        for key, st in self._buffer.items():
            groups.setdefault(shard_group(st) if self.format == "v2" else (), {})[key] = st
        pointers = {}
        for samples in groups.values():
            name = self._write_new_shard(self._pack(samples))
            pointers.update({key: f"{SHARD_DIR}/{name}#{key}" for key in samples})
        self._buffer = {}
        return pointers

    def _pack(self, samples: dict[str, SoftTargets]) -> bytes:
        if self.format == "v2":
            try:
                return pack_shard(samples, self.bits)
            except ShardFormatError as exc:
                raise SoftTargetError(str(exc)) from None
        tensors: dict[str, np.ndarray] = {}
        for key, st in samples.items():
            for field in FIELDS:
                value = getattr(st, field)
                if value is not None:
                    tensors[f"{key}/{field}"] = value
        return save_safetensors(tensors, metadata={"format": "softtargets-v1"})

    def _write_new_shard(self, data: bytes) -> str:
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-", suffix=".safetensors")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            while True:
                name = f"{self.prefix}-{self._next:05d}.safetensors"
                self._next += 1
                try:
                    # link() refuses to replace an existing shard, unlike rename().
                    os.link(tmp, self.dir / name)
                    break
                except FileExistsError:
                    continue
                except OSError:
                    if (self.dir / name).exists():
                        continue
                    os.replace(tmp, self.dir / name)
                    break
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        _fsync_dir(self.dir)
        return name

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.flush()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_HANDLE_CACHE_SIZE = 32
_handles: OrderedDict[str, object] = OrderedDict()
_handles_lock = threading.Lock()


def _open_shard(path: Path):
    key = str(path.resolve())
    with _handles_lock:
        handle = _handles.get(key)
        if handle is not None:
            _handles.move_to_end(key)
            return handle
    try:
        handle = safe_open(key, framework="numpy")
    except FileNotFoundError:
        raise SoftTargetError(f"soft-target shard {path} does not exist") from None
    except Exception as exc:
        raise SoftTargetError(f"soft-target shard {path} cannot be read: {exc}") from exc
    with _handles_lock:
        _handles[key] = handle
        while len(_handles) > _HANDLE_CACHE_SIZE:
            _handles.popitem(last=False)
    return handle


def parse_pointer(pointer: str) -> tuple[str, str]:
    rel, sep, key = (pointer or "").partition("#")
    parts = Path(rel).parts
    if not sep or not key or len(parts) != 2 or parts[0] != SHARD_DIR or not parts[1].endswith(".safetensors"):
        raise SoftTargetError(f"{pointer!r} is not a soft-target pointer (expected 'shards/<file>.safetensors#<key>')")
    return rel, key


def read_soft_targets(root_dir: str | Path, pointer: str) -> SoftTargets:
    """The arrays a pointer names, read from a memory-mapped shard (handles are cached)."""
    rel, key = parse_pointer(pointer)
    handle = _open_shard(Path(root_dir) / rel)
    if (handle.metadata() or {}).get("format") == V2_FORMAT:
        try:
            return SoftTargets(**read_sample(handle, rel, key))
        except ShardFormatError as exc:
            raise SoftTargetError(str(exc)) from None
    names = set(handle.keys())
    if f"{key}/token_ids" not in names:
        raise SoftTargetError(f"shard {rel} holds no sample {key!r}")
    values = {f: handle.get_tensor(f"{key}/{f}") for f in FIELDS if f"{key}/{f}" in names}
    return SoftTargets(**values)


def shard_kind(root_dir: str | Path, pointer: str) -> str:
    """The kind of soft targets the pointer's shard holds: "sampled" (RS-KD draws) or "topk" (header only)."""
    rel, _ = parse_pointer(pointer)
    handle = _open_shard(Path(root_dir) / rel)
    return "sampled" if "sample_ids" in set(handle.keys()) else "topk"


def json_bytes(st: SoftTargets) -> int:
    """Size of the same arrays stored as a JSON document (the database-column baseline)."""
    import json

    return len(json.dumps(st.to_json_obj(), separators=(",", ":")).encode())

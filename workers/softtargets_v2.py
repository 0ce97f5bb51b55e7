"""Shard format v2: one shard's samples concatenated, narrow ids, quantised log-probabilities.

Tensors (N = the shard's positions over all samples, S = its samples):

- ``offsets``   int64 [S + 1]  sample s holds rows ``offsets[s]:offsets[s + 1]``
- ``token_ids`` [N]            narrowest integer type (softcodec.id_dtype)
- ``topk_ids``  [N, k]         the same type; ``topk_q`` uint8 [N, width] and
  ``topk_scale`` float16 [N]: ``softcodec.encode_topk`` (absent when k = 0)
- ``sample_ids`` [N, m], ``sample_logw`` float16 [N, m]: RS-KD draws, when the samples have them
- ``token_logprob`` float16 [N]: each response token's own log-probability, when every sample
  has it (the generation and score jobs' samples do: 2 bytes a token, for the heatmap and exports)

Metadata: ``format = softtargets-v2``, ``keys`` (JSON list, in row order), ``k``, ``bits``.
A read memory-maps the shard and slices only the sample's rows.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

import numpy as np
from safetensors.numpy import save as save_safetensors

from workers.softcodec import decode_topk, encode_topk, id_dtype

FORMAT = "softtargets-v2"
_index_lock = threading.Lock()
# id(handle) -> (handle, key -> row). The entry holds the handle itself: an id is only unique while
# its object lives, and softtargets.py drops handles from its LRU cache, so an index keyed by a bare
# id() would be handed to whatever new handle is later allocated at the same address (a stale index:
# "holds no sample" for keys the shard does hold). Bounded, so evicted handles are eventually freed.
_INDEX_CACHE_SIZE = 64
_indexes: OrderedDict[int, tuple[object, dict[str, int]]] = OrderedDict()


class ShardFormatError(ValueError):
    """What the caller (softtargets.py) reports as its SoftTargetError."""


def shard_group(st) -> tuple:
    """What every sample of one v2 shard shares: its k, and whether it has RS-KD draws and its own
    token log-probabilities (``ShardWriter`` writes one shard per group of a flush)."""
    return st.k, st.sample_ids is not None, st.token_logprob is not None


def pack_shard(samples: dict, bits: int) -> bytes:
    """``samples``: key -> SoftTargets (duck-typed: this module sits below softtargets.py)."""
    items = list(samples.items())
    ks = {st.k for _, st in items}
    if len(ks) != 1:
        raise ShardFormatError(f"a v2 shard holds one k; this buffer has {sorted(ks)}")
    k = ks.pop()
    sampled = {st.sample_ids is not None for _, st in items}
    if len(sampled) != 1:
        raise ShardFormatError("a v2 shard holds sampled targets for every sample or for none")
    offsets = np.cumsum([0] + [len(st) for _, st in items]).astype(np.int64)
    token_ids = np.concatenate([st.token_ids for _, st in items])
    topk_ids = np.concatenate([st.topk_ids for _, st in items])
    ids_type = id_dtype(np.concatenate([token_ids, topk_ids.ravel()]))
    tensors = {"offsets": offsets, "token_ids": token_ids.astype(ids_type), "topk_ids": topk_ids.astype(ids_type)}
    if k:
        q, scale = encode_topk(
            np.concatenate([st.topk_logprobs.astype(np.float32) for _, st in items]),
            np.concatenate([st.tail_logprob for _, st in items]),
            bits,
        )
        tensors.update(topk_q=q, topk_scale=scale)
    if sampled.pop():
        sample_ids = np.concatenate([st.sample_ids for _, st in items])
        tensors["sample_ids"] = sample_ids.astype(id_dtype(sample_ids))
        tensors["sample_logw"] = np.concatenate([st.sample_logw for _, st in items]).astype(np.float16)
    if all(st.token_logprob is not None for _, st in items):
        tensors["token_logprob"] = np.concatenate([st.token_logprob for _, st in items]).astype(np.float16)
    meta = {"format": FORMAT, "keys": json.dumps([key for key, _ in items]), "k": str(k), "bits": str(bits)}
    return save_safetensors(tensors, metadata=meta)


def _index(handle) -> dict[str, int]:
    with _index_lock:
        entry = _indexes.get(id(handle))
        if entry is not None and entry[0] is handle:
            _indexes.move_to_end(id(handle))
            return entry[1]
        keys = json.loads(handle.metadata()["keys"])
        found = {key: i for i, key in enumerate(keys)}
        _indexes[id(handle)] = (handle, found)
        _indexes.move_to_end(id(handle))
        while len(_indexes) > _INDEX_CACHE_SIZE:
            _indexes.popitem(last=False)
        return found


def read_sample(handle, rel: str, key: str) -> dict[str, np.ndarray]:
    """The fields of ``SoftTargets`` for sample ``key``, reading only its rows."""
    i = _index(handle).get(key)
    if i is None:
        raise ShardFormatError(f"shard {rel} holds no sample {key!r}")
    lo, hi = (int(x) for x in handle.get_slice("offsets")[i : i + 2])
    meta = handle.metadata()
    k, bits = int(meta["k"]), int(meta["bits"])
    names = set(handle.keys())
    rows = lambda name: handle.get_slice(name)[lo:hi]  # noqa: E731  (only these rows are read)
    if k:
        lps, tail = decode_topk(rows("topk_q"), rows("topk_scale"), k, bits)
    else:
        lps, tail = np.zeros((hi - lo, 0), np.float32), np.zeros(hi - lo, np.float32)
    extra = {}
    if "sample_ids" in names:
        extra = {"sample_ids": rows("sample_ids"), "sample_logw": rows("sample_logw").astype(np.float32)}
    if "token_logprob" in names:
        extra["token_logprob"] = rows("token_logprob").astype(np.float32)
    return {
        "token_ids": rows("token_ids"),
        "topk_ids": rows("topk_ids"),
        "topk_logprobs": lps,
        "tail_logprob": tail,
        **extra,
    }

"""Compact and sampled soft targets: the encodings of shard format v2 (see softtargets.py).

Compact top-k (``encode_topk`` / ``decode_topk``)
-------------------------------------------------
Per position: the k ids in the narrowest integer type the ids need, and k values of
``bits`` bits (6 or 8) packed into bytes, plus one float16 scale:

- value 0..k-2: ``d_i = lp_1 - lp_{i+1}`` (>= 0: the ids are sorted most likely first),
  square-root companded, ``q = round(sqrt(min(d, CAP)) / scale)``, so the likely tokens,
  which carry the mass, get the finest steps;
- value k-1: the tail, ``q = round(sqrt(min(-tail, CAP)) / scale)``;
- ``scale = sqrt(max of those) / (2**bits - 1)``, per position; NaN at a position whose
  top-k log-probs hold a NaN (corrupt soft targets), so they decode to NaN and surface in the
  loss as v1's raw values do. A NaN tail (the log of a negative rounding residue) is an empty
  tail, as in ``losses.teacher_bucket_logprobs``.

``lp_1`` itself is not stored: the k + 1 buckets sum to one, so
``lp_1 = log(1 - exp(tail)) - log(1 + sum_i exp(-d_i))``. At k = 20 and 6 bits a position
costs 2 k + 15 + 2 = 57 bytes with 16-bit ids (v1: 4 k + 2 k + 4 = 124 before headers).

Sampled targets (``sample_targets``)
------------------------------------
Random-sampling KD (RS-KD, Anshumann et al., ACL 2025): per position, ``m`` tokens drawn
i.i.d. from a proposal ``q ∝ p^beta`` over the teacher's distribution ``p``, each with its
importance weight ``w = p(x) / (m q(x))``; ``sum_m w_m f(x_m)`` is an unbiased estimate of
``sum_x p(x) f(x)``, so the loss ``-sum_m w_m log s(x_m)`` is an unbiased estimate of the
cross-entropy ``H(p, s)`` (forward KL plus the teacher's entropy, a constant), and so is its
gradient. ``beta = 1`` samples the teacher itself (weights 1/m).
"""

from __future__ import annotations

import math

import numpy as np

CAP = 20.0  # nats below the top token: mass e^-20 of it is below any float16 rounding
BITS = (6, 8)


def id_dtype(ids: np.ndarray) -> np.dtype:
    """The narrowest integer type holding every id (signed only when an id is -1: unknown)."""
    if ids.size == 0:
        return np.dtype(np.uint8)
    lo, hi = int(ids.min()), int(ids.max())
    if lo >= 0:
        for dt in (np.uint8, np.uint16, np.uint32):
            if hi <= np.iinfo(dt).max:
                return np.dtype(dt)
    for dt in (np.int8, np.int16, np.int32):
        if lo >= np.iinfo(dt).min and hi <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.int64)


def packed_width(k: int, bits: int) -> int:
    return (k * bits + 7) // 8


def _pack(q: np.ndarray, bits: int) -> np.ndarray:
    """[N, k] integers < 2**bits -> [N, packed_width] uint8 (little-endian bit order)."""
    if bits == 8:
        return q.astype(np.uint8)
    n, k = q.shape
    b = ((q[:, :, None].astype(np.uint16) >> np.arange(bits, dtype=np.uint16)) & 1).astype(np.uint8)
    flat = b.reshape(n, k * bits)
    pad = packed_width(k, bits) * 8 - k * bits
    if pad:
        flat = np.concatenate([flat, np.zeros((n, pad), dtype=np.uint8)], axis=1)
    return np.packbits(flat, axis=1, bitorder="little")


def _unpack(packed: np.ndarray, k: int, bits: int) -> np.ndarray:
    if bits == 8:
        return packed[:, :k].astype(np.int64)
    flat = np.unpackbits(np.asarray(packed), axis=1, bitorder="little")[:, : k * bits]
    b = flat.reshape(-1, k, bits).astype(np.int64)
    return (b << np.arange(bits)).sum(-1)


def encode_topk(topk_logprobs: np.ndarray, tail_logprob: np.ndarray, bits: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """(packed [T, width] uint8, scale [T] float16) for sorted top-k log-probs and the tail."""
    if bits not in BITS:
        raise ValueError(f"bits must be one of {BITS}, got {bits}")
    lp = np.asarray(topk_logprobs, dtype=np.float64)
    tail = np.asarray(tail_logprob, dtype=np.float64)
    d = np.concatenate([lp[:, :1] - lp[:, 1:], -tail[:, None]], axis=1)
    d = np.sqrt(np.clip(np.nan_to_num(d, nan=CAP, posinf=CAP), 0.0, CAP))
    levels = 2**bits - 1
    scale = (d.max(axis=1) / levels).astype(np.float16)
    safe = np.maximum(scale.astype(np.float64), 1e-12)[:, None]
    q = np.clip(np.rint(d / safe), 0, levels).astype(np.int64)
    # Corrupt top-k log-probs must not turn into a plausible distribution: a NaN scale decodes
    # the whole position to NaN, which the trainer's loss check reports.
    scale[np.isnan(lp).any(axis=1)] = np.nan
    return _pack(q, bits), scale


def decode_topk(packed: np.ndarray, scale: np.ndarray, k: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(topk_logprobs [T, k] float32, tail_logprob [T] float32) from ``encode_topk``'s output."""
    q = _unpack(packed, k, bits).astype(np.float64)
    d = (q * np.asarray(scale, dtype=np.float64)[:, None]) ** 2
    rel, tail = d[:, : k - 1], -d[:, k - 1]
    tail_mass = np.exp(tail)
    top_mass = np.maximum(1.0 - tail_mass, 1e-30)
    lp1 = np.log(top_mass) - np.log1p(np.exp(-rel).sum(axis=1))
    lps = np.concatenate([lp1[:, None], lp1[:, None] - rel], axis=1)
    tail = np.where(tail <= -CAP, -30.0, tail)
    return lps.astype(np.float32), tail.astype(np.float32)


def sample_targets(
    logp: np.ndarray, m: int, rng: np.random.Generator, beta: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(ids [T, m], log-weights [T, m] float32): ``m`` draws per row of the full log-probs ``logp``
    [T, V] from ``q ∝ p^beta`` with importance weights ``p / (m q)`` (see the module's text)."""
    import torch

    u = rng.random((np.asarray(logp).shape[0], m))
    ids, logw = draw_targets(torch.from_numpy(np.asarray(logp, dtype=np.float64)), torch.from_numpy(u), beta)
    return ids.numpy(), logw.numpy()


def draw_targets(logp, u, beta: float = 1.0):
    """The draws themselves, in torch (a teacher's decode loop calls this on its device): rows of
    log-probs ``logp`` [T, V] and uniforms ``u`` [T, m] in [0, 1) give (ids [T, m] int32, log-weights
    [T, m] float32) by inverting the CDF of ``q ∝ p^beta``."""
    import torch

    logp = logp.double()
    logq = torch.log_softmax(beta * logp, dim=-1) if beta != 1.0 else logp - torch.logsumexp(logp, -1, keepdim=True)
    cdf = logq.exp().cumsum(-1)
    cdf[:, -1] = 1.0
    ids = torch.searchsorted(cdf, u.to(cdf.dtype).contiguous(), right=True).clamp(max=logp.shape[-1] - 1)
    logw = logp.gather(-1, ids) - logq.gather(-1, ids) - math.log(u.shape[-1])
    return ids.to(torch.int32), logw.float()

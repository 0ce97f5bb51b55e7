"""Per-step token choice and soft-target rows, vectorised over a batch.

Sampling draws one uniform number per row and step from a generator seeded per
request (see ``base.request_seed``) and inverts the (top_p-truncated) CDF, so the
text a request gets does not depend on which other requests share its batch.
"""

from __future__ import annotations

import numpy as np
import torch

from workers.softtargets import TAIL_FLOOR


def request_uniforms(seeds: list[int], steps: int, stream: int = 0) -> torch.Tensor:
    """``[B, steps]`` uniforms in [0, 1), one independent stream per request seed (``stream`` 1 is
    the RS-KD draws', independent of the text's stream 0)."""
    out = np.empty((len(seeds), steps), dtype=np.float64)
    for i, s in enumerate(seeds):
        out[i] = np.random.default_rng(s if stream == 0 else [s, stream]).random(steps)
    return torch.from_numpy(out)


def soft_target_rows(logits: torch.Tensor, k: int):
    """Top-k ids/log-probs and the tail of ``log_softmax(logits)`` at temperature 1.

    Returns ``(logprobs_f32 [B, V], topk_ids [B, k], topk_lp_f32 [B, k], tail_f32 [B])``.
    """
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    k = min(k, logprobs.shape[-1])
    topk_lp, topk_ids = torch.topk(logprobs, k, dim=-1)
    mass = topk_lp.exp().sum(-1).clamp(max=1.0)
    tail = torch.log1p(-mass).clamp(min=TAIL_FLOOR)
    return logprobs, topk_ids, topk_lp, tail


def choose_tokens(
    logprobs: torch.Tensor,
    uniforms: torch.Tensor,
    temperature: float,
    top_p: float,
    ban_id: int | None = None,
) -> torch.Tensor:
    """The next token per row: greedy at temperature 0, else temperature + nucleus sampling.

    ``logprobs`` are the temperature-1 log-probabilities; ``ban_id`` (used for
    min_new_tokens) is never picked.
    """
    if temperature == 0:
        if ban_id is not None:
            logprobs = logprobs.clone()
            logprobs[:, ban_id] = float("-inf")
        return logprobs.argmax(dim=-1)
    probs = torch.softmax(logprobs / temperature, dim=-1)
    if ban_id is not None:
        probs[:, ban_id] = 0.0
    u = uniforms.to(probs.dtype)
    if top_p < 1.0:
        sorted_p, order = torch.sort(probs, dim=-1, descending=True)
        cum = sorted_p.cumsum(-1)
        # Keep the smallest prefix whose mass reaches top_p (always at least one token).
        sorted_p = sorted_p.masked_fill(cum - sorted_p >= top_p * cum[:, -1:], 0.0)
        cdf = sorted_p.cumsum(-1)
        idx = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(-1)).clamp(max=cdf.shape[-1] - 1)
        return order.gather(-1, idx).squeeze(-1)
    cdf = probs.cumsum(-1)
    idx = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(-1)).clamp(max=cdf.shape[-1] - 1)
    idx = idx.squeeze(-1)
    # A zero-probability id can only be hit through float rounding at the CDF's end.
    zero = probs.gather(-1, idx.unsqueeze(-1)).squeeze(-1) <= 0
    if bool(zero.any()):
        idx = torch.where(zero, probs.argmax(-1), idx)
    return idx

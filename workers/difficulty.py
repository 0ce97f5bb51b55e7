"""Difficulty scores and auto-tiering.

Generation (one score per sample)
---------------------------------
For sample j of prompt p, with ``H_j`` its mean per-token entropy over the top-k +
tail buckets (``softtargets.summarize``) and ``D_p`` the disagreement between the n
samples of p:

    D_p = 1 - mean over pairs (a, b) of |W_a & W_b| / |W_a | W_b|

where ``W`` is the set of lower-cased words of a sample (0 for a single sample, 1 when
no two samples share a word), then

    difficulty_j = w * R(H_j) + (1 - w) * R(D_p)        (w = 0.5 by default)

``R`` normalises within the batch scored together: ``rank`` (default) maps each value
to its percentile rank ``(average rank - 1) / (count - 1)`` in [0, 1] (ties share their
average rank; a batch of one gets 0.5), so an entropy in nats and a Jaccard distance
weigh the same and outliers don't squash everyone else; ``minmax`` maps
``(x - min) / (max - min)`` (all 0.5 when every value is equal).

Classification (one score per prompt)
-------------------------------------
``difficulty = R(H(label distribution) / log(number of labels))``: the normalised
entropy of the teacher's label distribution, then normalised across the batch.

Tiers
-----
``assign_tiers`` cuts the batch's scores at the given quantiles (computed over every
score, locked or not) and names the pieces easiest first; a tier a human set is kept.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np

_WORD_SPLIT = str.split


def _words(text: str) -> frozenset[str]:
    return frozenset(w.strip(".,;:!?\"'()[]{}").lower() for w in _WORD_SPLIT(text or "")) - {""}


def sample_disagreement(texts: Sequence[str]) -> float:
    """``1 - mean pairwise Jaccard similarity`` of the samples' word sets."""
    sets = [_words(t) for t in texts]
    if len(sets) < 2:
        return 0.0
    sims = []
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            union = sets[i] | sets[j]
            sims.append(1.0 if not union else len(sets[i] & sets[j]) / len(union))
    return 1.0 - float(np.mean(sims))


def normalize(values: Sequence[float], method: str = "rank") -> list[float]:
    """Map a batch of values into [0, 1] by percentile rank or min-max (see module doc)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return []
    if method == "minmax":
        lo, hi = float(x.min()), float(x.max())
        return [0.5] * x.size if hi == lo else ((x - lo) / (hi - lo)).tolist()
    if method != "rank":
        raise ValueError(f"normalisation must be 'rank' or 'minmax', got {method!r}")
    if x.size == 1:
        return [0.5]
    order = np.argsort(x, kind="stable")
    ranks = np.empty(x.size)
    ranks[order] = np.arange(x.size, dtype=np.float64)
    for value in np.unique(x):  # ties share their average rank
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return (ranks / (x.size - 1)).tolist()


def generation_difficulty(
    prompt_keys: Sequence[Hashable],
    mean_entropies: Sequence[float],
    texts: Sequence[str],
    *,
    entropy_weight: float = 0.5,
    method: str = "rank",
) -> list[float]:
    """One difficulty per sample (the three sequences are aligned, one entry per sample)."""
    if not len(prompt_keys) == len(mean_entropies) == len(texts):
        raise ValueError("prompt_keys, mean_entropies and texts must have one entry per sample")
    groups: dict[Hashable, list[str]] = defaultdict(list)
    for key, text in zip(prompt_keys, texts):
        groups[key].append(text)
    disagreement = {key: sample_disagreement(ts) for key, ts in groups.items()}
    return combined_difficulty(
        mean_entropies, [disagreement[k] for k in prompt_keys], entropy_weight=entropy_weight, method=method
    )


def combined_difficulty(
    mean_entropies: Sequence[float],
    disagreements: Sequence[float],
    *,
    entropy_weight: float = 0.5,
    method: str = "rank",
) -> list[float]:
    """``w * R(H_j) + (1 - w) * R(D_j)`` per sample, from each sample's mean entropy and its
    prompt's disagreement (already computed, e.g. prompt by prompt over a large job)."""
    if len(mean_entropies) != len(disagreements):
        raise ValueError("mean_entropies and disagreements must have one entry per sample")
    if not 0.0 <= entropy_weight <= 1.0:
        raise ValueError("entropy_weight must be between 0 and 1")
    h = normalize(mean_entropies, method)
    d = normalize(disagreements, method)
    return [entropy_weight * a + (1.0 - entropy_weight) * b for a, b in zip(h, d)]


def label_entropy(distribution: dict[str, float]) -> float:
    """Entropy of a label distribution divided by ``log(number of labels)``: in [0, 1]."""
    ps = [p for p in distribution.values() if p > 0]
    if len(distribution) < 2:
        return 0.0
    return float(-sum(p * math.log(p) for p in ps) / math.log(len(distribution)))


def classification_difficulty(distributions: Sequence[dict[str, float]], method: str = "rank") -> list[float]:
    return normalize([label_entropy(d) for d in distributions], method)


def assign_tiers(
    scores: Sequence[float],
    quantiles: Sequence[float],
    tier_names: Sequence[str],
    locked: Sequence[bool | str | None] | None = None,
    current: Sequence[str | None] | None = None,
) -> list[str]:
    """Tier per score: ``tier_names[i]`` for scores between cut points i-1 and i.

    ``quantiles`` are increasing values in (0, 1), one fewer than ``tier_names``
    (``[0.33, 0.67]`` with ``["easy", "medium", "hard"]``); cut points are those
    quantiles of ``scores``. A score on a cut point goes to the easier tier.
    ``locked[i]`` set by a human is never overwritten: a string is the tier to keep,
    ``True`` keeps ``current[i]``.
    """
    n = len(scores)
    locked = list(locked) if locked is not None else [False] * n
    if len(locked) != n or (current is not None and len(current) != n):
        raise ValueError("scores, locked and current must have one entry per example")
    if len(tier_names) != len(quantiles) + 1:
        raise ValueError(f"{len(quantiles)} cut points need {len(quantiles) + 1} tier names, got {len(tier_names)}")
    if any(not 0.0 < q < 1.0 for q in quantiles) or list(quantiles) != sorted(set(quantiles)):
        raise ValueError("quantiles must be strictly increasing values between 0 and 1")
    cuts = np.quantile(np.asarray(scores, dtype=np.float64), list(quantiles)).tolist() if n else []
    out = []
    for i, score in enumerate(scores):
        lock = locked[i]
        if isinstance(lock, str) and lock:
            out.append(lock)
        elif lock is True:
            if current is None or not current[i]:
                raise ValueError(f"example {i} is locked but has no current tier to keep")
            out.append(current[i])
        else:
            out.append(tier_names[bisect.bisect_left(cuts, score)])
    return out

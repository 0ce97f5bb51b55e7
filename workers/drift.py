"""Drift of production prompts away from a training set: the ML core (no Django).

A ``Reference`` is a training set as the monitor sees it: the unit sentence embeddings of its
prompts (all-MiniLM-L6-v2 through ``workers.hygiene.semantic``, the decontamination model; the
instruction every training prompt shares is cut off first, ``common_affixes``) in a usearch index
of four-fifths of them, the nearest-neighbour similarity of the held-out fifth in it (what "an
ordinary new prompt" looks like), their lengths in words and their label shares. ``score_window`` compares one
window of production prompts with it:

- ``embedding``: how much less similar the window's prompts are to their nearest training prompt
  than held-out training prompts are (mean cosine similarity, held-out minus window), with a
  one-sided Mann-Whitney p-value. A prompt is *novel* when its similarity is below the held-out
  prompts' ``NOVEL_QUANTILE`` quantile: those are the prompts a flagged window marks.
- ``length``: the two-sample Kolmogorov-Smirnov statistic between the window's and the training
  set's prompt lengths (scipy's ``ks_2samp``, with its p-value).
- ``label`` (when the window carries labels, e.g. the production model's answers of a
  classification project): the total variation distance between the window's and the training
  set's label shares, with scipy's chi-square goodness-of-fit p-value.
- ``confidence`` (when a student exists): the drop of the student's mean confidence from the
  training prompts to the window's, with a one-sided Mann-Whitney p-value.

A window is flagged when any score reaches its threshold (``flag``). Thresholds are the
caller's: per project in the app, chosen on clean calibration windows in ``bench/drift.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

NOVEL_QUANTILE = 0.25  # a marked prompt is further from the training set than 3 in 4 held-out prompts
HOLDOUT_SHARE = 0.2
SIGNALS = ("embedding", "length", "label", "confidence")


def word_lengths(texts: Sequence[str]) -> np.ndarray:
    return np.asarray([len(t.split()) for t in texts], dtype=np.float64)


def common_affixes(texts: Sequence[str]) -> tuple[str, str]:
    """The prefix and suffix every text shares, cut at whitespace (a project's fixed instruction and
    answer cue): they say nothing about drift, and left in they pull every embedding together."""
    if len(texts) < 2:
        return "", ""
    prefix = _common_prefix(texts)
    suffix = _common_prefix([t[::-1] for t in texts])[::-1]
    prefix = prefix[: max(prefix.rfind(" "), prefix.rfind("\n")) + 1]
    cut = min((i for i in (suffix.find(" "), suffix.find("\n")) if i >= 0), default=len(suffix))
    suffix = suffix[cut:]
    shortest = min(len(t) for t in texts)
    if len(prefix) + len(suffix) >= shortest:  # nothing would be left of some text
        return "", ""
    return prefix, suffix


def _common_prefix(texts: Sequence[str]) -> str:
    first, last = min(texts), max(texts)  # the sorted extremes share what every text shares
    i = 0
    while i < min(len(first), len(last)) and first[i] == last[i]:
        i += 1
    return first[:i]


def strip_affixes(texts: Sequence[str], affixes: tuple[str, str]) -> list[str]:
    """``texts`` without the shared prefix and suffix (a text lacking one keeps that end)."""
    prefix, suffix = affixes
    out = []
    for t in texts:
        if prefix and t.startswith(prefix):
            t = t[len(prefix) :]
        if suffix and t.endswith(suffix) and len(t) > len(suffix):
            t = t[: -len(suffix)]
        out.append(t)
    return out


@dataclass
class Reference:
    """A training set's embeddings index, novelty cut-off, lengths and label shares."""

    index: object  # usearch.index.Index over the training vectors but a held-out fifth
    held_similarity: np.ndarray  # each held-out prompt's nearest-neighbour similarity in ``index``
    novel_below: float  # cosine similarity under which a prompt counts as novel
    lengths: np.ndarray
    label_shares: dict[str, float] | None
    size: int
    affixes: tuple[str, str] = ("", "")

    def content(self, texts: Sequence[str]) -> list[str]:
        """What to embed of ``texts``: without the training set's shared prefix and suffix."""
        return strip_affixes(texts, self.affixes)


def build_reference(
    vectors: np.ndarray,
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    affixes: tuple[str, str] = ("", ""),
    seed: int = 0,
) -> Reference:
    """A ``Reference`` from a training set's unit vectors (``[n, d]``, as ``Embedder.encode`` returns for
    ``strip_affixes(texts, affixes)``; ``affixes`` usually ``common_affixes(texts)``)."""
    from usearch.index import Index

    n = len(texts)
    if n < 10 or len(vectors) != n:
        raise ValueError(f"a drift reference needs at least 10 training prompts with one vector each, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    held = order[: max(2, round(n * HOLDOUT_SHARE))]
    kept = order[len(held) :]
    index = Index(ndim=vectors.shape[1], metric="cos", dtype="f32")
    index.add(kept.astype(np.uint64), vectors[kept])
    # Windows are searched in the same index the held-out fifth was: their similarities compare as is.
    held_similarity = nearest_similarity(index, vectors[held])
    shares = None
    if labels is not None:
        values, counts = np.unique([str(x) for x in labels], return_counts=True)
        shares = {str(v): float(c) / n for v, c in zip(values, counts)}
    novel_below = float(np.quantile(held_similarity, NOVEL_QUANTILE))
    return Reference(index, held_similarity, novel_below, word_lengths(texts), shares, n, affixes)


def nearest_similarity(index, vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity of each vector to its nearest neighbour in ``index``."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.float64)
    found = index.search(np.asarray(vectors, dtype=np.float32), count=1)
    distances = np.asarray(found.distances, dtype=np.float64).reshape(len(vectors), -1)[:, 0]
    return 1.0 - distances


@dataclass
class WindowScores:
    n: int
    scores: dict[str, float]
    p_values: dict[str, float]
    similarity: np.ndarray  # per prompt: nearest training prompt's cosine similarity
    novel: np.ndarray  # per prompt: bool
    odd_length: np.ndarray  # per prompt: bool, outside the training lengths' 1-99% range
    details: dict = field(default_factory=dict)


def score_window(
    reference: Reference,
    vectors: np.ndarray,
    texts: Sequence[str],
    labels: Sequence[str | None] | None = None,
    confidences: Sequence[float] | None = None,
    reference_confidences: Sequence[float] | None = None,
) -> WindowScores:
    """The drift scores of one window of prompts (``vectors``: their unit embeddings)."""
    n = len(texts)
    if n == 0:
        raise ValueError("an empty window has no drift scores")
    similarity = nearest_similarity(reference.index, vectors)
    novel = similarity < reference.novel_below
    held = reference.held_similarity
    scores = {"embedding": float(held.mean() - similarity.mean())}
    p_values = {"embedding": float(stats.mannwhitneyu(similarity, held, alternative="less").pvalue)}
    details = {
        "mean_similarity": float(similarity.mean()),
        "training_mean_similarity": float(held.mean()),
        "novel_below": reference.novel_below,
        "novel": int(novel.sum()),
    }

    lengths = word_lengths(texts)
    ks = stats.ks_2samp(lengths, reference.lengths)
    scores["length"], p_values["length"] = float(ks.statistic), float(ks.pvalue)
    lo, hi = np.quantile(reference.lengths, [0.01, 0.99])
    odd_length = (lengths < lo) | (lengths > hi)
    details["mean_length"] = float(lengths.mean())
    details["training_mean_length"] = float(reference.lengths.mean())

    if labels is not None and reference.label_shares:
        label_score = label_shift([x for x in labels if x], reference.label_shares)
        if label_score is not None:
            scores["label"], p_values["label"] = label_score

    if (
        confidences is not None
        and reference_confidences is not None
        and len(confidences)
        and len(reference_confidences)
    ):
        window_c, train_c = np.asarray(confidences, float), np.asarray(reference_confidences, float)
        scores["confidence"] = float(train_c.mean() - window_c.mean())
        p_values["confidence"] = float(stats.mannwhitneyu(window_c, train_c, alternative="less").pvalue)
        details["mean_confidence"] = float(window_c.mean())
        details["training_mean_confidence"] = float(train_c.mean())
    return WindowScores(n, scores, p_values, similarity, novel, odd_length, details)


def label_shift(labels: Sequence[str], shares: dict[str, float]) -> tuple[float, float] | None:
    """(total variation distance, chi-square p) of ``labels`` against the training ``shares``; None
    when fewer than 10 labels. Unseen labels form one extra cell; expected counts are smoothed by 0.5."""
    if len(labels) < 10:
        return None
    names = sorted(shares)
    observed = np.asarray([sum(1 for x in labels if x == name) for name in names] + [0], dtype=np.float64)
    observed[-1] = len(labels) - observed[:-1].sum()
    expected_share = np.asarray([shares[name] for name in names] + [0.0])
    window_share = observed / len(labels)
    tvd = 0.5 * float(np.abs(window_share - expected_share).sum())
    expected = expected_share * len(labels) + 0.5
    expected *= observed.sum() / expected.sum()
    p = float(stats.chisquare(observed, expected).pvalue)
    return tvd, p


def flag(scores: dict[str, float], thresholds: dict[str, float]) -> list[str]:
    """The signals whose score reaches its threshold (a window with any is flagged)."""
    return [name for name in SIGNALS if name in scores and name in thresholds and scores[name] >= thresholds[name]]


def calibrate(clean_scores: list[dict[str, float]], false_alarm_rate: float = 0.05) -> dict[str, float]:
    """Per-signal thresholds from scores of clean (undrifted) calibration windows: each signal's
    ``1 - rate / signals`` quantile, so the union of the signals alarms on about ``rate`` of clean windows."""
    names = [s for s in SIGNALS if any(s in row for row in clean_scores)]
    if not names:
        return {}
    q = 1.0 - false_alarm_rate / len(names)
    out = {}
    for name in names:
        values = np.asarray([row[name] for row in clean_scores if name in row])
        out[name] = float(np.quantile(values, q, method="higher")) + 1e-9
    return out

"""Pure metrics of the evaluation (no model, no Django): text normalisation, macro-F1,
expected calibration error with reliability bins, perplexity. ``workers.evaluation``
re-exports them; the definitions are in its module docstring."""

from __future__ import annotations

import math
import re

import numpy as np

ECE_BINS = 15


def normalize_text(text: str) -> str:
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return re.sub(r"\s+", " ", text).strip()


def macro_f1(preds: list, golds: list, labels: list | None = None) -> float:
    labels = labels if labels is not None else sorted(set(golds) | set(preds), key=str)
    scores = []
    for label in labels:
        tp = sum(p == label and g == label for p, g in zip(preds, golds))
        fp = sum(p == label and g != label for p, g in zip(preds, golds))
        fn = sum(p != label and g == label for p, g in zip(preds, golds))
        if tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def expected_calibration_error(confidences, correct, n_bins: int = ECE_BINS) -> tuple[float, list[dict]]:
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    idx = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        sel = idx == b
        n = int(sel.sum())
        bin_conf = float(conf[sel].mean()) if n else None
        bin_acc = float(ok[sel].mean()) if n else None
        if n:
            ece += n / len(conf) * abs(bin_acc - bin_conf)
        bins.append(
            {"lower": b / n_bins, "upper": (b + 1) / n_bins, "confidence": bin_conf, "accuracy": bin_acc, "count": n}
        )
    return float(ece), bins


def perplexity(nll_sum: float, n_tokens: int) -> float:
    return math.exp(nll_sum / n_tokens) if n_tokens else float("nan")

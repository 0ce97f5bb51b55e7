"""Free-text quality of generated answers against gold references, with 95% intervals.

Per item (``item_metrics``): chrF (sacrebleu's ``sentence_chrf``, chrF2 with character
6-grams, 0-100) and ROUGE-L F-measure (Google's ``rouge-score``, 0-1, its default
tokenizer: lowercased ASCII words, so non-ASCII text scores 0 there while chrF still
reads it), the answer's length in characters and generated tokens, the reference's
length in characters.

Over items (``summarize``), for one model: mean chrF and mean ROUGE-L, each with a
percentile bootstrap interval (``workers.stats.bootstrap_mean``; the item is the unit,
so this is the mean of sentence-level scores, not corpus chrF); the automatic checks'
pass rate with a Wilson interval; mean and p95 length in tokens and characters, and the
mean answer/reference length ratio. ``compare`` adds what the two models share: chrF
retained = mean chrF(student) / mean chrF(teacher) with a paired bootstrap interval
over the same items, and the same for ROUGE-L. Every figure carries its n.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from workers.stats import bootstrap_mean, paired_bootstrap, wilson

_ROUGE = None


def _rouge():
    global _ROUGE
    if _ROUGE is None:
        from rouge_score import rouge_scorer

        _ROUGE = rouge_scorer.RougeScorer(["rougeL"])
    return _ROUGE


def chrf(hypothesis: str, reference: str) -> float:
    from sacrebleu.metrics import CHRF

    return float(CHRF().sentence_score(hypothesis, [reference]).score)


def rouge_l(hypothesis: str, reference: str) -> float:
    return float(_rouge().score(reference, hypothesis)["rougeL"].fmeasure)


def item_metrics(output: str, reference: str, tokens: int) -> dict:
    return {
        "chrf": chrf(output, reference),
        "rouge_l": rouge_l(output, reference),
        "chars": len(output),
        "ref_chars": len(reference),
        "tokens": int(tokens),
    }


def _interval(iv) -> dict:
    return {"mean": iv.estimate, "ci95": iv.ci, "n": iv.n}


def summarize(items: list[dict]) -> dict:
    """One model's free-text figures over ``items`` (each with ``item_metrics``' keys, and
    ``check`` 1.0/0.0 when the project has automatic checks)."""
    n = len(items)
    if not n:
        return {"n": 0}
    chars = np.array([i["chars"] for i in items], dtype=float)
    tokens = np.array([i["tokens"] for i in items], dtype=float)
    ratio = [i["chars"] / i["ref_chars"] for i in items if i["ref_chars"]]
    out = {
        "n": n,
        "chrf": _interval(bootstrap_mean([i["chrf"] for i in items])),
        "rouge_l": _interval(bootstrap_mean([i["rouge_l"] for i in items])),
        "length": {
            "tokens_mean": float(tokens.mean()),
            "tokens_p95": float(np.percentile(tokens, 95)),
            "chars_mean": float(chars.mean()),
            "chars_p95": float(np.percentile(chars, 95)),
            "empty": int((chars == 0).sum()),
            "ratio_to_reference": float(np.mean(ratio)) if ratio else None,
        },
    }
    checks = [i["check"] for i in items if "check" in i]
    if checks:
        passed = int(sum(checks))
        out["check_pass_rate"] = _interval(wilson(passed, len(checks)))
    return out


def retained(student: list[float], teacher: list[float]) -> dict:
    """Mean(student) / mean(teacher) over the same items, with a paired bootstrap interval."""
    iv = paired_bootstrap(student, teacher, statistic="ratio")
    if not np.isfinite(iv.estimate):
        return {"ratio": None, "ci95": None, "n": iv.n}
    ci = iv.ci if all(np.isfinite(iv.ci)) else None
    return {"ratio": iv.estimate, "ci95": ci, "n": iv.n}


def compare(student: list[dict], teacher: list[dict]) -> dict:
    """Both models' summaries and what the student keeps of the teacher's chrF and ROUGE-L."""
    return {
        "student": summarize(student),
        "teacher": summarize(teacher),
        "chrf_retained": retained([i["chrf"] for i in student], [i["chrf"] for i in teacher]),
        "rouge_l_retained": retained([i["rouge_l"] for i in student], [i["rouge_l"] for i in teacher]),
    }


def by_tier(student: list[dict], teacher: list[dict], tiers: list[str | None]) -> dict:
    groups = defaultdict(list)
    for idx, tier in enumerate(tiers):
        groups[tier or "untiered"].append(idx)
    return {tier: compare([student[i] for i in idx], [teacher[i] for i in idx]) for tier, idx in sorted(groups.items())}


def report(student: list[dict], teacher: list[dict], tiers: list[str | None]) -> dict:
    """``{"overall": compare(...), "by_tier": {tier: compare(...)}}`` for the evaluation report."""
    return {"overall": compare(student, teacher), "by_tier": by_tier(student, teacher, tiers)}

"""A judge model grades answers against a rubric, from its probabilities, never its text.

The judge (any teacher backend: local ``transformers`` or an OpenAI-compatible server)
reads one prompt: the engineer's rubric, the question, the answer, and a last line
asking for one of the rubric's grades (numbers, e.g. ``1``-``5``). Its next-token
log-probabilities are read (``Teacher.next_token_logprobs``): each grade's log-probability
is the log-sum-exp of the tokens that spell it (``"3"`` and ``" 3"`` both count), and the
grade distribution is the softmax **restricted to the grades**; the item's score is the
expected grade under it, and ``normalized`` maps it to [0, 1] (lowest grade 0, highest 1)
so a ratio of two scores is a share of the scale. A local model gives every grade's exact
probability; a server gives its top-k (``top_logprobs``, usually 20) and a grade outside
them counts as absent; an item where no grade is among them has no score (its error says
so), never a guessed one.

``agreement`` compares the judge with reviewers on the examples both graded: Spearman's
rho of the expected grade against the reviewer's grade (scipy), and Cohen's kappa with
quadratic weights of the nearest grade against it (scikit-learn), with n. Below
``MIN_ITEMS`` items or ``MIN_KAPPA`` the judge is reported as not trustworthy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_GRADES = ["1", "2", "3", "4", "5"]
DEFAULT_RUBRIC = (
    "You grade a customer-support reply. 5: correct, complete, polite and actionable. 4: correct with a small gap. "
    "3: partly helpful. 2: mostly unhelpful or partly wrong. 1: wrong, off-topic or empty."
)
TOP_K = 20  # the usual server cap for top_logprobs
MIN_ITEMS = 20
MIN_KAPPA = 0.4


def check_grades(grades: Sequence[str]) -> list[str]:
    """The rubric's grades as given, or ValueError: at least two, distinct, each a number."""
    grades = [str(g).strip() for g in grades]
    if len(grades) < 2:
        raise ValueError("a rubric needs at least two grades")
    if len(set(grades)) != len(grades):
        raise ValueError("the rubric's grades must be distinct")
    for g in grades:
        try:
            value = float(g)
        except ValueError:
            raise ValueError(f"grade {g!r} is not a number: the score is the expected grade") from None
        if not math.isfinite(value) or not g:
            raise ValueError(f"grade {g!r} is not a finite number")
    return grades


def _flatten(prompt) -> str:
    if isinstance(prompt, list):
        return "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in prompt)
    return str(prompt)


def judge_prompt(rubric: str, grades: Sequence[str], prompt, answer: str) -> str:
    return (
        f"{rubric.strip()}\n\nQuestion:\n{_flatten(prompt).strip()}\n\nAnswer:\n{answer.strip()}\n\n"
        f"Grade ({', '.join(grades)}):"
    )


@dataclass
class Judged:
    expected: float | None = None  # expected grade
    normalized: float | None = None  # (expected - lowest) / (highest - lowest)
    distribution: dict[str, float] | None = None
    error: str | None = None


def grade_distribution(logprobs: dict[str, float], grades: Sequence[str]) -> Judged:
    """The softmax restricted to the grades' tokens, from ``{token text: log-prob}``."""
    per_grade = {}
    for g in grades:
        values = [lp for text, lp in logprobs.items() if text.strip() == g and lp is not None and math.isfinite(lp)]
        if values:
            per_grade[g] = float(np.logaddexp.reduce(values))
    if not per_grade:
        return Judged(error=f"none of the grades {', '.join(grades)} is among the judge's most likely next tokens")
    top = max(per_grade.values())
    weights = {g: math.exp(lp - top) for g, lp in per_grade.items()}
    total = sum(weights.values())
    dist = {g: weights.get(g, 0.0) / total for g in grades}
    values = [float(g) for g in grades]
    expected = sum(p * float(g) for g, p in dist.items())
    low, high = min(values), max(values)
    return Judged(expected=expected, normalized=(expected - low) / (high - low), distribution=dist)


def judge(teacher, items: Sequence[dict], rubric: str, grades: Sequence[str], *, top_k: int = TOP_K) -> list[Judged]:
    """One ``Judged`` per ``{"prompt", "answer"}`` item, in order, from ``teacher`` (a
    ``workers.teacher.Teacher``)."""
    from workers.teacher import GenerationRequest

    grades = check_grades(grades)
    # One user turn: a chat judge reads it through its chat template, a plain one through ours.
    requests = [
        GenerationRequest(
            key=i, prompt=[{"role": "user", "content": judge_prompt(rubric, grades, it["prompt"], it["answer"])}]
        )
        for i, it in enumerate(items)
    ]
    results = teacher.next_token_logprobs(requests, top_k=top_k, candidates=grades)
    return [Judged(error=r.error) if r.error else grade_distribution(r.logprobs, grades) for r in results]


def nearest_grade(expected: float, grades: Sequence[str]) -> float:
    values = [float(g) for g in grades]
    return min(values, key=lambda v: (abs(v - expected), v))


def agreement(judge_expected: Sequence[float], human: Sequence[float], grades: Sequence[str]) -> dict:
    """Spearman's rho and quadratic-weighted kappa of the judge against reviewers, with n."""
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score

    n = len(human)
    out = {"n": n, "spearman": None, "weighted_kappa": None, "min_items": MIN_ITEMS, "min_kappa": MIN_KAPPA}
    if n >= 3 and len(set(human)) > 1 and len(set(judge_expected)) > 1:
        rho = spearmanr(judge_expected, human).statistic
        out["spearman"] = float(rho) if math.isfinite(rho) else None
    nearest = [nearest_grade(e, grades) for e in judge_expected]
    values = sorted({float(g) for g in grades} | {float(h) for h in human})
    if n >= 2 and len(set(nearest) | {float(h) for h in human}) > 1:
        kappa = cohen_kappa_score(
            [float(h) for h in human], nearest, labels=values, weights="quadratic"
        )  # undefined (nan) when chance explains everything
        out["weighted_kappa"] = float(kappa) if math.isfinite(kappa) else None
    out["trustworthy"] = bool(
        n >= MIN_ITEMS and out["weighted_kappa"] is not None and out["weighted_kappa"] >= MIN_KAPPA
    )
    if n < MIN_ITEMS:
        out["reason"] = f"only {n} examples carry both a reviewer's grade and the judge's (at least {MIN_ITEMS} needed)"
    elif not out["trustworthy"]:
        out["reason"] = f"weighted kappa below {MIN_KAPPA} against the reviewers' grades"
    return out

"""Routing simulation: the student answers when it is confident, the teacher takes the rest.

For a threshold ``t`` on the student's confidence, a request is *served* by the student
when ``confidence >= t``; otherwise it goes on to the teacher, which then answers (the
student has already run: a fallback costs both models and takes both latencies). Per
threshold: the share served, the mixed system's quality (its per-item scores: the
student's where served, the teacher's elsewhere) with a 95% bootstrap interval, its
quality relative to the teacher alone, and the mean cost and latency per request.

The threshold is chosen on the **validation** items (the lowest threshold, i.e. the most
traffic served, whose mixed quality there is at least ``target`` x the teacher's) and then
checked on the **gold** items, where the report states the share served (Wilson interval),
the mixed quality relative to the teacher (paired bootstrap interval of the ratio) and
whether the target holds. Gold never chooses anything.
Pure numpy (``workers.stats`` for intervals): no Django.
"""

from __future__ import annotations

import math

import numpy as np

from workers.stats import bootstrap_mean, paired_bootstrap, wilson

DEFAULT_TARGET = 0.99
MAX_CURVE_POINTS = 41


def _arrays(items: dict):
    conf = np.asarray(items["confidence"], dtype=float)
    student = np.asarray(items["student"], dtype=float)
    teacher = np.asarray(items["teacher"], dtype=float)
    if not (conf.shape == student.shape == teacher.shape) or conf.ndim != 1 or conf.size == 0:
        raise ValueError("confidence, student and teacher must be non-empty lists of the same length")
    return conf, student, teacher


def candidate_thresholds(conf: np.ndarray) -> list[float]:
    """Every distinct confidence (each changes who is served) and +inf (serve nothing)."""
    return sorted({float(c) for c in conf}) + [math.inf]


def pick_threshold(items: dict, target: float = DEFAULT_TARGET) -> dict:
    """The threshold serving the most requests whose mixed quality is >= target x the teacher's."""
    conf, student, teacher = _arrays(items)
    goal = target * teacher.mean()
    for threshold in candidate_thresholds(conf):  # ascending: the first that holds serves the most
        served = conf >= threshold
        mixed = np.where(served, student, teacher)
        if mixed.mean() >= goal - 1e-12:
            return {"threshold": threshold, "n": int(conf.size)}
    raise AssertionError("unreachable: +inf serves nothing and the mix is the teacher")


def _costs(items: dict, key: str) -> np.ndarray | None:
    values = items.get(key)
    return None if values is None else np.asarray(values, dtype=float)


def at_threshold(items: dict, threshold: float, *, intervals: bool = True, seed: int = 0) -> dict:
    """The mixed system at ``threshold`` on ``items`` (see the module docstring)."""
    conf, student, teacher = _arrays(items)
    served = conf >= threshold
    mixed = np.where(served, student, teacher)
    n, k = int(conf.size), int(served.sum())
    row = {
        "threshold": None if math.isinf(threshold) else threshold,  # None: above every confidence
        "n": n,
        "served": k,
        "share": k / n,
        "quality": float(mixed.mean()),
        "teacher_quality": float(teacher.mean()),
        "student_quality": float(student.mean()),
    }
    if intervals:
        row["share_ci95"] = wilson(k, n).ci
        row["quality_ci95"] = bootstrap_mean(mixed, seed=seed).ci
        if teacher.mean() > 0:
            ratio = paired_bootstrap(mixed, teacher, statistic="ratio", seed=seed)
            row["relative"], row["relative_ci95"] = ratio.estimate, ratio.ci
    for what in ("cost", "latency_s"):
        s, t = _costs(items, f"student_{what}"), _costs(items, f"teacher_{what}")
        if s is None or t is None:
            continue
        mix = np.where(served, s, s + t)  # a fallback has run the student first
        row[f"{what}_mix"] = float(mix.mean())
        row[f"{what}_teacher"] = float(t.mean())
        row[f"{what}_ratio"] = float(mix.mean() / t.mean()) if t.mean() > 0 else None
    return row


def curve(items: dict, *, points: int = MAX_CURVE_POINTS) -> list[dict]:
    """Rows of ``at_threshold`` for up to ``points`` thresholds (quantiles of the confidences), with intervals."""
    conf, _, _ = _arrays(items)
    thresholds = candidate_thresholds(conf)
    if len(thresholds) > points:
        picks = np.unique(np.linspace(0, len(thresholds) - 1, points).round().astype(int))
        thresholds = [thresholds[i] for i in picks]
    return [at_threshold(items, t) for t in thresholds]


def simulate(gold: dict, validation: dict | None, *, target: float = DEFAULT_TARGET) -> dict:
    """The routing section of a report: the gold curve, the threshold from validation, its check on gold."""
    if not 0 < target <= 1:
        raise ValueError(f"target must be in (0, 1], got {target}")
    out = {"target": target, "curve": curve(gold), "notes": []}
    if validation is None or not validation.get("confidence"):
        out["chosen"] = None
        out["notes"].append(
            "no validation items: the threshold is not chosen (choosing it on gold would grade the test with "
            "its own answers); the curve shows gold"
        )
        return out
    chosen = pick_threshold(validation, target)
    out["chosen"] = {"validation": at_threshold(validation, chosen["threshold"], intervals=False)}
    check = at_threshold(gold, chosen["threshold"])
    check["meets_target"] = check["quality"] >= target * check["teacher_quality"] - 1e-12
    out["chosen"]["gold"] = check
    return out

"""An experiment's answers: paired differences between arms on the gold set, with 95% intervals.

Every run's evaluation stores each gold item's score (1 right, 0 wrong: accuracy, or normalized
match for generation). Two arms are compared on the gold items both were scored on and the
seeds both finished, as a ``[seeds, items]`` matrix each (the runs at one seed index share their
seed: batch order, subsample, random order). Statistics come from ``workers.stats``:

- the difference of the means with a 95% percentile interval from a paired bootstrap that
  resamples gold items and seeds independently (so it carries both the finite gold set and the
  run-to-run noise of training);
- a p-value: exact McNemar on the discordant items when there is one seed (every item a
  right/wrong pair); with several seeds a paired permutation test (sign flips of each item's
  seed-averaged difference: the item is the unit that is exchangeable), since McNemar's pairs
  would not be independent across seeds of the same items.

An interval that contains zero is reported as "no detectable difference at n = ...", whatever
the point estimate. Each arm's own score gets the same bootstrap interval; the teacher (one
model, no seeds) a Wilson interval.
"""

from __future__ import annotations

import numpy as np

from curation.services.experiments.arms import ARMS, FRACTION_ARMS, curation_reference
from workers.stats import bootstrap_mean, mcnemar_exact, paired_bootstrap, paired_permutation, wilson

N_RESAMPLES = 4000
METRIC_LABELS = {"accuracy": "accuracy", "normalized_match": "normalized match"}


def questions(n_snapshots: int) -> list[dict]:
    """The three questions and the arm pairs (a - b) that answer them."""
    return [
        {
            "key": "curation",
            "title": "What is curation worth?",
            "pairs": [(curation_reference(n_snapshots), "raw")],
            "explain": "curated data minus the teacher's raw output, both in one stage with the same budget",
        },
        {
            "key": "kd",
            "title": "What is KD worth?",
            "pairs": [("curated", "ce")],
            "explain": "the base recipe minus the same with alpha 0 (cross-entropy only)",
        },
        {
            "key": "curriculum",
            "title": "What is the curriculum worth?",
            "pairs": [("curated", "shuffled"), ("curated", "random_order")],
            "explain": "stages in order minus one shuffled stage, and minus the same stages filled at random",
        },
    ]


def _matrix(per_seed: dict[int, dict], seeds: list[int], gold_ids: list) -> np.ndarray:
    rows = []
    for k in seeds:
        scores = dict(zip(per_seed[k]["gold_ids"], per_seed[k]["student"]))
        rows.append([scores[g] for g in gold_ids])
    return np.asarray(rows, dtype=np.float64)


def _binary(*matrices) -> bool:
    return all(np.isin(m, (0.0, 1.0)).all() for m in matrices)


def _points(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.1f}"


def verdict(a_label: str, b_label: str, interval, n_items: int, n_seeds: int, test: dict | None) -> str:
    """One sentence a person can act on; an interval containing zero says so plainly."""
    n = f"n = {n_items} gold item{'s' if n_items != 1 else ''} × {n_seeds} seed{'s' if n_seeds != 1 else ''}"
    ci = f"95% CI {_points(interval.low)} to {_points(interval.high)} points"
    p = f"; {test['label']} p = {test['p_value']:.3g}" if test else ""
    if not (np.isfinite(interval.low) and np.isfinite(interval.high)):
        return f"No interval could be computed ({n})."
    if not interval.excludes(0.0):
        return f"No detectable difference at {n}: {_points(interval.estimate)} points ({ci}{p})."
    if interval.estimate > 0:
        return f"{a_label} beats {b_label} by {interval.estimate * 100:.1f} points ({ci}, {n}{p})."
    return f"{a_label} is worse than {b_label} by {-interval.estimate * 100:.1f} points ({ci}, {n}{p})."


def _test(a: np.ndarray, b: np.ndarray) -> dict:
    if a.shape[0] == 1 and _binary(a, b):
        result = mcnemar_exact(a[0].astype(bool), b[0].astype(bool))
        label = "exact McNemar"
    else:
        result = paired_permutation(a, b)
        label = "paired permutation"
    return {"method": result.method, "label": label, "p_value": result.p_value, "n": result.n}


def compute_results(per_item: dict[str, dict[int, dict]], *, metric: str, n_snapshots: int) -> dict:
    """``per_item``: ``{arm: {seed_index: report.per_item}}`` of the evaluated runs."""
    notes = []
    usable = {arm: runs for arm, runs in per_item.items() if runs}
    if not usable:
        return {"metric": metric, "arms": {}, "questions": [], "learning_curve": [], "notes": ["No run evaluated."]}
    id_sets = [set(p["gold_ids"]) for runs in usable.values() for p in runs.values()]
    gold_ids = sorted(set.intersection(*id_sets), key=str)
    if len(set.union(*id_sets)) != len(gold_ids):
        notes.append(
            f"The gold set changed while the runs were evaluated: only the {len(gold_ids)} items every "
            "evaluation scored are compared."
        )
    if not gold_ids:
        return {"metric": metric, "arms": {}, "questions": [], "learning_curve": [], "notes": notes}
    arms = {}
    for arm, runs in usable.items():
        seeds = sorted(runs)
        scores = _matrix(runs, seeds, gold_ids)
        interval = bootstrap_mean(scores, n_resamples=N_RESAMPLES)
        arms[arm] = {
            "label": ARMS[arm].label,
            "mean": interval.estimate,
            "ci95": interval.ci,
            "seeds": len(seeds),
            "n_items": len(gold_ids),
        }
        if scores.min() == scores.max():
            notes.append(
                f"Every {ARMS[arm].label} student scored {scores.min():.0%} on every gold item: the gold set cannot "
                "tell these students apart."
            )
    out_questions = []
    for q in questions(n_snapshots):
        comparisons = []
        for a, b in q["pairs"]:
            if a not in usable or b not in usable:
                continue
            seeds = sorted(set(usable[a]) & set(usable[b]))
            if not seeds:
                continue
            A, B = _matrix(usable[a], seeds, gold_ids), _matrix(usable[b], seeds, gold_ids)
            interval = paired_bootstrap(A, B, n_resamples=N_RESAMPLES)
            test = _test(A, B)
            comparisons.append(
                {
                    "a": a,
                    "b": b,
                    "label": f"{ARMS[a].label} − {ARMS[b].label}",
                    "difference": interval.estimate,
                    "ci95": interval.ci,
                    "detectable": bool(interval.excludes(0.0)),
                    "p_value": test["p_value"],
                    "test": test["label"],
                    "n_items": len(gold_ids),
                    "seeds": len(seeds),
                    "verdict": verdict(ARMS[a].label, ARMS[b].label, interval, len(gold_ids), len(seeds), test),
                }
            )
        out_questions.append(
            {"key": q["key"], "title": q["title"], "explain": q["explain"], "comparisons": comparisons}
        )
    curve = [
        {"percent": round(ARMS[arm].fraction * 100), "arm": arm, "mean": arms[arm]["mean"], "ci95": arms[arm]["ci95"]}
        for arm in [*FRACTION_ARMS, "curated"]
        if arm in arms
    ]
    any_report = next(p for runs in usable.values() for p in runs.values())
    teacher = dict(zip(any_report["gold_ids"], any_report.get("teacher") or []))
    return {
        "metric": metric,
        "metric_label": METRIC_LABELS.get(metric, metric),
        "n_items": len(gold_ids),
        "teacher": teacher_score([teacher[g] for g in gold_ids if g in teacher]),
        "arms": arms,
        "questions": out_questions,
        "learning_curve": curve if len(curve) > 1 else [],
        "notes": notes,
    }


def teacher_score(scores: list[float]) -> dict | None:
    """The teacher's score on the gold set (one model, no seeds: a Wilson interval over the items)."""
    if not scores or not _binary(np.asarray(scores)):
        return None
    interval = wilson(int(sum(scores)), len(scores))
    return {"mean": interval.estimate, "ci95": interval.ci, "n_items": len(scores)}

"""What the experiment pages show: the runs' board, the three answers, the charts' geometry."""

from __future__ import annotations

from curation import charts
from curation.models import Experiment
from curation.services.experiments import ARMS, GOLD_RULE, Board

SHORT = {
    "curated": "curated",
    "raw": "raw",
    "shuffled": "shuffled",
    "random_order": "random order",
    "ce": "CE only",
    "fraction_10": "10% data",
    "fraction_25": "25% data",
    "fraction_50": "50% data",
}


def _row(comparison: dict) -> dict:
    return {
        "label": f"{SHORT.get(comparison['a'], comparison['a'])} − {SHORT.get(comparison['b'], comparison['b'])}",
        "estimate": comparison["difference"],
        "low": comparison["ci95"][0],
        "high": comparison["ci95"][1],
        "detectable": comparison["detectable"],
    }


def answers(results: dict) -> list[dict]:
    """The three questions, each with its comparisons (verdict, figures) ready to show."""
    out = []
    for q in results.get("questions", []):
        comparisons = []
        for c in q["comparisons"]:
            css = ("better" if c["difference"] > 0 else "worse") if c["detectable"] else "unclear"
            comparisons.append({**c, "css": css, "short": _row(c)["label"]})
        out.append({**q, "comparisons": comparisons})
    return out


def experiment_context(experiment: Experiment, board: Board) -> dict:
    results = experiment.results or {}
    rows = [_row(c) for q in results.get("questions", []) for c in q["comparisons"]]
    curve = results.get("learning_curve") or []
    arms = [
        {"key": key, **values, "short": SHORT.get(key, key)}
        for key, values in sorted(
            (results.get("arms") or {}).items(), key=lambda kv: list(ARMS).index(kv[0]) if kv[0] in ARMS else 99
        )
    ]
    params = experiment.params or {}
    stage = (params.get("recipe") or {}).get("stage") or {}
    budget = f"{stage['steps']} steps per stage" if stage.get("steps") else f"{stage.get('epochs')} epochs per stage"
    return {
        "experiment": experiment,
        "board": board,
        "by_arm": board.by_arm(),
        "seed_values": [int((params.get("recipe") or {}).get("seed") or 0) + k for k in range(experiment.seeds)],
        "results": results,
        "answers": answers(results),
        "arm_rows": arms,
        "differences": charts.difference_chart(rows),
        "curve": charts.interval_curve(
            [
                {"x": p["percent"], "mean": p["mean"], "low": p["ci95"][0], "high": p["ci95"][1], "label": p["arm"]}
                for p in curve
            ],
            x_label="share of the curated (reviewed) examples",
        ),
        "has_curve": len(curve) > 1,
        "gold_rule": GOLD_RULE,
        "budget": budget,
        "gate": stage.get("gate"),
        "recipe": params.get("recipe") or {},
        "arm_info": [ARMS[a] for a in experiment.arms if a in ARMS],
    }


def experiment_of(job) -> Experiment | None:
    """The experiment a preparation job belongs to."""
    return Experiment.objects.filter(job=job).first()

"""A trained student's score on the dev set: what selection reads, never what a report quotes.

The dev set is expert-labelled items drawn like the test set (gold) and kept out of training
by the same guard. Snapshot validation rows come from the training pool's own wordings, so
every decent student scores near 1.0 there and they cannot tell students apart; the dev set
can. Classification scores accuracy (Wilson 95% interval); free text scores chrF against the
reference (bootstrap 95% interval), a graded score where exact match is nearly always 0.
No teacher runs and nothing is timed: this is a ranking, not a report.
"""

from __future__ import annotations

from workers.evaluation import _classification_items, _generation_items, load_model
from workers.stats import bootstrap_mean, wilson


def dev_score(model_dir: str, items: list[dict], *, task: str, labels=None, max_new_tokens: int = 32) -> dict:
    """``{"metric", "value", "ci95", "n", "per_item"}`` of the model at ``model_dir`` on ``items``
    (the core's gold format: prompt and label, or prompt and reference)."""
    if not items:
        raise ValueError("the dev set is empty: nothing to score")
    lm = load_model(model_dir, "student")
    lm.model.eval()
    if task == "classification":
        if not labels:
            raise ValueError("scoring a classifier on the dev set needs the project labels")
        scored = [float(i["pred"] == i["gold"]) for i in _classification_items(lm, items, list(labels))]
        interval, metric = wilson(int(sum(scored)), len(scored)), "accuracy"
    elif task == "generation":
        scored = [i["chrf"] for i in _generation_items(lm, items, max_new_tokens, None)]
        interval, metric = bootstrap_mean(scored), "chrf"
    else:
        raise ValueError(f"unknown task {task!r}: generation or classification")
    return {
        "metric": metric,
        "value": sum(scored) / len(scored),
        "ci95": list(interval.ci),
        "n": len(scored),
        "per_item": [round(s, 4) for s in scored],
    }

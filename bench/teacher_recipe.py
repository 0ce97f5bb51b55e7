"""How the demo teacher's recipe was chosen: candidate recipes x training seeds, scored on
validation tickets only, never on the demo project's gold set (``GOLD_SEED``).

Two validation sets:

- **dev**: tickets from the gold templates drawn with other seeds (0 and 3), minus any whose
  normalised text is one of the project's gold tickets (about 790);
- **field**: 600 field-split tickets, wordings that neither the teacher's training data nor
  gold uses (the harder, cleaner signal: it shares no template with gold).

Each candidate is trained from scratch for the recipe's fixed steps on its fixed thread count
(so a result does not depend on the machine's load), two builds at a time on two cores. The
baseline in the same run is the recipe before this choice (``BASELINE``: one triage sequence
per ticket, no weight average). The last line is one JSON object: per recipe and seed the
accuracies, per recipe the means, and the paired difference adopted minus baseline with a 95%
bootstrap interval over tickets and seeds.

    .venv/bin/python bench/teacher_recipe.py                  # 2 recipes x 3 seeds: about 20 min
    .venv/bin/python bench/teacher_recipe.py --seeds 0 1 2 3 4
    .venv/bin/python bench/teacher_recipe.py --smoke          # tiny teachers, for the test suite
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.demo.corpus import dev_tickets, generate_tickets

BASELINE = {"triage_repeats": 1, "ema_decay": 0.0}
ADOPTED: dict = {}  # TeacherRecipe's defaults
SMOKE = {"steps": 8, "n_layer": 1, "n_embd": 32, "n_head": 2, "vocab_size": 400, "n_train_tickets": 120}


def validation_sets(smoke: bool) -> dict[str, list]:
    """*dev*: the demo projects' dev set (``corpus.dev_tickets``); *field*: field wordings, seed 5."""
    return {"dev": dev_tickets(40 if smoke else 400), "field": generate_tickets(60 if smoke else 600, 5, "field")}


def build_and_score(name: str, overrides: dict, seed: int, smoke: bool, out_root: str) -> dict:
    from workers.demo.evaluation import load, triage_predictions
    from workers.demo.teacher import TeacherRecipe, build_demo_teacher

    recipe = replace(TeacherRecipe(), **{**(SMOKE if smoke else {}), **overrides})
    out = Path(out_root) / f"{name}-{seed}"
    info = build_demo_teacher(out, seed=seed, force=True, recipe=recipe, log=None)
    model, tok = load(out)
    scores = {}
    for split, tickets in validation_sets(smoke).items():
        predicted = triage_predictions(model, tok, tickets)
        scores[split] = [float(label == t.label) for label, t in zip(predicted, tickets)]
    return {"recipe": name, "seed": seed, "train_s": info["train_time_s"], "correct": scores}


def main(argv=None) -> dict:
    from workers.stats import paired_bootstrap

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    recipes = {"baseline": BASELINE, "adopted": ADOPTED}
    with (
        tempfile.TemporaryDirectory(prefix="teacher-recipe-") as root,
        ProcessPoolExecutor(
            2,
            mp_context=multiprocessing.get_context("spawn"),  # a fork of a process with torch's threads can hang
        ) as pool,
    ):
        futures = [
            pool.submit(build_and_score, name, overrides, seed, args.smoke, root)
            for seed in args.seeds
            for name, overrides in recipes.items()
        ]
        runs = [f.result() for f in futures]
    table = {name: {} for name in recipes}
    for r in runs:
        acc = {split: round(sum(c) / len(c), 4) for split, c in r["correct"].items()}
        table[r["recipe"]][r["seed"]] = acc
        print(
            f"{r['recipe']:>8} seed {r['seed']}: dev {acc['dev']:.3f}, field {acc['field']:.3f} ({r['train_s']:.0f} s)"
        )
    out = {"seeds": args.seeds, "by_recipe": table, "mean": {}, "adopted_minus_baseline": {}}
    for split in ("dev", "field"):
        rows = {name: [r["correct"][split] for r in runs if r["recipe"] == name] for name in recipes}
        for name in recipes:
            out["mean"].setdefault(name, {})[split] = round(sum(map(sum, rows[name])) / sum(map(len, rows[name])), 4)
        diff = paired_bootstrap(rows["adopted"], rows["baseline"])
        out["adopted_minus_baseline"][split] = {
            "mean": round(diff.estimate, 4),
            "ci95": [round(diff.low, 4), round(diff.high, 4)],
        }
        print(f"{split}: adopted - baseline {diff.estimate:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]")
    out["n"] = {split: len(runs[0]["correct"][split]) for split in ("dev", "field")}
    out["smoke"] = args.smoke
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()

"""How the demo student's start and its number of epochs were chosen: arms x training seeds,
scored on validation tickets only, never on the demo project's gold set.

The student (``workers.demo.student.STUDENT_ARCH``) is distilled from the demo teacher on the
demo's pool (``corpus.pool_tickets``, labelled with the teacher's label distributions, KD at
T 4, one shuffled stage: the demo recipe's loss) by the product's distillation loop
(``workers.distill``), from three starts:

- ``random``: GPT-2's initialisation, 30 epochs (the baseline);
- ``teacher``: embeddings from the teacher (``modelbuild.init_embeddings_from_teacher``), 30 epochs;
- ``teacher_10``: the same start, 10 epochs (the demo's earlier epoch count).

Scored, as the teacher's recipe was (``bench/teacher_recipe.py``), on *dev* (gold-template
tickets of other seeds, minus gold) and *field* (field-wording tickets, minus gold), with each
student's agreement with the teacher. Differences are paired over tickets and seeds (95%
bootstrap). The last line is one JSON object.

    .venv/bin/python bench/student_start.py                  # the demo's teacher (make demo's); about 10 min
    .venv/bin/python bench/student_start.py --teacher DIR    # another built demo teacher
    .venv/bin/python bench/student_start.py --smoke          # a tiny teacher, for the tests
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

ARMS = {"random": ("random", 30), "teacher": ("teacher", 30), "teacher_10": ("teacher", 10)}
POOL = 2000
SMOKE = {"pool": 60, "epochs": 1}
SMOKE_TEACHER = {"steps": 8, "n_layer": 1, "n_embd": 32, "n_head": 2, "vocab_size": 400, "n_train_tickets": 120}


def teacher_view(teacher_dir: str, smoke: bool) -> tuple[list[dict], dict[str, list[str]]]:
    """What every arm shares, computed once: the pool labelled by the teacher (the training
    records) and the teacher's labels of the validation tickets."""
    import torch
    from teacher_recipe import validation_sets

    from workers.demo.corpus import LABELS, POOL_SEED, pool_tickets, triage_prompt
    from workers.demo.evaluation import label_logprobs, load, triage_predictions

    teacher, tok = load(teacher_dir)
    tickets = pool_tickets(SMOKE["pool"] if smoke else POOL, POOL_SEED)
    with torch.no_grad():
        probs = label_logprobs(teacher, tok, [triage_prompt(t.text) for t in tickets]).softmax(-1)
    records = [
        {"prompt": triage_prompt(t.text), "label": LABELS[int(p.argmax())], "teacher_probs": p.tolist()}
        for t, p in zip(tickets, probs)
    ]
    return records, {split: triage_predictions(teacher, tok, v) for split, v in validation_sets(smoke).items()}


def train_and_score(
    arm: str, seed: int, teacher_dir: str, records: list[dict], teacher_labels: dict, root: str, smoke: bool
) -> dict:
    import torch
    from teacher_recipe import validation_sets

    from workers.demo.corpus import LABELS
    from workers.demo.evaluation import load, triage_predictions
    from workers.demo.student import build_demo_student
    from workers.distill.recipe import run_distillation

    torch.set_num_threads(1)  # two arms at a time on two cores; accuracy does not depend on it
    init, epochs = ARMS[arm]
    start = Path(root) / f"{arm}-{seed}-start"
    size = {"n_layer": 1, "n_head": 2, "n_embd": 16} if smoke else {}  # narrower than the tiny teacher
    build_demo_student(teacher_dir, start, seed=seed, init=init, latency_runs=1, **size)
    out = Path(root) / f"{arm}-{seed}"
    run_distillation(
        {
            "student": str(start),
            "task": "classification",
            "labels": list(LABELS),
            "teacher_tokenizer": teacher_dir,
            "output_dir": str(out),
            "batch_size": 32,
            "max_seq_len": 256,
            "seed": seed,
            "stages": [
                {
                    "name": "pool",
                    "records": records,
                    "epochs": SMOKE["epochs"] if smoke else epochs,
                    "lr": 3e-3,
                    "warmup_steps": 10,
                    "temperature": 4.0,
                    "alpha": 1.0,
                }
            ],
        }
    )
    student, tok = load(out / "final")
    scores = {}
    for split, tickets in validation_sets(smoke).items():
        mine, theirs = triage_predictions(student, tok, tickets), teacher_labels[split]
        scores[split] = {
            "correct": [float(p == t.label) for p, t in zip(mine, tickets)],
            "agree": [float(p == q) for p, q in zip(mine, theirs)],
            "teacher": sum(q == t.label for q, t in zip(theirs, tickets)) / len(tickets),
        }
    return {"arm": arm, "seed": seed, "scores": scores}


def _smoke_teacher(root: str) -> str:
    from workers.demo.teacher import TeacherRecipe, build_demo_teacher

    out = Path(root) / "teacher"
    build_demo_teacher(out, force=True, recipe=replace(TeacherRecipe(), **SMOKE_TEACHER), log=None)
    return str(out)


def main(argv=None) -> dict:
    from workers.stats import paired_bootstrap

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--teacher", help="a built demo teacher (default: DATA_DIR/demo/teacher, built if missing); --smoke: a tiny one"
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    if not args.smoke and not args.teacher:
        # The demo's own teacher, where `make demo` keeps it (built there, and cached, if missing).
        from workers.demo.teacher import build_demo_teacher

        data_dir = Path(os.environ.get("DATA_DIR") or Path(__file__).resolve().parents[1] / "var")
        args.teacher = str(data_dir / "demo" / "teacher")
        build_demo_teacher(args.teacher, log=lambda m: print(m, file=sys.stderr))
    with (
        tempfile.TemporaryDirectory(prefix="student-start-") as root,
        ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool,
    ):
        teacher = _smoke_teacher(root) if args.smoke else str(Path(args.teacher).resolve())
        records, labels = teacher_view(teacher, args.smoke)
        futures = [
            pool.submit(train_and_score, arm, s, teacher, records, labels, root, args.smoke)
            for s in args.seeds
            for arm in ARMS
        ]
        runs = [f.result() for f in futures]
    out = {"seeds": args.seeds, "arms": {}, "teacher": {}, "differences": {}, "n": {}, "smoke": args.smoke}
    for split in ("dev", "field"):
        out["teacher"][split] = round(runs[0]["scores"][split]["teacher"], 4)
        out["n"][split] = len(runs[0]["scores"][split]["correct"])
        rows = {arm: [r["scores"][split]["correct"] for r in runs if r["arm"] == arm] for arm in ARMS}
        for arm in ARMS:
            agree = [r["scores"][split]["agree"] for r in runs if r["arm"] == arm]
            out["arms"].setdefault(arm, {})[split] = {
                "mean": round(sum(map(sum, rows[arm])) / sum(map(len, rows[arm])), 4),
                "by_seed": [round(sum(r) / len(r), 4) for r in rows[arm]],
                "agreement": round(sum(map(sum, agree)) / sum(map(len, agree)), 4),
            }
        for a, b in (("teacher", "random"), ("teacher", "teacher_10")):
            diff = paired_bootstrap(rows[a], rows[b])
            out["differences"].setdefault(f"{a}_minus_{b}", {})[split] = {
                "mean": round(diff.estimate, 4),
                "ci95": [round(diff.low, 4), round(diff.high, 4)],
            }
            print(f"{split}: {a} - {b} {diff.estimate:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]")
        for arm in ARMS:
            a = out["arms"][arm][split]
            print(
                f"{split}: {arm:>10} {a['mean']:.3f} {a['by_seed']} (agreement with the teacher {a['agreement']:.3f})"
            )
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()

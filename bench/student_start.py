"""How the demo student's recipe was chosen: its start, its epochs, the curriculum, and what the
simulated expert's review does to it. Arms x training seeds, scored on validation tickets only,
never on the demo project's gold set.

The student (``workers.demo.student.STUDENT_ARCH``) is distilled from the demo teacher on the
demo's pool (``corpus.pool_tickets``, labelled with the teacher's label distributions, KD at
T 4: the demo recipe's loss) by the product's distillation loop (``workers.distill``):

- ``random``: GPT-2's initialisation, one shuffled stage (the baseline);
- ``teacher``: embeddings from the teacher (``modelbuild.init_embeddings_from_teacher``);
- ``teacher_30``: the same for 30 epochs, not the recipe's (10);
- ``staged``: ``teacher`` as the demo's curriculum: two stages by the teacher's difficulty (the
  easiest third, then the rest with the recipe's replay), the product's default curriculum
  settings (``curation.services.recipes.CURRICULUM_DEFAULTS``: a ``tier_visits`` budget, which
  counts the replayed rows too, so two stages take about 6% more steps than one);
- ``curated`` / ``curated_staged``: ``teacher`` / ``staged`` after the **simulated expert**
  (``bench/_demo_expert.py``, the corpus's true labels standing in for a person) reviewed the
  teacher's least confident 15%: relabelled answers train on the expert's label (CE), rejected
  ones are left out. ``curated_staged`` is the demo's curated student;
- ``curated_staged_90``: the same on the first 90% of the pool's rows, as much as the product
  trains it on (its snapshots keep 10% for validation);
- ``teacher_6000`` / ``curated_staged_6000``: ``teacher`` / ``curated_staged`` on a pool of 6,000
  tickets, three times the demo's: a larger transfer set (the expert reviews the same share);
- ``teacher_w96`` / ``teacher_w128``: ``teacher`` with a wider student (1 x 96, 1 x 128; the
  demo's is 1 x 64, sized for its speed-up);
- ``teacher_wd``, ``teacher_dropout``, ``teacher_lr1e-3``, ``teacher_5``: ``teacher`` with weight
  decay 0.1, the student's dropout at 0.1, a third of the learning rate, 5 epochs.

Every arm but ``teacher_30`` and ``teacher_5`` trains for the demo recipe's epochs
(``DISTILL["triage"]``), and the JSON line records the recipe and each arm's settings.

Scored, as the teacher's recipe was (``bench/teacher_recipe.py``), on *dev* (gold-template
tickets of other seeds, minus gold: wordings the pool never has) and *field* (field-wording
tickets of another seed: wordings the pool has; a validation ticket any arm's pool holds is left out),
with each student's agreement with the teacher. Differences are paired over tickets and seeds
(95% bootstrap). With several seeds, ``seed_choice`` says what choosing among an arm's students on
validation is worth: the best on one random half of the tickets, scored on the other half. The
last line is one JSON object.

    .venv/bin/python bench/student_start.py                  # the demo's teacher (make demo's); about 50 min
    .venv/bin/python bench/student_start.py --arms teacher curated   # some arms only
    .venv/bin/python bench/student_start.py --pool-seed 0    # another draw of the pool
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
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


class Arm(NamedTuple):
    start: str  # "teacher" | "random" (workers.demo.student.STUDENT_INITS)
    epochs: int | None  # None: the demo recipe's
    data: str  # "raw" | "curated"
    shape: str  # "one" (one shuffled stage) | "staged" (the demo's two stages)
    share: float = 1.0  # of the pool's rows trained on (the first ones: the pool is in a seeded order)
    pool: int | None = None  # tickets in the pool the teacher labels (None: the demo's, SIZES["triage"])
    width: int | None = None  # the student's n_embd (None: the demo's, STUDENT_ARCH)
    stage: tuple = ()  # (setting, value) pairs over the recipe's stage settings
    job: tuple = ()  # (setting, value) pairs over the job's (the core's DistillConfig)
    dropout: float = 0.0  # the student's dropout (GPT-2's resid, embd and attn; the demo's is 0)


ARMS = {
    "random": Arm("random", None, "raw", "one"),
    "teacher": Arm("teacher", None, "raw", "one"),
    "teacher_30": Arm("teacher", 30, "raw", "one"),
    "staged": Arm("teacher", None, "raw", "staged"),
    "curated": Arm("teacher", None, "curated", "one"),
    "curated_staged": Arm("teacher", None, "curated", "staged"),  # the demo's curated student
    # ... on 90% of the rows, as the product trains it: its snapshots keep 10% for validation
    "curated_staged_90": Arm("teacher", None, "curated", "staged", 0.9),
    # a larger transfer set: the teacher labels three times as many tickets (the expert still
    # reviews the least confident EXPERT_SHARE of them)
    "teacher_6000": Arm("teacher", None, "raw", "one", pool=6000),
    "curated_staged_6000": Arm("teacher", None, "curated", "staged", pool=6000),
    # wider students (1 x 96, 1 x 128): is the demo student's width what holds it back?
    "teacher_w96": Arm("teacher", None, "raw", "one", width=96),
    "teacher_w128": Arm("teacher", None, "raw", "one", width=128),
    # the wider students do worse on dev, not better: regularisers, against over-fitting the
    # pool's wordings
    "teacher_wd": Arm("teacher", None, "raw", "one", job=(("weight_decay", 0.1),)),
    "teacher_dropout": Arm("teacher", None, "raw", "one", dropout=0.1),
    "teacher_lr1e-3": Arm("teacher", None, "raw", "one", stage=(("lr", 1e-3),)),
    "teacher_5": Arm("teacher", 5, "raw", "one"),
}
# (a, b): the paired differences printed, when both arms ran.
DIFFERENCES = [
    ("teacher", "random"),
    ("teacher_30", "teacher"),
    ("staged", "teacher"),
    ("curated_staged", "curated"),
    ("curated", "teacher"),
    ("curated_staged", "staged"),
    ("curated_staged", "curated_staged_90"),
    ("teacher_6000", "teacher"),
    ("curated_staged_6000", "curated_staged"),
    ("curated_staged_6000", "teacher_6000"),
    ("teacher_w96", "teacher"),
    ("teacher_w128", "teacher"),
    ("teacher_wd", "teacher"),
    ("teacher_dropout", "teacher"),
    ("teacher_lr1e-3", "teacher"),
    ("teacher_5", "teacher"),
]
SMOKE = {"pool": 60, "epochs": 1}
SMOKE_TEACHER = {"steps": 8, "n_layer": 1, "n_embd": 32, "n_head": 2, "vocab_size": 400, "n_train_tickets": 120}


def pool_sizes(arms: list[str], demo_pool: int, smoke: bool) -> dict[int, int]:
    """Each arm's pool size (``Arm.pool``, else the demo's) -> how many tickets that is in this
    run (a smoke run scales them down)."""
    sizes = {ARMS[arm].pool or demo_pool for arm in arms}
    return {n: max(8, round(SMOKE["pool"] * n / demo_pool)) if smoke else n for n in sorted(sizes)}


def teacher_view(teacher_dir: str, sizes: dict[int, int], pool_seed: int, smoke: bool) -> tuple:
    """What every arm shares, computed once: each pool (by size) labelled by the teacher, as it came
    (``raw``) and after the simulated expert (``curated``), each record with its difficulty tier;
    the validation tickets (none of them in any pool) and the teacher's labels of them; what the
    expert did in each pool."""
    from teacher_recipe import validation_sets

    from workers.demo.corpus import normalize, pool_tickets
    from workers.demo.evaluation import load, triage_predictions

    teacher, tok = load(teacher_dir)
    pools = {size: pool_tickets(n, pool_seed) for size, n in sizes.items()}
    # A validation ticket a pool also holds (a template without slots can repeat across seeds)
    # would be scored after training on it: left out (of every arm, so arms stay paired).
    seen = {normalize(t.text) for tickets in pools.values() for t in tickets}
    validation = {k: [t for t in v if normalize(t.text) not in seen] for k, v in validation_sets(smoke).items()}
    records, expert = {}, {}
    for size, tickets in pools.items():
        records[size], expert[size] = label_pool(teacher, tok, tickets)
    labels = {split: triage_predictions(teacher, tok, v) for split, v in validation.items()}
    return records, validation, labels, expert


def label_pool(teacher, tok, tickets) -> tuple[dict, dict]:
    """The pool as the teacher labelled it (``raw``) and after the simulated expert reviewed the
    least confident ``EXPERT_SHARE`` (``curated``); what the expert did."""
    import torch
    from _demo_expert import EXPERT_SHARE, decision, reviewed_count

    from workers.demo.corpus import LABELS, triage_prompt
    from workers.demo.evaluation import label_logprobs
    from workers.difficulty import assign_tiers, classification_difficulty
    from workers.teacher.base import label_distribution

    with torch.no_grad():
        scores = label_logprobs(teacher, tok, [triage_prompt(t.text) for t in tickets])
    answers = [label_distribution(dict(zip(LABELS, row.tolist()))) for row in scores]  # the product's rule
    # The demo's tiers (equal thirds of the teacher's label entropy) and stages (easy; the rest).
    tiers = assign_tiers(classification_difficulty([a[0] for a in answers]), [1 / 3, 2 / 3], ["easy", "medium", "hard"])
    raw = [
        {"prompt": triage_prompt(t.text), "label": pred, "teacher_probs": [dist[c] for c in LABELS], "tier": tier}
        for t, (dist, pred, _), tier in zip(tickets, answers, tiers)
    ]
    curated = [dict(r) for r in raw]
    actions = {"reviewed": reviewed_count(EXPERT_SHARE, len(raw)), "approved": 0, "relabelled": 0, "rejected": 0}
    least_confident = sorted(range(len(raw)), key=lambda i: (answers[i][2], i))[: actions["reviewed"]]
    for i in least_confident:
        verdict = decision(raw[i]["label"], tickets[i].label, tickets[i].ambiguous)
        actions[verdict] += 1
        if verdict == "relabelled":  # the reviewer's label wins: CE on it, not the overruled distribution
            curated[i].update(label=tickets[i].label, teacher_probs=None)
        elif verdict == "rejected":
            curated[i] = None
    return {"raw": raw, "curated": [r for r in curated if r is not None]}, actions


def demo_recipe() -> dict:
    """The demo's triage recipe (``curation.services.demo.DISTILL``), its pool size (``SIZES``)
    and the product's default curriculum settings (``recipes.CURRICULUM_DEFAULTS``), read once
    (importing them needs Django's settings; no database is touched)."""
    import django
    from django.apps import apps

    if not apps.ready:  # a script; under pytest Django is set up already
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
        os.environ.setdefault("DEBUG", "1")  # the embedded development configuration, as `make demo` runs
        django.setup()
    from curation.services.demo import DISTILL, SIZES
    from curation.services.recipes import CURRICULUM_DEFAULTS

    return {
        "stage": dict(DISTILL["triage"]["stage"]),
        "curriculum": dict(CURRICULUM_DEFAULTS),
        "pool": SIZES["triage"][0],
    }


def stages_of(records: list[dict], shape: str, epochs: float, stage: dict) -> list[dict]:
    """One shuffled stage, or the demo's stages (``_demo_expert.STAGE_OF_TIER``; the later ones
    with the recipe's replay)."""
    from _demo_expert import STAGE_OF_TIER, STAGES

    settings = {k: v for k, v in stage.items() if k != "replay_fraction"}
    settings["epochs"] = epochs
    if shape == "one":
        return [{"name": "pool", "records": records, **settings}]
    return [
        {
            "name": name,
            "records": [r for r in records if STAGE_OF_TIER[r["tier"]] == name],
            **settings,
            **({"replay_fraction": stage["replay_fraction"]} if i else {}),
        }
        for i, name in enumerate(STAGES)
    ]


def train_and_score(
    arm: str,
    seed: int,
    teacher_dir: str,
    records: dict,
    validation: dict,
    teacher_labels: dict,
    recipe: dict,
    root: str,
    smoke: bool,
) -> dict:
    import torch

    from workers.demo.corpus import LABELS
    from workers.demo.evaluation import load, triage_predictions
    from workers.demo.student import build_demo_student
    from workers.distill.recipe import run_distillation

    torch.set_num_threads(1)  # two arms at a time on two cores; accuracy does not depend on it
    a = ARMS[arm]
    rows = records[a.pool or recipe["pool"]][a.data]
    rows = rows[: round(a.share * len(rows))]
    epochs = SMOKE["epochs"] if smoke else a.epochs or recipe["stage"]["epochs"]
    start = Path(root) / f"{arm}-{seed}-start"
    if smoke:  # narrower than the tiny teacher (a "wider" arm a little wider)
        size = {"n_layer": 1, "n_head": 2, "n_embd": 24 if a.width else 16}
    else:
        size = {"n_embd": a.width} if a.width else {}
    build_demo_student(teacher_dir, start, seed=seed, init=a.start, latency_runs=1, dropout=a.dropout, **size)
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
            **recipe["curriculum"],  # the product's defaults: a staged run's budget is tier_visits
            **dict(a.job),
            "stages": stages_of(rows, a.shape, epochs, {**recipe["stage"], **dict(a.stage)}),
        }
    )
    student, tok = load(out / "final")
    scores = {}
    for split, tickets in validation.items():
        mine, theirs = triage_predictions(student, tok, tickets), teacher_labels[split]
        scores[split] = {
            "correct": [float(p == t.label) for p, t in zip(mine, tickets)],
            "agree": [float(p == q) for p, q in zip(mine, theirs)],
            "teacher": sum(q == t.label for q, t in zip(theirs, tickets)) / len(tickets),
        }
    return {"arm": arm, "seed": seed, "scores": scores}


def seed_choice(rows: list[list[float]], splits: int = 2000) -> dict | None:
    """What choosing the best of an arm's students on validation is worth: over ``splits`` random
    halves of the tickets, the student best on one half (ties: the first seed), scored on the other
    half, and its gain over all the students' mean there. ``by_k``: the same when only ``k`` of the
    students, drawn at random each split, are there to choose from (how many seeds are worth
    training). The ranges hold 95% of the splits (a spread over splits, not a confidence
    interval). None with fewer than two students."""
    import numpy as np

    if len(rows) < 2:
        return None
    scores, rng = np.asarray(rows, dtype=float), np.random.default_rng(0)
    draw = np.random.default_rng(1)  # the subsets' own stream: the halves are the same for every k
    n, students = scores.shape[1], scores.shape[0]
    ks = sorted({k for k in (2, 3, 5, students) if k <= students})
    picked, gains = {k: [] for k in ks}, {k: [] for k in ks}
    for _ in range(splits):
        order = rng.permutation(n)
        choose, score = order[: n // 2], order[n // 2 :]
        on_choose, on_score = scores[:, choose].mean(axis=1), scores[:, score].mean(axis=1)
        for k in ks:
            subset = np.arange(students) if k == students else np.sort(draw.choice(students, k, replace=False))
            best = subset[int(np.argmax(on_choose[subset]))]
            picked[k].append(on_score[best])
            gains[k].append(on_score[best] - on_score.mean())

    def summary(values):
        low, high = np.percentile(values, [2.5, 97.5])
        return round(float(np.mean(values)), 4), [round(float(low), 4), round(float(high), 4)]

    def block(k):
        (p, p_range), (g, g_range) = summary(picked[k]), summary(gains[k])
        return {"picked": p, "picked_range95": p_range, "gain": g, "gain_range95": g_range}

    return {"students": students, **block(students), "by_k": {str(k): block(k) for k in ks}}


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
    ap.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    ap.add_argument("--pool-seed", type=int, help="another draw of the pool (default: the demo's, corpus.POOL_SEED)")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    args.seeds, args.arms = list(dict.fromkeys(args.seeds)), list(dict.fromkeys(args.arms))  # pairing needs each once
    from workers.demo.corpus import POOL_SEED

    pool_seed = POOL_SEED if args.pool_seed is None else args.pool_seed
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
        recipe = demo_recipe()
        sizes = pool_sizes(args.arms, recipe["pool"], args.smoke)
        records, validation, labels, expert = teacher_view(teacher, sizes, pool_seed, args.smoke)
        print(f"simulated expert (the corpus's true labels, not a person), by pool: {expert}")
        futures = [
            pool.submit(train_and_score, arm, s, teacher, records, validation, labels, recipe, root, args.smoke)
            for s in args.seeds
            for arm in args.arms
        ]
        runs = [f.result() for f in futures]
    out = {
        "seeds": args.seeds,
        "pool_seed": pool_seed,
        "pools": {str(size): n for size, n in sizes.items()},
        "expert": {str(size): actions for size, actions in expert.items()},
        "recipe": recipe,
        "arm_settings": {arm: ARMS[arm]._asdict() for arm in args.arms},
        "arms": {},
        "teacher": {},
        "differences": {},
        "n": {},
        "smoke": args.smoke,
    }
    for split in ("dev", "field"):
        out["teacher"][split] = round(runs[0]["scores"][split]["teacher"], 4)
        out["n"][split] = len(runs[0]["scores"][split]["correct"])
        rows = {arm: [r["scores"][split]["correct"] for r in runs if r["arm"] == arm] for arm in args.arms}
        for arm in args.arms:
            agree = [r["scores"][split]["agree"] for r in runs if r["arm"] == arm]
            out["arms"].setdefault(arm, {})[split] = {
                "mean": round(sum(map(sum, rows[arm])) / sum(map(len, rows[arm])), 4),
                "by_seed": [round(sum(r) / len(r), 4) for r in rows[arm]],
                "agreement": round(sum(map(sum, agree)) / sum(map(len, agree)), 4),
                "seed_choice": seed_choice(rows[arm]),
            }
        for a, b in [(a, b) for a, b in DIFFERENCES if a in rows and b in rows]:
            diff = paired_bootstrap(rows[a], rows[b])
            out["differences"].setdefault(f"{a}_minus_{b}", {})[split] = {
                "mean": round(diff.estimate, 4),
                "ci95": [round(diff.low, 4), round(diff.high, 4)],
            }
            print(f"{split}: {a} - {b} {diff.estimate:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]")
        for arm in args.arms:
            a = out["arms"][arm][split]
            print(
                f"{split}: {arm:>10} {a['mean']:.3f} {a['by_seed']} (agreement with the teacher {a['agreement']:.3f})"
            )
            if choice := a["seed_choice"]:
                print(
                    f"{split}: {arm:>10} the best of {choice['students']} seeds on half the tickets scores "
                    f"{choice['picked']:.3f} {choice['picked_range95']} on the other half, "
                    f"{choice['gain']:+.3f} {choice['gain_range95']} over their mean"
                )
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()

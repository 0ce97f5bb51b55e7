"""Offline top-k KD vs online KD (throughput), and what KD and the curriculum are worth (quality).

One run, same data:
(a) training tokens/s of our path (soft targets precomputed once by the teacher,
    student forward/backward + top-k loss) vs the online KD of TRL's GKD / torchtune's
    KD recipe (teacher forward under no_grad every step + dense full-vocabulary KD);
    the teacher has ~10x the student's parameters;
(b) peak memory of each, as the RSS high-water mark of a separate subprocess per
    mode (tracemalloc cannot see torch's allocator): Linux ``VmHWM``, which starts
    afresh at exec (``ru_maxrss`` would inherit the parent's peak across
    fork+exec; it is the fallback elsewhere); each subprocess
    imports the same modules and holds what its mode needs (offline: student + soft
    targets; online: student + teacher);
(c) held-out **sequence exact match** (greedy decoding reproduces the reference answer and
    stops: computed in one teacher-forced pass, since greedy output equals the reference
    exactly when every position's top-1 is the reference token), by tier, of students
    trained for the same total steps in five arms, each over ``seeds`` seeds (the seed
    sets the student's initialisation and the data order):
    ``ce_shuffled`` (CE on the approved answers, one shuffled stage: the strongest plain
    baseline), ``kd_shuffled`` (top-k KD, one shuffled stage), ``ce_curriculum`` and
    ``kd_curriculum`` (easy, medium, hard stages with the curriculum recipe below) and
    ``random_order`` (the KD curriculum's stage sizes, pacing and budget, with examples
    dealt to stages at random). Each arm: mean over seeds x items with a 95% interval
    (two-way bootstrap over seeds and held-out items, ``workers.stats``); every arm's
    paired difference against ``ce_shuffled`` too.

The task: sort a list of distinct words alphabetically ("sort: pear fig kiwi =" ->
" fig kiwi pear"). Difficulty is real: the tier is the list length (easy 2-3 words, medium
4-5, hard 6-8) and every model's exact match falls with it. The tokenizer is byte-level
BPE with real merges (vocabulary > 256). Held-out, validation, student-train and
teacher-train prompts are disjoint (the overlap is counted and reported: 0). The
teacher (4 x 160) is trained here on its own corpus, larger than the student's, and
its held-out exact match (``teacher_score``) is reported: it must beat the CE-trained
student for KD to have anything to teach. The curriculum recipe was chosen with
``--select`` on the validation split (never on held-out); see the README.

    .venv/bin/python bench/distill.py --select   # the README's run: choose the recipe on validation, then the arms
    .venv/bin/python bench/distill.py            # the arms with the recipe in CURRICULUM
    .venv/bin/python bench/distill.py --smoke    # a minute

torch runs single-threaded by default (``--threads``): on a 2-core machine shared with
other work, two-thread small-op kernels oversubscribe and both modes slow down by an
order of magnitude, so the figures would measure the neighbours, not the method.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from workers.distill.data import collate_generation, prepare_generation, response_logits  # noqa: E402
from workers.stats import bootstrap_mean, paired_bootstrap  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # this directory: its private modules
from _distill_speed import measure  # noqa: E402

FULL = dict(
    teacher=dict(n_layer=4, n_embd=128, n_head=4),
    student=dict(n_layer=2, n_embd=64, n_head=2),
    teacher_steps=600,
    teacher_batch=32,
    per_tier=dict(teacher=2000, train=500, validation=100, heldout=200),
    vocab=400,
    speed_steps=40,
    train_steps=300,
    batch=16,
    lr=3e-3,
    k=20,
    seeds=5,
    select_seeds=3,
)
SMOKE = dict(
    teacher=dict(n_layer=1, n_embd=32, n_head=2),
    student=dict(n_layer=1, n_embd=16, n_head=2),
    teacher_steps=8,
    teacher_batch=8,
    per_tier=dict(teacher=20, train=10, validation=4, heldout=6),
    vocab=300,
    speed_steps=3,
    train_steps=6,
    batch=4,
    lr=3e-3,
    k=8,
    seeds=2,
    select_seeds=2,
)
TIERS = {"easy": (2, 3), "medium": (4, 5), "hard": (6, 8)}
WORDS = [
    "apple",
    "apricot",
    "banana",
    "cherry",
    "date",
    "fig",
    "grape",
    "kiwi",
    "lemon",
    "lime",
    "mango",
    "melon",
    "olive",
    "orange",
    "papaya",
    "peach",
    "pear",
    "plum",
    "quince",
    "berry",
    "cat",
    "dog",
    "eagle",
    "fox",
    "goat",
    "horse",
    "lion",
    "mouse",
    "otter",
    "panda",
    "rabbit",
    "tiger",
    "whale",
    "zebra",
]
# The base curriculum recipe of the *_curriculum arms and random_order. With --select the
# arms use instead the variant of it that scored best on validation (SELECTION below); the
# README's run chose budget "given". The stage steps split train_steps evenly; a
# tier_visits budget re-splits them.
CURRICULUM = dict(budget="tier_visits", pacing="replay", replay_fraction=0.3, replay_share=0.2, lr_schedule="per_stage")
ALPHA_KD = 0.5


def make_splits(cfg, seed=0):
    """Disjoint held-out, validation, train and teacher corpora (unique prompts), and the overlap count."""
    rng = random.Random(seed)
    taken: set[str] = set()
    splits = {}
    for split in ("heldout", "validation", "train", "teacher"):
        out = []
        for tier, (lo, hi) in TIERS.items():
            made = 0
            while made < cfg["per_tier"][split]:
                words = rng.sample(WORDS, rng.randint(lo, hi))
                prompt = "sort: " + " ".join(words) + " ="
                if prompt in taken:
                    continue
                taken.add(prompt)
                out.append({"prompt": prompt, "response": " " + " ".join(sorted(words)), "tier": tier})
                made += 1
        rng.shuffle(out)
        splits[split] = out
    held = {r["prompt"] for r in splits["heldout"]}
    overlap = sum(r["prompt"] in held for s in ("validation", "train", "teacher") for r in splits[s])
    return splits, overlap


def build_models(cfg, out: Path, splits):
    from workers.modelbuild import build_gpt2, parameter_count, save, train_tokenizer

    texts = [r["prompt"] + r["response"] for r in splits["teacher"]]
    tok = train_tokenizer(texts, vocab_size=cfg["vocab"])
    teacher = build_gpt2(tok, n_positions=64, seed=0, **cfg["teacher"])
    examples = prepare_generation(splits["teacher"], tok, max_seq_len=64, use_soft=False, where="bench")
    opt = torch.optim.AdamW(teacher.parameters(), lr=2e-3, weight_decay=0.01)
    steps = cfg["teacher_steps"]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50) * max(0.05, 1 - s / steps))
    teacher.train()
    g = random.Random(0)
    start = time.perf_counter()
    for _ in range(steps):
        batch = collate_generation(g.sample(examples, cfg["teacher_batch"]), tok.pad_token_id)
        loss = torch.nn.functional.cross_entropy(response_logits(teacher, batch), batch["target_ids"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(teacher.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
    teacher.eval()
    save(teacher, tok, out / "teacher")
    students = []
    for seed in range(cfg["seeds"]):
        student = build_gpt2(tok, n_positions=64, seed=1000 + seed, **cfg["student"])
        save(student, tok, out / f"student-{seed}")
        students.append(parameter_count(student))
    return tok, teacher, parameter_count(teacher), students[0], time.perf_counter() - start, loss.item()


@torch.no_grad()
def exact_match(model, tok, records) -> list[float]:
    """Per record 1.0 when greedy decoding reproduces the reference answer and EOS, else 0.0."""
    model.eval()
    examples = prepare_generation(records, tok, max_seq_len=64, use_soft=False, where="heldout")
    out = []
    for i in range(0, len(examples), 64):
        chunk = examples[i : i + 64]
        batch = collate_generation(chunk, tok.pad_token_id)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        right = (logits.argmax(-1) == batch["input_ids"][:, 1:]) | ~batch["target_mask"]
        out.extend(right.all(1).float().tolist())
    return out


@torch.no_grad()
def attach_soft_targets(teacher, tok, records, k):
    """What the teacher engine stores once: top-k log-probs and tail mass per response token."""
    examples = prepare_generation(records, tok, max_seq_len=64, use_soft=False, where="bench")
    for rec, ex in zip(records, examples):
        logits = teacher(input_ids=torch.tensor([ex.input_ids])).logits[0, ex.response_start - 1 : -1]
        logp = torch.log_softmax(logits.float(), -1)
        vals, ids = logp.topk(k)
        tail = torch.log1p(-vals.exp().sum(-1).clamp(max=1 - 1e-6))
        rec["soft"] = {
            "response_ids": ex.input_ids[ex.response_start :],
            "topk_ids": ids.int().numpy(),
            "topk_logprobs": vals.half().numpy(),
            "tail_logprob": tail.float().numpy(),
        }


def run_measure(mode, workdir, cfg):
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--measure",
            mode,
            "--workdir",
            str(workdir),
            "--steps",
            str(cfg["speed_steps"]),
            "--batch",
            str(cfg["batch"]),
            "--threads",
            str(torch.get_num_threads()),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{mode} measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


ARMS = {
    "ce_shuffled": dict(alpha=0.0, curriculum=False),
    "kd_shuffled": dict(alpha=ALPHA_KD, curriculum=False),
    "ce_curriculum": dict(alpha=0.0, curriculum=True),
    "kd_curriculum": dict(alpha=ALPHA_KD, curriculum=True),
    "random_order": dict(alpha=ALPHA_KD, curriculum=True, order="random"),
}


def train_student(workdir, train, cfg, seed, *, alpha, curriculum, order="curriculum", recipe=None):
    """One student, ``train_steps`` optimizer steps in total, through the product's staged trainer."""
    from transformers import AutoModelForCausalLM

    from workers.distill import DistillConfig, StageConfig, run_distillation

    recipe = dict(CURRICULUM if recipe is None else recipe)
    steps = cfg["train_steps"]
    common = dict(lr=cfg["lr"], warmup_steps=max(1, steps // 30), alpha=alpha, temperature=1.0)
    if curriculum:
        replay = recipe.pop("replay_fraction", 0.0)
        stages = [
            StageConfig(
                name=t,
                records=[r for r in train if r["tier"] == t],
                steps=steps // 3,
                replay_fraction=replay if i else 0.0,
                **common,
            )
            for i, t in enumerate(TIERS)
        ]
    else:
        recipe = {}
        stages = [StageConfig(name="all", records=list(train), steps=steps - steps % 3, **common)]
    out = workdir / "runs" / f"{order}-{alpha}-{curriculum}-{seed}-{abs(hash(json.dumps(recipe, sort_keys=True)))}"
    result = run_distillation(
        DistillConfig(
            student=str(workdir / f"student-{seed}"),
            output_dir=str(out),
            teacher_tokenizer=str(workdir / "teacher"),
            stages=stages,
            batch_size=cfg["batch"],
            seed=seed,
            max_seq_len=64,
            progress_every_s=600,
            order=order,
            **recipe,
        )
    )
    model = AutoModelForCausalLM.from_pretrained(result.final_model_dir)
    shutil.rmtree(out, ignore_errors=True)
    return model, result


def arm_summary(scores: np.ndarray, tiers: list[str]) -> dict:
    """Mean exact match over seeds x items with its 95% interval, overall and by tier."""
    overall = bootstrap_mean(scores)
    out = {"mean": round(overall.estimate, 4), "ci95": [round(overall.low, 4), round(overall.high, 4)], "by_tier": {}}
    for tier in TIERS:
        cols = [i for i, t in enumerate(tiers) if t == tier]
        interval = bootstrap_mean(scores[:, cols])
        out["by_tier"][tier] = {
            "mean": round(interval.estimate, 4),
            "ci95": [round(interval.low, 4), round(interval.high, 4)],
        }
    return out


def run_arms(work, splits, tok, cfg, arms, split="heldout", recipe=None, log=print):
    """{arm: [seeds, items] exact-match matrix} on ``split``, plus the visits of each arm's first seed."""
    scores, visits = {}, {}
    records = splits[split]
    for name, arm in arms.items():
        rows = []
        t0 = time.perf_counter()
        for seed in range(cfg["seeds"]):
            model, result = train_student(work, splits["train"], cfg, seed, recipe=recipe, **arm)
            rows.append(exact_match(model, tok, records))
            if seed == 0:
                visits[name] = result.visits
        scores[name] = np.array(rows)
        log(f"  {name}: {scores[name].mean():.3f} exact match on {split} ({time.perf_counter() - t0:.0f} s)")
    return scores, visits


SELECTION = {
    # One change at a time from the base (replay pacing, tier_visits budget, per-stage LR),
    # KD curriculum arm, scored on the validation split.
    "base (tier_visits, replay 0.3, share 0.2)": {},
    "budget given (the old recipe)": dict(budget="given"),
    "cumulative pacing": dict(pacing="cumulative", replay_fraction=0.0),
    "hard_weight 1.5": dict(hard_weight=1.5),
    "one LR schedule across stages": dict(lr_schedule="global"),
    "CE warm start (first 30%)": dict(ce_warmup_fraction=0.3),
}


def select(work, splits, tok, cfg, log=print):
    """The recipe sweep on validation: each variant of the KD curriculum, mean and 95% interval;
    returns the table and the variant with the best validation mean (the base on a tie)."""
    base = dict(CURRICULUM)
    rows, table = {}, {}
    few = {**cfg, "seeds": cfg["select_seeds"]}
    for label, change in SELECTION.items():
        recipe = {**base, **change}
        log(f"selection: {label}")
        scores, _ = run_arms(
            work, splits, tok, few, {"kd_curriculum": ARMS["kd_curriculum"]}, split="validation", recipe=recipe, log=log
        )
        rows[label] = scores["kd_curriculum"]
        table[label] = arm_summary(rows[label], [r["tier"] for r in splits["validation"]])
    first = next(iter(rows))
    for label in rows:
        diff = paired_bootstrap(rows[label], rows[first])
        table[label]["vs_base"] = {"mean": round(diff.estimate, 4), "ci95": [round(diff.low, 4), round(diff.high, 4)]}
        log(f"{label:<44} {table[label]['mean']:.3f} {table[label]['ci95']}  vs base {table[label]['vs_base']}")
    best = max(rows, key=lambda label: (round(float(rows[label].mean()), 6), label == first))
    return table, best, {**base, **SELECTION[best]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--select", action="store_true", help="the curriculum recipe sweep, on the validation split")
    ap.add_argument("--measure", choices=["offline", "online"])
    ap.add_argument("--workdir")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--seeds", type=int, help="override the number of seeds")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: stable figures on a shared machine)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.workdir), args.steps, args.batch)))
        return
    cfg = dict(SMOKE if args.smoke else FULL)
    if args.seeds:
        cfg["seeds"] = args.seeds
    import logging

    logging.getLogger("workers.distill").setLevel(logging.ERROR)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="bench-distill-") as tmp:
        work = Path(tmp)
        splits, overlap = make_splits(cfg)
        tok, teacher, t_params, s_params, t_train_s, t_loss = build_models(cfg, work, splits)
        tiers = [r["tier"] for r in splits["heldout"]]
        teacher_rows = np.array([exact_match(teacher, tok, splits["heldout"])])
        log(f"teacher: {teacher_rows.mean():.3f} held-out exact match after {t_train_s:.0f} s")
        t0 = time.perf_counter()
        attach_soft_targets(teacher, tok, splits["train"], cfg["k"])
        soft_s = time.perf_counter() - t0
        selection, chosen, recipe = None, None, dict(CURRICULUM)
        if args.select:
            selection, chosen, recipe = select(work, splits, tok, cfg, log=log)
            log(f"selected on validation: {chosen} -> {recipe}")
        (work / "records.pkl").write_bytes(pickle.dumps(splits["train"]))
        del teacher
        offline = run_measure("offline", work, cfg)
        online = run_measure("online", work, cfg)
        scores, visits = run_arms(work, splits, tok, cfg, ARMS, recipe=recipe, log=log)
    ratio = offline["tokens_per_s"] / online["tokens_per_s"]
    arms = {name: arm_summary(rows, tiers) for name, rows in scores.items()}
    teacher_summary = arm_summary(teacher_rows, tiers)
    differences = {}
    for name in ARMS:
        if name != "ce_shuffled":
            d = paired_bootstrap(scores[name], scores["ce_shuffled"])
            differences[f"{name} - ce_shuffled"] = {
                "mean": round(d.estimate, 4),
                "ci95": [round(d.low, 4), round(d.high, 4)],
            }
    for a, b in (("kd_curriculum", "kd_shuffled"), ("kd_curriculum", "random_order")):
        d = paired_bootstrap(scores[a], scores[b])
        differences[f"{a} - {b}"] = {"mean": round(d.estimate, 4), "ci95": [round(d.low, 4), round(d.high, 4)]}
    best = max(arms, key=lambda a: arms[a]["mean"])
    rows = [
        ("teacher / student parameters", f"{t_params:,} / {s_params:,}", f"{t_params / s_params:.1f}x"),
        ("tokenizer", f"{len(tok)} tokens", "byte-level BPE with merges"),
        ("held-out items / overlap with training", f"{len(tiers)} / {overlap}", "prompts deduplicated"),
        ("teacher training (CE, own corpus)", f"{t_train_s:.1f} s", f"final loss {t_loss:.3f}"),
        ("teacher held-out exact match", f"{teacher_summary['mean']:.3f}", f"95% CI {teacher_summary['ci95']}"),
        (f"soft targets, once (k={cfg['k']})", f"{soft_s:.1f} s", f"{len(splits['train'])} examples"),
        ("offline top-k KD tokens/s", f"{offline['tokens_per_s']:.0f}", ""),
        ("online KD tokens/s (teacher fwd/step)", f"{online['tokens_per_s']:.0f}", f"ratio {ratio:.2f}x"),
        ("offline peak RSS", f"{offline['peak_mb']:.0f} MB", f"{offline['growth_mb']:+.0f} MB over post-import"),
        ("online peak RSS", f"{online['peak_mb']:.0f} MB", f"{online['growth_mb']:+.0f} MB over post-import"),
    ]
    for name, arm in arms.items():
        tiers_text = " / ".join(f"{arm['by_tier'][t]['mean']:.3f}" for t in TIERS)
        rows.append(
            (f"exact match: {name}", f"{arm['mean']:.3f}", f"95% CI {arm['ci95']}; easy/medium/hard {tiers_text}")
        )
    for name, d in differences.items():
        rows.append((name, f"{d['mean']:+.3f}", f"95% CI {d['ci95']}"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>22}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>22}  {note}")
    print(f"best arm: {best} (seeds {cfg['seeds']}, {len(tiers)} held-out items each)")
    print(
        json.dumps(
            {
                "offline_tokens_per_s": round(offline["tokens_per_s"], 1),
                "online_tokens_per_s": round(online["tokens_per_s"], 1),
                "ratio": round(ratio, 3),
                "offline_peak_mb": round(offline["peak_mb"], 1),
                "online_peak_mb": round(online["peak_mb"], 1),
                "offline_growth_mb": round(offline["growth_mb"], 1),
                "online_growth_mb": round(online["growth_mb"], 1),
                "teacher_score": teacher_summary["mean"],
                "teacher_score_ci95": teacher_summary["ci95"],
                "teacher_by_tier": teacher_summary["by_tier"],
                "metric": "heldout_sequence_exact_match",
                "arms": arms,
                "differences": differences,
                "best_arm": best,
                "visits_by_tier": visits,
                "curriculum_recipe": recipe,
                "selection": {"on": "validation", "seeds": cfg["select_seeds"], "chosen": chosen, "variants": selection}
                if selection
                else None,
                "seeds": cfg["seeds"],
                "heldout_items": len(tiers),
                "train_items": len(splits["train"]),
                "overlap": overlap,
                "vocab_size": len(tok),
                "teacher_params": t_params,
                "student_params": s_params,
                "smoke": bool(args.smoke),
            }
        )
    )


if __name__ == "__main__":
    main()

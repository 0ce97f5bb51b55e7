"""Reply drafting: off-policy token KD vs token KD + an on-policy (GKD) stage vs sequence-level KD.

One run, same data, same number of optimizer steps in every arm, ``seeds`` seeds each (the seed
sets the student's initialisation, the data order and the on-policy samples):

- ``token_kd`` (the baseline): two stages of top-k KD on the teacher's sampled replies (its
  stored top-20 soft targets, alpha 0.5, T 1), the product's default for a shared tokenizer;
- ``token_kd_on_policy``: the same first stage; the second stage's micro-batches are half
  on-policy (``on_policy = {fraction 0.5, beta 0.5, T 1}``): the student samples replies, the
  local teacher scores them through its scoring path, generalized JSD trains;
- ``sequence_kd``: CE on the teacher's sampled text, no soft targets: what a job trains when
  teacher and student tokenizers differ (here they do not, so the arm isolates the method).

Task: the demo's reply-drafting tickets (workers/demo/corpus.py). A small drafting teacher is
trained here (``workers.demo.teacher`` with the smaller recipe below, cached in the work
directory) and a 1 x 64 student shares its tokenizer. The teacher answers the training prompts
once (T 0.7, top-p 0.95, top-20 soft targets). Held-out: tickets of the corpus's *gold* split
(templates the training split never uses), scored by sentence chrF (sacrebleu) of each
student's greedy reply against the corpus's reference reply. Each arm: the mean over seeds x
items with a 95% interval; each arm's paired difference against ``token_kd`` (two-way bootstrap
over seeds and items, ``workers.stats``) and the on-policy arm's chrF ratio to it. No setting
was tuned on the held-out tickets: the arms use the demo's drafting recipe (lr 3e-3, alpha 0.5,
T 1) and GKD's defaults (fraction 0.5, beta 0.5); there is no selection step.

    nice -n 19 .venv/bin/python bench/onpolicy.py           # minutes (after the teacher: ~10 more once)
    nice -n 19 .venv/bin/python bench/onpolicy.py --steps 300 300   # a longer-trained student
    nice -n 19 .venv/bin/python bench/onpolicy.py --smoke   # well under a minute after the teacher

torch runs single-threaded (``--threads``), as bench/distill.py does on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from workers.demo.teacher import TeacherRecipe  # noqa: E402

TEACHER = TeacherRecipe(
    n_layer=2, n_head=2, n_embd=128, vocab_size=1500, n_train_tickets=2000, n_gold_tickets=100, steps=500, max_len=160
)
CONFIGS = {
    "full": {
        "teacher": TEACHER,
        "n_train": 240,
        "n_test": 60,
        "seeds": 3,
        "steps": (60, 60),
        "batch": 8,
        "on_policy_tokens": 48,
        "reply_tokens": 64,
    },
    "smoke": {
        "teacher": replace(TEACHER, n_train_tickets=200, n_gold_tickets=10, steps=20),
        "n_train": 16,
        "n_test": 4,
        "seeds": 2,
        "steps": (2, 2),
        "batch": 4,
        "on_policy_tokens": 8,
        "reply_tokens": 12,
    },
}
ON_POLICY = {"fraction": 0.5, "temperature": 1.0, "beta": 0.5, "top_k": 20}
ARMS = ("token_kd", "token_kd_on_policy", "sequence_kd")
BASELINE = "token_kd"


def build_models(work: Path, cfg: dict, seeds: int, log) -> dict:
    from workers.demo.evaluation import load
    from workers.demo.teacher import build_demo_teacher
    from workers.modelbuild import build_gpt2, save

    info = build_demo_teacher(work / "teacher", recipe=cfg["teacher"], log=log)
    teacher, tok = load(work / "teacher")
    for seed in range(seeds):
        student = build_gpt2(tok, n_layer=1, n_head=2, n_embd=64, n_positions=teacher.config.n_positions, seed=seed)
        save(student, tok, work / f"student-{seed}")
    return {"teacher_gold_reply_nll": info["gold_reply_nll"], "teacher_build_s": info.get("build_time_s")}


def teacher_records(work: Path, tickets, reply_tokens: int) -> list[dict]:
    """The teacher's sampled reply to each training prompt, with its top-20 soft targets."""
    from workers.demo.corpus import drafting_prompt
    from workers.distill.runfile import soft_record
    from workers.teacher import GenerationParams, GenerationRequest, load_teacher

    with load_teacher({"backend": "transformers", "name_or_path": str(work / "teacher")}) as teacher:
        requests = [GenerationRequest(key=i, prompt=drafting_prompt(t.text)) for i, t in enumerate(tickets)]
        params = GenerationParams(temperature=0.7, top_p=0.95, max_new_tokens=reply_tokens, top_k=20, seed=0)
        results = teacher.generate(requests, params)
    records = []
    for r, req in zip(results, requests):
        if not r.ok or not r.text.strip():
            continue
        soft = soft_record(r.soft_targets)
        records.append({"prompt": req.prompt, "response": r.text, "soft": soft})
    return records


def train(work: Path, records: list[dict], cfg: dict, arm: str, seed: int) -> tuple[Path, float, dict | None]:
    from workers.distill import DistillConfig, StageConfig, run_distillation

    half = len(records) // 2
    common = {"lr": 3e-3, "warmup_steps": 5, "temperature": 1.0, "alpha": 0.5}
    on_policy = {**ON_POLICY, "max_new_tokens": cfg["on_policy_tokens"]} if arm == "token_kd_on_policy" else None
    stages = [
        StageConfig(name="first", records=records[:half], steps=cfg["steps"][0], **common),
        StageConfig(
            name="second",
            records=records[half:],
            steps=cfg["steps"][1],
            replay_fraction=0.5,
            on_policy=on_policy,
            **common,
        ),
    ]
    out = work / "runs" / f"{arm}-{seed}"
    shutil.rmtree(out, ignore_errors=True)  # a reused work directory must not resume an earlier run's checkpoint
    config = DistillConfig(
        student=str(work / f"student-{seed}"),
        output_dir=str(out),
        stages=stages,
        batch_size=cfg["batch"],
        max_seq_len=256,
        seed=seed,
        progress_every_s=60,
        teacher_tokenizer=None if arm == "sequence_kd" else str(work / "teacher"),
        teacher={"backend": "transformers", "name_or_path": str(work / "teacher")} if on_policy else None,
    )
    started = time.perf_counter()
    result = run_distillation(config)
    assert result.status == "completed", result
    expected = "sequence" if arm == "sequence_kd" else "token"
    assert result.kd_mode == expected, (arm, result.kd_mode)
    return Path(result.final_model_dir), time.perf_counter() - started, result.stages[1].get("on_policy")


def chrf_scores(model_dir: Path, tickets, reply_tokens: int) -> list[float]:
    from workers.demo.evaluation import greedy_replies, load
    from workers.genmetrics import chrf

    model, tok = load(model_dir)
    replies = greedy_replies(model, tok, tickets, max_new_tokens=reply_tokens)
    return [chrf(reply, t.reply) for reply, t in zip(replies, tickets)]


def summarize(scores: dict[str, np.ndarray], teacher: list[float], seconds: dict, on_policy: dict) -> dict:
    from workers.stats import bootstrap_mean, paired_bootstrap

    arms = {}
    for arm, matrix in scores.items():
        iv = bootstrap_mean(matrix)
        arms[arm] = {
            "chrf": round(iv.estimate, 3),
            "ci95": [round(iv.low, 3), round(iv.high, 3)],
            "n_items": iv.n,
            "seeds": iv.seeds,
            "train_s_mean": round(float(np.mean(seconds[arm])), 2),
        }
        if arm != BASELINE:
            diff = paired_bootstrap(matrix, scores[BASELINE])
            arms[arm]["diff_vs_token_kd"] = round(diff.estimate, 3)
            arms[arm]["diff_ci95"] = [round(diff.low, 3), round(diff.high, 3)]
    ratio = paired_bootstrap(scores["token_kd_on_policy"], scores[BASELINE], statistic="ratio")
    t = bootstrap_mean(np.asarray(teacher))
    return {
        "arms": arms,
        "on_policy_chrf_ratio": round(ratio.estimate, 3),
        "on_policy_chrf_ratio_ci95": [round(ratio.low, 3), round(ratio.high, 3)],
        "teacher_chrf": round(t.estimate, 3),
        "teacher_chrf_ci95": [round(t.low, 3), round(t.high, 3)],
        "on_policy_stage": on_policy,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--workdir", help="reuse this directory (the teacher is cached there)")
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, nargs=2, metavar=("FIRST", "SECOND"), help="each stage's optimizer steps")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = dict(CONFIGS["smoke" if args.smoke else "full"])
    seeds = args.seeds or cfg["seeds"]
    if args.steps:
        cfg["steps"] = tuple(args.steps)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="onpolicy-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    from workers.demo.corpus import generate_tickets

    started = time.perf_counter()
    built = build_models(work, cfg, seeds, log)
    train_tickets = generate_tickets(cfg["n_train"], seed=11, split="train")
    test_tickets = generate_tickets(cfg["n_test"], seed=12, split="gold")
    records = teacher_records(work, train_tickets, cfg["reply_tokens"])
    log(f"teacher answered {len(records)} of {len(train_tickets)} training prompts")
    teacher = chrf_scores(work / "teacher", test_tickets, cfg["reply_tokens"])
    scores = {arm: [] for arm in ARMS}
    seconds = {arm: [] for arm in ARMS}
    on_policy = []
    for seed in range(seeds):
        for arm in ARMS:
            final, took, op = train(work, records, cfg, arm, seed)
            scores[arm].append(chrf_scores(final, test_tickets, cfg["reply_tokens"]))
            seconds[arm].append(took)
            if op:
                on_policy.append(op)
            log(f"seed {seed} {arm}: chrF {np.mean(scores[arm][-1]):.2f} ({took:.1f}s)")
    figures = summarize({a: np.asarray(s) for a, s in scores.items()}, teacher, seconds, on_policy[-1])
    figures.update(
        steps=sum(cfg["steps"]),
        batch=cfg["batch"],
        train_records=len(records),
        seeds=seeds,
        smoke=bool(args.smoke),
        bench_s=round(time.perf_counter() - started, 1),
        **built,
    )
    width = 22
    print(f"{'arm':<{width}}  {'held-out chrF (95% CI)':>26}  {'vs token_kd (95% CI)':>26}  train s")
    for arm, a in figures["arms"].items():
        diff = (
            f"{a['diff_vs_token_kd']:+.2f} [{a['diff_ci95'][0]:+.2f}, {a['diff_ci95'][1]:+.2f}]"
            if arm != BASELINE
            else ""
        )
        print(
            f"{arm:<{width}}  {a['chrf']:>8.2f} [{a['ci95'][0]:.2f}, {a['ci95'][1]:.2f}]  {diff:>26}  "
            f"{a['train_s_mean']}"
        )
    print(f"{'teacher':<{width}}  {figures['teacher_chrf']:>8.2f} {figures['teacher_chrf_ci95']}")
    lo, hi = figures["on_policy_chrf_ratio_ci95"]
    print(
        f"ratio on-policy / token_kd chrF: {figures['on_policy_chrf_ratio']:.3f} [{lo:.3f}, {hi:.3f}] "
        f"({seeds} seeds x {len(test_tickets)} held-out tickets, {figures['steps']} steps each)"
    )
    print(json.dumps(_no_nan(figures)))


def _no_nan(value):
    """NaN (a ratio over a zero baseline) is not JSON: it becomes null."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value


if __name__ == "__main__":
    main()

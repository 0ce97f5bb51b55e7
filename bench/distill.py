"""Offline top-k KD vs online KD (teacher forward every step), and curriculum ablations.

One run, same data:
(a) training tokens/s of our path (soft targets precomputed once by the teacher,
    student forward/backward + top-k loss) vs the online KD of TRL's GKD / torchtune's
    KD recipe (teacher forward under no_grad every step + dense full-vocabulary KD);
    the teacher has ~8-10x the student's parameters;
(b) peak memory of each, as the RSS high-water mark of a separate subprocess per
    mode (tracemalloc cannot see torch's allocator): Linux ``VmHWM``, which starts
    afresh at exec (``ru_maxrss`` would inherit the parent's peak across
    fork+exec; it is the fallback elsewhere); each subprocess
    imports the same modules and holds what its mode needs (offline: student + soft
    targets; online: student + teacher);
(c) held-out quality (teacher-forced top-1 token accuracy on the reference answers) of
    students trained for the same number of steps with: KD in curriculum stages
    (``kd_quality``, the product path; ``curriculum_quality`` is the same run),
    CE only in the same stages (``ce_only_quality``), and KD on the same data in one
    shuffled stage (``shuffled_quality``).

The task is synthetic (sort a list of digits); its difficulty tier is the list
length. The teacher is a bigger tiny GPT-2 trained here briefly on it.

    .venv/bin/python bench/distill.py           # full, a few minutes on 2 CPU cores
    .venv/bin/python bench/distill.py --smoke   # seconds

torch runs single-threaded by default (``--threads``): on a 2-core machine shared with
other work, two-thread small-op kernels oversubscribe and both modes slow down by an
order of magnitude, so the figures would measure the neighbours, not the method.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from workers.distill.data import collate_generation, move, prepare_generation, response_logits  # noqa: E402
from workers.distill.losses import dense_kd_loss, topk_kd_loss  # noqa: E402

FULL = dict(
    teacher=dict(n_layer=5, n_embd=256, n_head=4),
    student=dict(n_layer=2, n_embd=128, n_head=2),
    teacher_steps=300,
    n_train=1200,
    n_heldout=200,
    speed_steps=40,
    train_steps=360,
    batch=16,
    k=20,
)
SMOKE = dict(
    teacher=dict(n_layer=2, n_embd=64, n_head=2),
    student=dict(n_layer=1, n_embd=32, n_head=2),
    teacher_steps=10,
    n_train=96,
    n_heldout=24,
    speed_steps=3,
    train_steps=9,
    batch=8,
    k=8,
)
TIERS = {"easy": (2, 3), "medium": (4, 5), "hard": (6, 8)}


def make_records(n, seed):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        tier = list(TIERS)[i % 3]
        lo, hi = TIERS[tier]
        digits = [rng.randrange(10) for _ in range(rng.randint(lo, hi))]
        out.append(
            {
                "prompt": "sort: " + " ".join(map(str, digits)) + " =",
                "response": " " + " ".join(map(str, sorted(digits))),
                "tier": tier,
            }
        )
    return out


def build_models(cfg, out: Path, records):
    from workers.modelbuild import build_gpt2, parameter_count, save, train_tokenizer

    tok = train_tokenizer([r["prompt"] + r["response"] for r in records[:300]], vocab_size=128)
    teacher = build_gpt2(tok, n_positions=64, seed=0, **cfg["teacher"])
    student = build_gpt2(tok, n_positions=64, seed=1, **cfg["student"])
    examples = prepare_generation(records, tok, max_seq_len=64, use_soft=False, where="bench")
    opt = torch.optim.AdamW(teacher.parameters(), lr=1e-3)
    teacher.train()
    g = random.Random(0)
    start = time.perf_counter()
    for _ in range(cfg["teacher_steps"]):
        batch = collate_generation(g.sample(examples, cfg["batch"] * 2), tok.pad_token_id)
        loss = torch.nn.functional.cross_entropy(response_logits(teacher, batch), batch["target_ids"])
        loss.backward()
        opt.step()
        opt.zero_grad()
    teacher.eval()
    save(teacher, tok, out / "teacher")
    save(student, tok, out / "student")
    return tok, teacher, parameter_count(teacher), parameter_count(student), time.perf_counter() - start, loss.item()


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


def measure(mode: str, workdir: Path, steps: int, batch_size: int) -> dict:
    """Runs inside a fresh subprocess: train the student ``steps`` steps in ``mode``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    baseline_mb = current_rss_mb()
    tok = AutoTokenizer.from_pretrained(workdir / "student")
    student = AutoModelForCausalLM.from_pretrained(workdir / "student")
    records = pickle.loads((workdir / "records.pkl").read_bytes())
    teacher = AutoModelForCausalLM.from_pretrained(workdir / "teacher").eval() if mode == "online" else None
    examples = prepare_generation(records, tok, max_seq_len=64, use_soft=mode == "offline", where="bench")
    opt = torch.optim.AdamW(student.parameters(), lr=1e-3)
    rng = random.Random(0)
    tokens, elapsed = 0, 0.0
    for step in range(steps + 2):  # two warm-up steps are not timed
        batch = move(collate_generation(rng.sample(examples, batch_size), tok.pad_token_id), "cpu")
        t0 = time.perf_counter()
        logits = response_logits(student, batch)
        if mode == "offline":
            parts = topk_kd_loss(
                logits, batch["target_ids"], batch["topk_ids"], batch["topk_logprobs"], batch["tail_logprob"], alpha=0.5
            )
        else:
            with torch.no_grad():
                t_logits = response_logits(teacher, batch)
            parts = dense_kd_loss(logits, t_logits, batch["target_ids"], alpha=0.5)
            del t_logits
        parts.loss.backward()
        opt.step()
        opt.zero_grad()
        if step >= 2:
            elapsed += time.perf_counter() - t0
            tokens += int(batch["attention_mask"].sum())
    peak_mb = _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"tokens_per_s": tokens / elapsed, "peak_mb": peak_mb, "growth_mb": peak_mb - baseline_mb}


def _status_mb(field: str) -> float | None:
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return None


def current_rss_mb() -> float:
    """Resident set size now, the baseline the high-water mark is compared to."""
    return _status_mb("VmRSS") or 0.0


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


def train_variant(name, workdir, train, heldout, cfg, *, alpha, curriculum):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workers.distill import DistillConfig, StageConfig, run_distillation
    from workers.distill.gates import generation_metrics

    steps = cfg["train_steps"]
    common = dict(lr=2e-3, warmup_steps=max(1, steps // 30), alpha=alpha, temperature=1.0)
    if curriculum:
        stages = [
            StageConfig(
                name=t,
                records=[r for r in train if r["tier"] == t],
                steps=steps // 3,
                replay_fraction=0.3 if i else 0.0,
                **common,
            )
            for i, t in enumerate(TIERS)
        ]
    else:
        stages = [StageConfig(name="all", records=list(train), steps=steps - steps % 3, **common)]
    cfg_obj = DistillConfig(
        student=str(workdir / "student"),
        output_dir=str(workdir / name),
        teacher_tokenizer=str(workdir / "teacher"),
        stages=stages,
        batch_size=cfg["batch"],
        seed=0,
        max_seq_len=64,
        progress_every_s=60,
    )
    t0 = time.perf_counter()
    result = run_distillation(cfg_obj)
    took = time.perf_counter() - t0
    tok = AutoTokenizer.from_pretrained(result.final_model_dir)
    model = AutoModelForCausalLM.from_pretrained(result.final_model_dir)
    examples = prepare_generation(heldout, tok, max_seq_len=64, use_soft=False, where="heldout")
    metrics = generation_metrics(model, examples, pad_id=tok.pad_token_id, device="cpu", batch_size=32)
    return metrics["accuracy"], result.kd_mode, took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--measure", choices=["offline", "online"])
    ap.add_argument("--workdir")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: stable figures on a shared machine)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.workdir), args.steps, args.batch)))
        return
    cfg = SMOKE if args.smoke else FULL
    import logging

    logging.getLogger("workers.distill").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-distill-") as tmp:
        work = Path(tmp)
        train = make_records(cfg["n_train"], seed=1)
        heldout = make_records(cfg["n_heldout"], seed=2)
        tok, teacher, t_params, s_params, t_train_s, t_loss = build_models(cfg, work, train)
        t0 = time.perf_counter()
        attach_soft_targets(teacher, tok, train, cfg["k"])
        soft_s = time.perf_counter() - t0
        (work / "records.pkl").write_bytes(pickle.dumps(train))
        del teacher
        offline = run_measure("offline", work, cfg)
        online = run_measure("online", work, cfg)
        kd, kd_mode, kd_s = train_variant("kd-curriculum", work, train, heldout, cfg, alpha=0.5, curriculum=True)
        ce, _, ce_s = train_variant("ce-curriculum", work, train, heldout, cfg, alpha=0.0, curriculum=True)
        sh, _, sh_s = train_variant("kd-shuffled", work, train, heldout, cfg, alpha=0.5, curriculum=False)
    ratio = offline["tokens_per_s"] / online["tokens_per_s"]
    rows = [
        ("teacher / student parameters", f"{t_params:,} / {s_params:,}", f"{t_params / s_params:.1f}x"),
        ("teacher training (CE)", f"{t_train_s:.1f} s", f"final loss {t_loss:.3f}"),
        (f"soft targets, once (k={cfg['k']})", f"{soft_s:.1f} s", f"{len(train)} examples"),
        ("offline top-k KD tokens/s", f"{offline['tokens_per_s']:.0f}", ""),
        ("online KD tokens/s (teacher fwd/step)", f"{online['tokens_per_s']:.0f}", f"ratio {ratio:.2f}x"),
        (
            "offline peak RSS",
            f"{offline['peak_mb']:.0f} MB",
            f"{offline['growth_mb']:+.0f} MB over its post-import RSS",
        ),
        ("online peak RSS", f"{online['peak_mb']:.0f} MB", f"{online['growth_mb']:+.0f} MB over its post-import RSS"),
        ("held-out token acc: KD + curriculum", f"{kd:.3f}", f"{kd_s:.1f} s, kd_mode={kd_mode}"),
        ("held-out token acc: CE only + curriculum", f"{ce:.3f}", f"{ce_s:.1f} s"),
        ("held-out token acc: KD, one shuffled stage", f"{sh:.3f}", f"{sh_s:.1f} s"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>22}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>22}  {note}")
    print(
        json.dumps(
            {
                "offline_tokens_per_s": round(offline["tokens_per_s"], 1),
                "online_tokens_per_s": round(online["tokens_per_s"], 1),
                "ratio": round(ratio, 3),
                "offline_peak_mb": round(offline["peak_mb"], 1),
                "online_peak_mb": round(online["peak_mb"], 1),
                "kd_quality": round(kd, 4),
                "ce_only_quality": round(ce, 4),
                "curriculum_quality": round(kd, 4),
                "shuffled_quality": round(sh, 4),
                "offline_growth_mb": round(offline["growth_mb"], 1),
                "online_growth_mb": round(online["growth_mb"], 1),
                "teacher_params": t_params,
                "student_params": s_params,
                "smoke": bool(args.smoke),
            }
        )
    )


if __name__ == "__main__":
    main()

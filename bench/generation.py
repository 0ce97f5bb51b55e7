"""Teacher generation throughput: our engine against one ``model.generate`` per prompt.

Every path generates exactly ``--new-tokens`` tokens per prompt (EOS is banned and the
length fixed: the model is randomly initialised) with the same sampling: temperature 1
over the full vocabulary (``top_k=0`` and ``top_p=1.0`` for Hugging Face ``generate``,
whose default would be top-50), from the same ~5M-parameter GPT-2-style model and the
same prompts. The batched paths get the same maximum batch (``--max-batch``), and every
path is warmed up before it is timed. Also reports the size of
the soft targets per generated token in our shard store against the same arrays as
JSON (what a database column would hold).

    .venv/bin/python bench/generation.py            # 256 prompts, 4 x 256 model
    .venv/bin/python bench/generation.py --smoke    # a few seconds
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from workers.modelbuild import build_gpt2, parameter_count, save, train_tokenizer
from workers.softtargets import ShardWriter, json_bytes
from workers.teacher import GenerationParams, expand_requests
from workers.teacher.hf import HFTeacher

TOPICS = [
    "invoice",
    "refund",
    "password",
    "login",
    "shipping",
    "address",
    "order",
    "crash",
    "settings",
    "upload",
    "error",
    "account",
    "billing",
    "payment",
    "email",
    "android",
    "browser",
    "timeout",
    "download",
    "subscription",
    "cancel",
    "upgrade",
    "support",
    "ticket",
]
VERBS = ["shows", "fails", "breaks", "needs", "loses", "sends", "charges", "blocks", "opens", "keeps"]


def corpus(n: int, rng: random.Random) -> list[str]:
    out = []
    for _ in range(n):
        words = [rng.choice(TOPICS + VERBS) for _ in range(rng.randint(6, 20))]
        out.append(" ".join(words) + rng.choice([".", "?", "!"]) + f" #{rng.randint(0, 99999)}")
    return out


def build_model(out: Path, vocab: int, n_layer: int, n_embd: int, rng: random.Random, texts: int = 5000) -> Path:
    # Random strings over a wide alphabet give the BPE trainer enough to reach ``vocab``.
    texts = corpus(texts * 3 // 5, rng) + [
        "".join(chr(rng.randint(33, 0x2FF)) for _ in range(40)) for _ in range(texts * 2 // 5)
    ]
    tok = train_tokenizer(texts, vocab_size=vocab)
    model = build_gpt2(tok, n_layer=n_layer, n_embd=n_embd, n_head=4, n_positions=512)
    print(f"model: {parameter_count(model) / 1e6:.2f}M parameters, vocabulary {len(tok)}")
    return save(model, tok, out)


def run_baseline(teacher: HFTeacher, prompts: list[str], new_tokens: int) -> tuple[int, float]:
    model, tok = teacher.model, teacher.tokenizer
    torch.manual_seed(0)
    tokens = 0
    start = time.perf_counter()
    with torch.inference_mode():
        for p in prompts:
            enc = tok(p, return_tensors="pt", add_special_tokens=False)
            out = model.generate(
                **enc,
                do_sample=True,
                temperature=1.0,
                top_k=0,
                top_p=1.0,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                pad_token_id=tok.pad_token_id,
                output_scores=True,
                return_dict_in_generate=True,
            )
            tokens += out.sequences.shape[1] - enc["input_ids"].shape[1]
    return tokens, time.perf_counter() - start


def run_hf_batched(teacher: HFTeacher, prompts: list[str], new_tokens: int, batch: int) -> tuple[int, float]:
    """Plain Hugging Face batching, for reference: ``generate`` on left-padded batches."""
    model, tok = teacher.model, teacher.tokenizer
    torch.manual_seed(0)
    tokens = 0
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(prompts), batch):
            enc = tok(prompts[i : i + batch], return_tensors="pt", padding=True, add_special_tokens=False)
            out = model.generate(
                **enc,
                do_sample=True,
                temperature=1.0,
                top_k=0,
                top_p=1.0,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                pad_token_id=tok.pad_token_id,
            )
            tokens += (out.shape[1] - enc["input_ids"].shape[1]) * out.shape[0]
    return tokens, time.perf_counter() - start


def run_ours(teacher: HFTeacher, prompts: list[str], new_tokens: int, store: Path):
    params = GenerationParams(n=1, temperature=1.0, max_new_tokens=new_tokens, min_new_tokens=new_tokens, seed=0)
    requests = expand_requests(list(enumerate(prompts)), 1)
    writer = ShardWriter(store, "bench")
    json_total = 0

    def on_batch(results, stats):
        nonlocal json_total
        for r in results:
            writer.add(f"p{r.key[0]}-s{r.key[1]}", r.soft_targets)
            json_total += json_bytes(r.soft_targets)

    start = time.perf_counter()
    results = teacher.generate(requests, params, on_batch=None)
    elapsed = time.perf_counter() - start
    on_batch(results, None)
    writer.flush()
    tokens = sum(r.token_count for r in results)
    errors = [r.error for r in results if r.error]
    if errors:
        raise SystemExit(f"generation failed: {errors[0]}")
    shard_bytes = sum(f.stat().st_size for f in (store / "shards").iterdir())
    return tokens, elapsed, shard_bytes, json_total


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny run for the test suite")
    ap.add_argument("--prompts", type=int, default=256)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument(
        "--baseline-prompts",
        type=int,
        default=0,
        help="time the baseline on this many prompts and scale (default: all)",
    )
    ap.add_argument("--max-batch", type=int, default=64, help="the largest batch of every batched path")
    args = ap.parse_args(argv)
    if args.smoke:
        args.prompts, args.new_tokens, args.baseline_prompts = 12, 6, 12
        vocab, n_layer, n_embd, texts = 600, 2, 64, 400
    else:
        vocab, n_layer, n_embd, texts = 2000, 4, 256, 5000
    torch.set_num_threads(os.cpu_count() or 1)
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_model(Path(tmp) / "model", vocab, n_layer, n_embd, rng, texts)
        prompts = corpus(args.prompts, random.Random(1))
        teacher = HFTeacher(str(model_dir), max_batch_size=args.max_batch, num_threads=os.cpu_count())
        # Each path's first calls pay for allocations and kernel selection: warm every one up.
        warm = prompts[: min(len(prompts), args.max_batch)]
        run_ours(teacher, warm, 4, Path(tmp) / "warmup")
        run_baseline(teacher, warm[:4], 4)
        run_hf_batched(teacher, warm, 4, args.max_batch)
        n_base = args.baseline_prompts or len(prompts)
        base_tokens, base_time = run_baseline(teacher, prompts[:n_base], args.new_tokens)
        ours_tokens, ours_time, shard_bytes, json_total = run_ours(
            teacher, prompts, args.new_tokens, Path(tmp) / "store"
        )
        hf_tokens, hf_time = run_hf_batched(teacher, prompts, args.new_tokens, args.max_batch)
    base_tps = base_tokens / base_time
    ours_tps = ours_tokens / ours_time
    hf_tps = hf_tokens / hf_time
    figures = {
        "ours_tokens_per_s": round(ours_tps, 1),
        "baseline_tokens_per_s": round(base_tps, 1),
        "ratio": round(ours_tps / base_tps, 2),
        "softtarget_bytes_per_token": round(shard_bytes / ours_tokens, 1),
        "json_bytes_per_token": round(json_total / ours_tokens, 1),
        "hf_batched_tokens_per_s": round(hf_tps, 1),
        "hf_batched_ratio": round(hf_tps / base_tps, 2),
        "ours_vs_hf_batched": round(ours_tps / hf_tps, 2),
        "max_batch": args.max_batch,
        "sampling": "temperature 1.0, top_k 0 (full vocabulary), top_p 1.0, every path",
        "warmed_up": ["ours", "baseline", "hf_batched"],
    }
    print(f"{'path':<34}{'tokens':>8}{'seconds':>10}{'tokens/s':>12}")
    print(f"{'baseline (generate, batch 1)':<34}{base_tokens:>8}{base_time:>10.2f}{base_tps:>12.1f}")
    print(f"{f'reference: HF generate, batch {args.max_batch}':<34}{hf_tokens:>8}{hf_time:>10.2f}{hf_tps:>12.1f}")
    print(f"{'ours (bucketed decode loop)':<34}{ours_tokens:>8}{ours_time:>10.2f}{ours_tps:>12.1f}")
    print(
        f"ratio: ours {figures['ratio']}x the baseline (HF batch {args.max_batch}: {figures['hf_batched_ratio']}x; "
        f"ours {figures['ours_vs_hf_batched']}x HF batched at the same maximum batch and sampling)"
    )
    print(
        f"soft targets: {figures['softtarget_bytes_per_token']} bytes/token in shards vs "
        f"{figures['json_bytes_per_token']} bytes/token as JSON "
        f"({figures['json_bytes_per_token'] / figures['softtarget_bytes_per_token']:.1f}x smaller)"
    )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()

"""Soft targets in less space: float top-k (shard v1), compact top-k (v2) and sampled (RS-KD).

One synthetic teacher (a randomly initialised GPT-2 whose logits are scaled so its mean
entropy is about ``--entropy`` nats: declared, not a trained model) writes sequences; every
position's full distribution is known, so the stored targets can be checked exactly.

- ``bytes_per_token``: shard file size over stored positions (v1 as the product writes it,
  v2 compact at 6 bits, v2 sampled with ``m`` draws chosen to fit the compact bytes).
- reconstruction KL: KL(exact top-k + tail buckets || stored buckets), mean per position
  (sampled targets do not reconstruct a distribution: not applicable).
- student quality: a smaller student trained ``--steps`` steps on each kind (pure KD,
  alpha 1, the same seeds, batches and initialisation across kinds), then its held-out KL
  to the teacher's full distribution per token (lower is better), over ``--seeds`` seeds;
  intervals are the project's paired two-way bootstrap over seeds and held-out sequences.
  The dense full-distribution student is the reference.

    .venv/bin/python bench/softtargets.py           # a few minutes on a loaded 2-core machine
    .venv/bin/python bench/softtargets.py --smoke   # seconds
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from workers.distill.losses import dense_kd_loss, sampled_kd_loss, topk_kd_loss
from workers.modelbuild import build_gpt2, train_tokenizer
from workers.softcodec import sample_targets
from workers.softtargets import ShardWriter, SoftTargets, read_soft_targets, tail_logprob_from_topk
from workers.stats import paired_bootstrap

TEXTS = [
    "my invoice shows a double charge please refund the extra payment",
    "i cannot log in to my account the password reset email never arrives",
    "the app crashes every time i open the settings page",
    "how do i change the shipping address on my order",
    "error 500 when uploading a file larger than ten megabytes",
    "thanks for the quick reply the problem is solved now",
    "please cancel my subscription and confirm by email",
    "the export to csv is missing the last column",
] * 8


def teacher_distributions(args):
    tok = train_tokenizer(TEXTS, vocab_size=args.vocab)
    teacher = build_gpt2(tok, n_layer=2, n_embd=64, n_head=2, seed=123).eval()
    g = torch.Generator().manual_seed(7)
    n = args.train + args.heldout
    ids = torch.zeros((n, args.length), dtype=torch.long)
    ids[:, 0] = torch.randint(0, len(tok), (n,), generator=g)
    with torch.no_grad():
        raw = None
        for t in range(1, args.length):
            raw = teacher(ids[:, :t]).logits[:, -1]
            if t == 1:
                scale = _scale_for_entropy(raw, args.entropy)
            ids[:, t] = torch.multinomial(torch.softmax(raw * scale, -1), 1, generator=g)[:, 0]
        logits = teacher(ids).logits[:, :-1] * scale
    logp = torch.log_softmax(logits.double(), -1)
    return tok, ids, logp  # logp[i, t] predicts ids[i, t + 1]


def _scale_for_entropy(logits, target):
    lo, hi = 0.1, 1000.0
    for _ in range(60):
        mid = (lo * hi) ** 0.5
        p = torch.softmax(logits * mid, -1)
        h = float(-(p * torch.log(p.clamp_min(1e-30))).sum(-1).mean())
        lo, hi = (mid, hi) if h > target else (lo, mid)
    return (lo * hi) ** 0.5


def store(kind, logp, ids, root, k, m, rng):
    """Write one shard of ``kind`` for all sequences; return (targets read back, bytes per token)."""
    writer = ShardWriter(root, kind, format="v1" if kind == "float" else "v2")
    for i in range(logp.shape[0]):
        lp = logp[i].numpy()
        top = np.argsort(-lp, axis=1)[:, :k]
        vals = np.take_along_axis(lp, top, 1)
        kw = {}
        if kind == "sampled":
            sid, logw = sample_targets(lp, m, rng)
            top, vals, kw = top[:, :0], vals[:, :0], {"sample_ids": sid, "sample_logw": logw}
        writer.add(
            f"s{i}",
            SoftTargets(
                token_ids=ids[i, 1:].numpy(),
                topk_ids=top,
                topk_logprobs=vals,
                tail_logprob=tail_logprob_from_topk(vals) if vals.shape[1] else np.zeros(len(top)),
                **kw,
            ),
        )
    pointers = writer.flush()
    shard = root / next(iter(pointers.values())).split("#")[0]
    positions = logp.shape[0] * logp.shape[1]
    return [read_soft_targets(root, pointers[f"s{i}"]) for i in range(logp.shape[0])], shard.stat().st_size / positions


def reconstruction_kl(logp, stored, k):
    kls = []
    for i, st in enumerate(stored):
        lp = logp[i].numpy()
        top = np.sort(lp, axis=1)[:, ::-1][:, :k]
        exact = np.concatenate([top, tail_logprob_from_topk(top)[:, None].astype(np.float64)], 1)
        got = np.concatenate([st.topk_logprobs, st.tail_logprob[:, None]], 1).astype(np.float64)
        exact -= np.logaddexp.reduce(exact, axis=1, keepdims=True)
        got -= np.logaddexp.reduce(got, axis=1, keepdims=True)
        kls.append((np.exp(exact) * (exact - got)).sum(1))
    return float(np.mean(np.concatenate(kls)))


def train_student(kind, tok, ids, logp, stored, args, seed):
    student = build_gpt2(tok, n_layer=1, n_embd=48, n_head=2, seed=1000 + seed)
    opt = torch.optim.AdamW(student.parameters(), lr=args.lr)
    g = torch.Generator().manual_seed(seed)
    train = list(range(args.train))
    for _ in range(args.steps):
        batch = torch.randperm(len(train), generator=g)[: args.batch].tolist()
        logits = student(ids[batch]).logits[:, :-1].reshape(-1, len(tok))
        targets = ids[batch][:, 1:].reshape(-1)
        if kind == "dense":
            loss = dense_kd_loss(logits, logp[batch].reshape(-1, len(tok)).float(), targets, alpha=1.0).loss
        elif kind == "sampled":
            sid = torch.cat([torch.from_numpy(stored[b].sample_ids).long() for b in batch])
            lw = torch.cat([torch.from_numpy(stored[b].sample_logw) for b in batch])
            loss = sampled_kd_loss(logits, targets, sid, lw, alpha=1.0).loss
        else:
            tid = torch.cat([torch.from_numpy(stored[b].topk_ids).long() for b in batch])
            tlp = torch.cat([torch.from_numpy(stored[b].topk_logprobs.astype(np.float32)) for b in batch])
            tail = torch.cat([torch.from_numpy(stored[b].tail_logprob) for b in batch])
            loss = topk_kd_loss(logits, targets, tid, tlp, tail, alpha=1.0).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    held = list(range(args.train, args.train + args.heldout))
    with torch.no_grad():
        s = torch.log_softmax(student(ids[held]).logits[:, :-1].double(), -1)
        t = logp[held]
        kl = (t.exp() * (t - s)).sum(-1).mean(-1)  # per held-out sequence
    return kl.numpy()


def interval(a, b=None):
    a = np.asarray(a)
    iv = paired_bootstrap(a, np.zeros_like(a) if b is None else np.asarray(b), n_resamples=2000)
    return {"mean": round(iv.estimate, 5), "ci95": [round(iv.low, 5), round(iv.high, 5)], "n": iv.n, "seeds": iv.seeds}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--vocab", type=int, default=2000)
    ap.add_argument("--entropy", type=float, default=2.5)
    ap.add_argument("--length", type=int, default=32)
    ap.add_argument("--train", type=int, default=64)
    ap.add_argument("--heldout", type=int, default=32)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    if args.smoke:
        args.train, args.heldout, args.steps, args.length, args.seeds = 8, 4, 3, 12, 2
    torch.set_num_threads(1)
    tok, ids, logp = teacher_distributions(args)
    train_lp = logp[: args.train]
    stored, bpt, recon = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for kind in ("float", "compact"):
            stored[kind], bpt[kind] = store(kind, train_lp, ids[: args.train], root, args.k, 0, None)
            recon[kind] = reconstruction_kl(train_lp, stored[kind], args.k)
        # Sampled at equal bytes: each draw costs an id and a float16 weight.
        m = max(1, int((bpt["compact"] - 2) // (2 + 2)))
        rng = np.random.default_rng(0)
        stored["sampled"], bpt["sampled"] = store("sampled", train_lp, ids[: args.train], root, args.k, m, rng)
    entropy = float(-(logp.exp() * logp).sum(-1).mean())
    print(f"teacher: mean entropy {entropy:.2f} nats, vocabulary {len(tok)}, k = {args.k}, sampled m = {m}")
    for kind in ("float", "compact", "sampled"):
        r = f"{recon[kind]:.2e}" if kind in recon else "n/a"
        print(f"{kind:>8}: {bpt[kind]:6.1f} bytes/token, reconstruction KL {r}")
    quality = {}
    for kind in ("dense", "float", "compact", "sampled"):
        quality[kind] = np.stack(
            [train_student(kind, tok, ids, logp, stored.get(kind), args, seed) for seed in range(args.seeds)]
        )
        q = interval(quality[kind])
        print(f"{kind:>8} student: held-out KL {q['mean']:.4f} [{q['ci95'][0]:.4f}, {q['ci95'][1]:.4f}]")
    float_q = interval(quality["float"])
    compact_delta = interval(quality["compact"], quality["float"])
    sampled_delta = interval(quality["sampled"], quality["float"])
    half_width = (float_q["ci95"][1] - float_q["ci95"][0]) / 2
    out = {
        "k": args.k,
        "vocab": len(tok),
        "teacher_entropy_nats": round(entropy, 3),
        "steps": args.steps,
        "seeds": args.seeds,
        "heldout_sequences": args.heldout,
        "sampled_draws": m,
        "bytes_per_token": {k: round(v, 1) for k, v in bpt.items()},
        "reconstruction_kl": {k: float(f"{v:.3e}") for k, v in recon.items()},
        "heldout_kl": {k: interval(v) for k, v in quality.items()},
        "float_bytes_per_token": round(bpt["float"], 1),
        "compact_bytes_per_token": round(bpt["compact"], 1),
        "compact_bytes_target_met": bpt["compact"] <= 60,
        "compact_quality_delta": compact_delta,
        "compact_within_float_interval": abs(compact_delta["mean"]) <= half_width,
        "sampled_vs_topk_quality": sampled_delta,
        "quality_metric": "held-out KL(teacher || student) per token, lower is better; deltas are kind - float",
        "note": "synthetic teacher (scaled random GPT-2); machine shared with other jobs (2 cores)",
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()

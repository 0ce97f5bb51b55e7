"""bench/distill.py's throughput half: one mode's training speed and memory, measured in a fresh
subprocess (``bench/distill.py --measure offline|online``) so each mode's peak RSS is its own."""

from __future__ import annotations

import pickle
import random
import resource
import time
from pathlib import Path

import torch

from workers.distill.data import collate_generation, move, prepare_generation, response_logits
from workers.distill.losses import dense_kd_loss, topk_kd_loss


def measure(mode: str, workdir: Path, steps: int, batch_size: int) -> dict:
    """Runs inside a fresh subprocess: train the student ``steps`` steps in ``mode``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    baseline_mb = current_rss_mb()
    tok = AutoTokenizer.from_pretrained(workdir / "student-0")
    student = AutoModelForCausalLM.from_pretrained(workdir / "student-0")
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

"""The demo student: a fresh, much smaller GPT-2 sharing the demo teacher's tokenizer.

Sharing the tokenizer is what makes token-level distillation possible (the
teacher's top-k soft targets index the student's vocabulary). The student is sized
to answer at least five times faster than the teacher on CPU; ``build_demo_student``
measures that (median batch-1 forward pass over a typical triage prompt) and
records it in ``demo_student.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from workers.demo.corpus import generate_tickets, triage_prompt
from workers.demo.evaluation import forward_latency_ms, load
from workers.demo.teacher import cpu_threads
from workers.modelbuild import build_gpt2, parameter_count, save

INFO_FILE = "demo_student.json"
# 1 layer x 64: measured with bench/demo.py against the 4 x 192 teacher, batch-1 label
# scoring is ~5-7x faster than the teacher's (1 x 96 was ~4.4-5.3x: at this size the
# fixed per-forward cost dominates), and after distillation it matched the teacher's
# gold accuracy (93% vs 91%; 1 x 96: 90.5%).
STUDENT_ARCH = {"n_layer": 1, "n_head": 2, "n_embd": 64}


def build_demo_student(
    teacher_dir: str | Path,
    out_dir: str | Path,
    *,
    n_layer: int = STUDENT_ARCH["n_layer"],
    n_head: int = STUDENT_ARCH["n_head"],
    n_embd: int = STUDENT_ARCH["n_embd"],
    seed: int = 1,
    latency_runs: int = 50,
) -> dict:
    """Save a randomly initialised student next to the teacher's tokenizer; return its info.

    The info holds both models' sizes and median forward latencies and
    ``latency_ratio`` (teacher / student).
    """
    teacher, tokenizer = load(teacher_dir)
    student = build_gpt2(
        tokenizer, n_layer=n_layer, n_head=n_head, n_embd=n_embd, n_positions=teacher.config.n_positions, seed=seed
    )
    student.eval()
    torch.set_num_threads(cpu_threads())
    prompt = triage_prompt(generate_tickets(1, seed=0, split="gold")[0].text)
    teacher_ms = forward_latency_ms(teacher, tokenizer, prompt, runs=latency_runs)
    student_ms = forward_latency_ms(student, tokenizer, prompt, runs=latency_runs)
    out = save(student, tokenizer, out_dir)
    info = {
        "teacher_dir": str(Path(teacher_dir).resolve()),
        "architecture": {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd},
        "parameters": parameter_count(student),
        "teacher_parameters": parameter_count(teacher),
        "teacher_latency_ms": round(teacher_ms, 3),
        "student_latency_ms": round(student_ms, 3),
        "latency_ratio": round(teacher_ms / student_ms, 2),
        "latency_prompt_tokens": len(tokenizer(prompt, add_special_tokens=False)["input_ids"]),
        "latency_runs": latency_runs,
        "threads": torch.get_num_threads(),
    }
    (out / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return info

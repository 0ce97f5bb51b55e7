"""The demo student: a fresh, much smaller GPT-2 sharing the demo teacher's tokenizer.

Its token and position embeddings start as the teacher's, projected to its width (the
teacher's principal directions): the student then starts knowing which words the teacher
treats alike, which it could not learn from the pool's tickets alone.

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
from workers.demo.teacher import cpu_threads, num_threads
from workers.modelbuild import build_gpt2, init_embeddings_from_teacher, parameter_count, save

INFO_FILE = "demo_student.json"
# 1 layer x 64: measured with bench/demo.py against the 4 x 192 teacher, batch-1 label
# scoring is ~5-7x faster than the teacher's (1 x 96 was ~4.4-5.3x: at this size the
# fixed per-forward cost dominates).
STUDENT_ARCH = {"n_layer": 1, "n_head": 2, "n_embd": 64}
# How the student starts: "teacher" projects the teacher's token and position embeddings to the
# student's width (workers.modelbuild.init_embeddings_from_teacher), "random" is GPT-2's init.
# Chosen on validation tickets, never on gold (README, "The demo student's recipe").
STUDENT_INIT = "teacher"
STUDENT_INITS = ("teacher", "random")


def build_demo_student(
    teacher_dir: str | Path,
    out_dir: str | Path,
    *,
    n_layer: int = STUDENT_ARCH["n_layer"],
    n_head: int = STUDENT_ARCH["n_head"],
    n_embd: int = STUDENT_ARCH["n_embd"],
    seed: int = 1,
    init: str = STUDENT_INIT,
    latency_runs: int = 50,
    dropout: float = 0.0,
) -> dict:
    """Save a fresh student next to the teacher's tokenizer; return its info.

    Its blocks start at random; its embeddings start from the teacher's (``init="teacher"``)
    or at random too (``init="random"``).

    The info holds both models' sizes and median forward latencies and
    ``latency_ratio`` (teacher / student), and how the weights started (``init``).
    """
    teacher, tokenizer = load(teacher_dir)
    student = build_gpt2(
        tokenizer,
        n_layer=n_layer,
        n_head=n_head,
        n_embd=n_embd,
        n_positions=teacher.config.n_positions,
        seed=seed,
        dropout=dropout,
    )
    if init not in STUDENT_INITS:
        raise ValueError(f"init is one of {', '.join(STUDENT_INITS)}, got {init!r}")
    started = init_embeddings_from_teacher(student, teacher) if init == "teacher" else {"from": "random"}
    student.eval()
    # Timed on every core; the caller's setting back after (two trainings on two cores stay one each).
    with num_threads(cpu_threads()):
        prompt = triage_prompt(generate_tickets(1, seed=0, split="gold")[0].text)
        teacher_ms = forward_latency_ms(teacher, tokenizer, prompt, runs=latency_runs)
        student_ms = forward_latency_ms(student, tokenizer, prompt, runs=latency_runs)
        threads = torch.get_num_threads()
    out = save(student, tokenizer, out_dir)
    info = {
        "teacher_dir": str(Path(teacher_dir).resolve()),
        "architecture": {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd},
        "init": started,
        "parameters": parameter_count(student),
        "teacher_parameters": parameter_count(teacher),
        "teacher_latency_ms": round(teacher_ms, 3),
        "student_latency_ms": round(student_ms, 3),
        "latency_ratio": round(teacher_ms / student_ms, 2),
        "latency_prompt_tokens": len(tokenizer(prompt, add_special_tokens=False)["input_ids"]),
        "latency_runs": latency_runs,
        "threads": threads,
    }
    (out / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return info

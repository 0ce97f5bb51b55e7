"""The launcher (``python -m workers.distill run``) on one process and under ``accelerate launch``
with two CPU processes (gloo): the same steps and samples, final losses within a stated
tolerance, only rank 0 writes, and a stopped run resumes from its checkpoint in both.

accelerate 1.15 starts a single process for ``--cpu --num_processes 2`` (its multi-CPU
launcher is MPI's ``mpirun``); ``--multi_gpu --num_processes 2`` starts two through torchrun,
and the recipe, seeing no CUDA, runs them on the CPU over gloo (``run.json`` records it).
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.workers.test_distill_recipe import make_generation_records
from workers.distill import data as D
from workers.distill.losses import topk_kd_loss
from workers.distill.runfile import load_run_config, read_records, write_run_dir

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Two processes average per-rank mean losses where one process takes one mean over all
# tokens, and sum gradients in another order: the students differ by float noise only.
LOSS_TOLERANCE = 0.02


def free_port() -> int:
    """A port for the rendezvous, free now (xdist may run two launches at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(config: Path, out: Path, processes: int, *extra: str) -> subprocess.CompletedProcess:
    args = ["run", str(config), "--output-dir", str(out), *extra]
    if processes == 1:
        cmd = [sys.executable, "-m", "workers.distill", *args]
    else:
        cmd = [
            str(BIN / "accelerate"),
            "launch",
            "--multi_gpu",
            "--num_processes",
            str(processes),
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            str(free_port()),
            "-m",
            "workers.distill",
            *args,
        ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def run_config(tiny_model_dir, tiny_student_dir, tmp_path_factory):
    records = make_generation_records(tiny_model_dir)
    config = {
        "student": str(tiny_student_dir),
        "teacher_tokenizer": str(tiny_model_dir),
        "output_dir": "out",
        "batch_size": 4,
        "seed": 3,
        "progress_every_s": 0,
        "checkpoint_every": 2,
        "stages": [
            {"name": "easy", "steps": 4, "lr": 1e-3, "gate": {"metric": "val_kd_loss", "threshold": 100.0}},
            {"name": "hard", "steps": 4, "lr": 1e-3, "replay_fraction": 0.5},
        ],
    }
    return write_run_dir(tmp_path_factory.mktemp("run"), config, [(records, records[:4]), (records, None)], job=7)


def outputs(out: Path) -> dict:
    run = json.loads((out / "run.json").read_text())
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    ends_file = out / "stage_ends.jsonl"
    ends = [json.loads(line) for line in ends_file.read_text().splitlines()] if ends_file.exists() else []
    return {"run": run, "metrics": metrics, "ends": ends}


def final_loss(model_dir: str, config_path: Path) -> float:
    """The final student's KD + CE loss over every training record, in this process."""
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    records = read_records(config_path.parent, "records/00-train.jsonl")
    examples = D.prepare_generation(records, tok, max_seq_len=512, use_soft=True, where="test")
    batch = D.collate_generation(examples, tok.pad_token_id or tok.eos_token_id)
    with torch.no_grad():
        logits = D.response_logits(model, batch)
        parts = topk_kd_loss(
            logits, batch["target_ids"], batch["topk_ids"], batch["topk_logprobs"], batch["tail_logprob"]
        )
    return parts.loss.item()


def steps_by_stage(metrics: list[dict]) -> dict:
    out = {}
    for m in metrics:
        out.setdefault(m["stage"], []).append(m["step"])
    return out


def test_one_and_two_processes_agree(run_config, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for out, n in ((one, 1), (two, 2)):
        done = launch(run_config, out, n)
        assert done.returncode == 0, done.stderr[-3000:]
    a, b = outputs(one), outputs(two)
    assert a["run"]["num_processes"] == 1
    assert b["run"]["num_processes"] == 2 and b["run"]["backend"] == "gloo"
    assert b["run"]["batch_size_per_process"] == 2 and a["run"]["batch_size_per_process"] == 4
    # Same optimizer steps, same samples seen (draws per tier and per stage).
    assert steps_by_stage(a["metrics"]) == steps_by_stage(b["metrics"]) == {"easy": [1, 2, 3, 4], "hard": [1, 2, 3, 4]}
    assert a["run"]["result"]["plan"] == b["run"]["result"]["plan"]
    assert a["run"]["result"]["visits"] == b["run"]["result"]["visits"] == {"easy": 32}
    # The gate reads the whole validation set on every process: the same number up to noise.
    gate_a, gate_b = a["ends"][0]["gate"]["value"], b["ends"][0]["gate"]["value"]
    assert abs(gate_a - gate_b) <= LOSS_TOLERANCE * abs(gate_a)
    loss_a = final_loss(a["run"]["result"]["final_model_dir"], run_config)
    loss_b = final_loss(b["run"]["result"]["final_model_dir"], run_config)
    assert abs(loss_a - loss_b) <= LOSS_TOLERANCE * loss_a, (loss_a, loss_b)
    # Only rank 0 writes: one line per step (no second rank's copy), the same files.
    assert len(b["metrics"]) == 8 and len(b["ends"]) == 2
    files = lambda d: sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())  # noqa: E731
    assert files(one) == files(two)


@pytest.mark.parametrize("processes", [1, 2])
def test_a_stopped_run_resumes_from_its_checkpoint(run_config, tmp_path, processes):
    whole, sliced = tmp_path / "whole", tmp_path / "sliced"
    assert launch(run_config, whole, processes).returncode == 0
    first = launch(run_config, sliced, processes, "--stop-after-steps", "3")
    assert first.returncode == 0, first.stderr[-3000:]
    stopped = outputs(sliced)["run"]["result"]
    assert stopped["status"] == "stopped" and stopped["stage_index"] == 0 and stopped["step"] == 3
    second = launch(run_config, sliced, processes)
    assert second.returncode == 0, second.stderr[-3000:]
    resumed, full = outputs(sliced), outputs(whole)
    events = [h["event"] for h in resumed["run"]["result"]["history"]]
    assert "resumed" in events
    assert resumed["run"]["result"]["visits"] == full["run"]["result"]["visits"]
    # Steps 1-3 of the first stage in the first launch (checkpointed at the stop), the rest in the second.
    assert steps_by_stage(resumed["metrics"]) == {"easy": [1, 2, 3, 4], "hard": [1, 2, 3, 4]}
    loss_whole = final_loss(full["run"]["result"]["final_model_dir"], run_config)
    loss_sliced = final_loss(resumed["run"]["result"]["final_model_dir"], run_config)
    assert abs(loss_whole - loss_sliced) <= LOSS_TOLERANCE * loss_whole


def test_it_refuses_a_batch_that_does_not_split(run_config):
    from workers.distill import DistillError

    with pytest.raises(DistillError, match="does not split over 3 processes"):
        load_run_config(run_config, num_processes=3)

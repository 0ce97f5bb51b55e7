"""The staged trainer end to end on CPU with tiny local models."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from workers.distill import (
    DistillConfig,
    DistillError,
    GateConfig,
    StageConfig,
    load_card,
    pack_archive,
    run_distillation,
)
from workers.distill.checkpoint import CheckpointStore
from workers.prompting import render_prompt

pytestmark = pytest.mark.slow  # trains tiny students

TICKETS = [
    ("refund request", "billing"),
    ("cannot sign in", "account"),
    ("page does not load", "technical"),
    ("charged twice", "billing"),
    ("password reset email", "account"),
    ("error 500 on upload", "technical"),
]
LABELS = ["billing", "account", "technical"]
ROOT = Path(__file__).resolve().parents[2]


def soft_targets(teacher, tok, prompt, response, k=8):
    """What the teacher engine stores: top-k log-probs over the response, tail mass."""
    p = tok(render_prompt(tok, prompt), add_special_tokens=False).input_ids
    r = tok(response, add_special_tokens=False).input_ids + [tok.eos_token_id]
    with torch.no_grad():
        logits = teacher(torch.tensor([p + r])).logits[0, len(p) - 1 : -1]
    logp = torch.log_softmax(logits, -1)
    vals, ids = logp.topk(k)
    tail = torch.log1p(-vals.exp().sum(-1).clamp(max=1 - 1e-6))
    return {
        "response_ids": r,
        "topk_ids": ids.int().numpy(),
        "topk_logprobs": vals.half().numpy(),
        "tail_logprob": tail.float().numpy(),
    }


def make_generation_records(teacher_dir, tier="easy", repeat=2):
    tok = AutoTokenizer.from_pretrained(teacher_dir)
    teacher = AutoModelForCausalLM.from_pretrained(teacher_dir)
    out = []
    for text, label in TICKETS * repeat:
        prompt = f"Ticket: {text}\nCategory:"
        out.append(
            {
                "prompt": prompt,
                "response": f" {label}",
                "tier": tier,
                "soft": soft_targets(teacher, tok, prompt, f" {label}"),
            }
        )
    return out


def gen_config(student, out, records, *, gates=(None, None), steps=(4, 4), **kw):
    stages = []
    for i, (gate, n) in enumerate(zip(gates, steps)):
        stages.append(
            StageConfig(
                name=f"s{i}",
                records=records,
                val_records=records[:4],
                steps=n,
                lr=1e-3,
                temperature=2.0 if i else 1.0,
                replay_fraction=0.5 if i else 0.0,
                gate=gate,
            )
        )
    return DistillConfig(
        student=str(student), output_dir=str(out), stages=stages, batch_size=4, progress_every_s=0, **kw
    )


@pytest.fixture(scope="module")
def records(tiny_model_dir):
    return make_generation_records(tiny_model_dir)


def test_it_trains_two_stages_whose_gates_pass(tiny_model_dir, tiny_student_dir, records, tmp_path):
    progress, ends = [], []
    cfg = gen_config(
        tiny_student_dir,
        tmp_path,
        records,
        teacher_tokenizer=tiny_model_dir,
        gates=(GateConfig("teacher_agreement", 0.0), GateConfig("val_kd_loss", 100.0)),
    )
    result = run_distillation(cfg, on_progress=progress.append, on_stage_end=ends.append)
    assert result.status == "completed" and result.kd_mode == "token"
    assert [e["outcome"] for e in ends] == ["passed", "passed"]
    assert ends[1]["gate"]["metric"] == "val_kd_loss" and ends[1]["gate"]["value"] < 100.0
    keys = {"stage", "stage_index", "step", "total_steps", "loss", "kd_loss", "ce_loss", "lr", "tokens_per_s", "eta_s"}
    assert keys <= set(progress[0]) and progress[-1]["stage"] == "s1" and progress[-1]["step"] == 4
    assert progress[0]["kd_loss"] > 0
    for path in [e["model_dir"] for e in ends] + [result.final_model_dir]:
        model = AutoModelForCausalLM.from_pretrained(path)
        assert model.num_parameters() > 0
        assert load_card(path)["config"]["stages"][0]["name"] == "s0"
    archive = pack_archive(result.final_model_dir, tmp_path / "student.tar.gz")
    import tarfile

    assert "final/model_card.json" in tarfile.open(archive).getnames()


def test_the_final_student_differs_from_the_initial_one(tiny_model_dir, tiny_student_dir, records, tmp_path):
    result = run_distillation(gen_config(tiny_student_dir, tmp_path, records, teacher_tokenizer=tiny_model_dir))
    before = AutoModelForCausalLM.from_pretrained(tiny_student_dir).state_dict()
    after = AutoModelForCausalLM.from_pretrained(result.final_model_dir).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_a_failing_gate_waits_and_resumes_with_a_lowered_threshold(tiny_model_dir, tiny_student_dir, records, tmp_path):
    progress = []
    cfg = gen_config(
        tiny_student_dir,
        tmp_path,
        records,
        teacher_tokenizer=tiny_model_dir,
        gates=(GateConfig("val_kd_loss", 1e-9, patience=1), None),
    )
    result = run_distillation(cfg, on_progress=progress.append)
    assert result.status == "gated"
    assert result.gate["metric"] == "val_kd_loss" and result.gate["value"] > 1e-9 and not result.gate["passed"]
    assert any(p["phase"] == "patience-1" for p in progress)
    assert not (tmp_path / "final").exists()
    again = run_distillation(cfg)
    assert again.status == "gated"
    progress.clear()
    done = run_distillation(cfg, gate_override={"threshold": 10.0, "by": "alice"}, on_progress=progress.append)
    assert done.status == "completed"
    assert {p["stage"] for p in progress} == {"s1"}
    override = [h for h in done.history if h["event"] == "gate_override"]
    assert override and override[0]["threshold"] == 10.0 and override[0]["by"] == "alice"
    assert done.stages[0]["gate"]["threshold"] == 10.0 and done.stages[0]["gate"]["passed"]


def test_it_falls_back_to_sequence_level_kd_when_tokenizers_differ(tiny_model_dir, records, tmp_path):
    from tests.tinymodels import build_tiny_model

    other = build_tiny_model(tmp_path / "other-student", n_layer=1, n_embd=32, vocab_size=300, seed=2)
    warnings = []
    cfg = gen_config(
        other,
        tmp_path / "out",
        records,
        teacher_tokenizer=tiny_model_dir,
        gates=(GateConfig("val_kd_loss", 100.0), None),
    )
    result = run_distillation(cfg, on_warning=warnings.append)
    assert result.status == "completed" and result.kd_mode == "sequence"
    assert any("tokenizers differ" in w for w in warnings) and any("tokenizers differ" in w for w in result.warnings)
    assert load_card(result.final_model_dir)["kd_mode"] == "sequence"


def test_it_trains_a_classification_student(tiny_student_dir, tmp_path):
    recs = [
        {
            "prompt": f"Ticket: {t}\nCategory:",
            "label": y,
            "teacher_probs": [0.8 if label == y else 0.1 for label in LABELS],
            "tier": "easy",
        }
        for t, y in TICKETS * 2
    ]
    recs[0]["teacher_probs"] = None
    ends = []
    cfg = DistillConfig(
        student=str(tiny_student_dir),
        output_dir=str(tmp_path),
        task="classification",
        labels=LABELS,
        batch_size=4,
        progress_every_s=0,
        stages=[
            StageConfig(
                name="all",
                records=recs,
                val_records=recs,
                epochs=8,
                lr=1e-2,
                gate=GateConfig("accuracy", 0.5, patience=3),
            )
        ],
    )
    result = run_distillation(cfg, on_stage_end=ends.append)
    assert result.kd_mode == "label"
    gate = ends[-1]["gate"]
    assert set(gate["metrics"]) >= {"val_kd_loss", "teacher_agreement", "accuracy"}
    assert result.status == "completed", gate
    assert gate["value"] >= 0.5


def test_a_cancelled_job_stops_and_resumes(tiny_model_dir, tiny_student_dir, records, tmp_path):
    seen = []
    cfg = gen_config(tiny_student_dir, tmp_path, records, teacher_tokenizer=tiny_model_dir, steps=(6, 3))
    result = run_distillation(cfg, on_progress=seen.append, should_stop=lambda: len(seen) >= 3)
    assert result.status == "stopped" and result.stage_index == 0 and result.step == 3
    resumed = []
    assert run_distillation(cfg, on_progress=resumed.append).status == "completed"
    assert resumed[0]["stage"] == "s0" and resumed[0]["step"] == 4


def test_a_resumed_job_warns_about_a_changed_config(tiny_model_dir, tiny_student_dir, records, tmp_path):
    cfg = gen_config(
        tiny_student_dir,
        tmp_path,
        records,
        teacher_tokenizer=tiny_model_dir,
        gates=(GateConfig("val_kd_loss", 1e-9), None),
    )
    assert run_distillation(cfg).status == "gated"
    cfg.stages[1].lr = 5e-4
    warnings = []
    run_distillation(cfg, on_warning=warnings.append)
    assert any("config differs" in w and "lr" in w for w in warnings)


def test_it_refuses_bad_settings_with_clear_messages(tiny_student_dir, records, tmp_path):
    with pytest.raises(DistillError, match="fp16"):
        gen_config(tiny_student_dir, tmp_path, records, mixed_precision="fp16")
    with pytest.raises(DistillError, match="divergence"):
        StageConfig(name="x", records=records, steps=1, divergence="hellinger")
    with pytest.raises(DistillError, match="exactly one of steps or epochs"):
        StageConfig(name="x", records=records)
    with pytest.raises(DistillError, match="no training records"):
        StageConfig(name="x", records=[], steps=1)
    with pytest.raises(DistillError, match="unknown config keys"):
        DistillConfig.from_dict({"student": "x", "output_dir": "y", "stages": [], "learning_rate": 1})


def test_a_refusal_names_the_setting_it_is_about(records, tmp_path):
    with pytest.raises(DistillError) as refused:
        StageConfig(name="x", records=records, steps=1, gate={"metric": "accuracy", "threshold": float("nan")})
    assert refused.value.field == "gate.threshold"
    stage = {"name": "x", "records": records, "steps": 1}
    with pytest.raises(DistillError) as refused:
        DistillConfig(student="s", output_dir=str(tmp_path), stages=[stage, {**stage, "alpha": 2.0}])
    assert refused.value.field == "stages.1.alpha" and "alpha must be between 0 and 1" in str(refused.value)
    with pytest.raises(DistillError) as refused:
        DistillConfig(student="s", output_dir=str(tmp_path), stages=[stage, stage])
    assert refused.value.field == "stages.1.name"
    with pytest.raises(DistillError) as refused:
        DistillConfig(student="s", output_dir=str(tmp_path), stages=[stage], batch_size=0)
    assert refused.value.field == "batch_size"


def test_it_reports_a_missing_snapshot(tiny_student_dir, tmp_path):
    def missing():
        raise FileNotFoundError("snapshot abc123 not found")

    cfg = DistillConfig(
        student=str(tiny_student_dir),
        output_dir=str(tmp_path),
        stages=[StageConfig(name="a", records=missing, steps=1)],
    )
    with pytest.raises(DistillError, match=r"could not load records.*abc123"):
        run_distillation(cfg)


def test_a_nan_loss_ends_the_job_with_a_clear_message(tiny_model_dir, tiny_student_dir, records, tmp_path):
    bad = [
        dict(r, soft=dict(r["soft"], topk_logprobs=np.full_like(r["soft"]["topk_logprobs"], np.nan))) for r in records
    ]
    cfg = gen_config(tiny_student_dir, tmp_path, bad, teacher_tokenizer=tiny_model_dir)
    with pytest.raises(DistillError, match="loss became nan"):
        run_distillation(cfg)


KILL_SCRIPT = """
import json, sys
from pathlib import Path
from tests.workers.test_distill_recipe import gen_config, make_generation_records
from workers.distill import run_distillation
teacher, student, out = sys.argv[1:4]
records = make_generation_records(teacher)
cfg = gen_config(student, out, records, teacher_tokenizer=teacher, steps=(3, 150), checkpoint_every=5)
log = open(Path(out) / "progress.jsonl", "a")
def progress(p):
    log.write(json.dumps({k: p[k] for k in ("stage_index", "phase", "step")}) + "\\n"); log.flush()
print(json.dumps(run_distillation(cfg, on_progress=progress).to_dict()["status"]))
"""


def test_a_killed_worker_resumes_from_its_checkpoint(tiny_model_dir, tiny_student_dir, tmp_path):
    args = [sys.executable, "-c", KILL_SCRIPT, str(tiny_model_dir), str(tiny_student_dir), str(tmp_path)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    store = CheckpointStore(tmp_path / "checkpoints")
    deadline = time.time() + 120
    while time.time() < deadline:
        state = store.read_state()
        if state and state["stage_index"] == 1 and state["step"] >= 10:
            break
        assert proc.poll() is None, "the job ended before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = store.read_state()
    assert killed_at["status"] == "running" and 0 < killed_at["step"] < 150
    before = (tmp_path / "progress.jsonl").read_text().splitlines()
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == "completed"
    after = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()[len(before) :]]
    assert all(p["stage_index"] == 1 for p in after), "a finished stage was trained again"
    assert after[0]["step"] == killed_at["step"] + 1
    assert after[-1]["step"] == 150
    assert store.read_state()["status"] == "completed"


def test_an_engineer_can_force_a_gate_after_extra_epochs(tiny_model_dir, tiny_student_dir, records, tmp_path):
    cfg = gen_config(
        tiny_student_dir,
        tmp_path,
        records,
        teacher_tokenizer=tiny_model_dir,
        gates=(GateConfig("teacher_agreement", 1.01), None),
        steps=(2, 2),
    )
    assert run_distillation(cfg).status == "gated"
    progress = []
    done = run_distillation(
        cfg, gate_override={"force": True, "extra_epochs": 1, "comment": "good enough"}, on_progress=progress.append
    )
    assert done.status == "completed"
    assert any(p["phase"] == "extra-1" and p["stage"] == "s0" for p in progress)
    gate = done.stages[0]["gate"]
    assert gate["forced"] and gate["passed"] and gate["value"] < 1.01

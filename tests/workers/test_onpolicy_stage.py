"""On-policy (GKD) stages end to end with the tiny local models: the student samples, the teacher scores."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from tests.workers.openai_server import TinyModelServer
from tests.workers.test_distill_recipe import make_generation_records
from workers.distill import DistillConfig, DistillError, StageConfig, run_distillation
from workers.distill.onpolicy import teacher_problem

pytestmark = pytest.mark.slow  # trains tiny students

ON_POLICY = {"fraction": 0.5, "temperature": 1.0, "max_new_tokens": 6, "beta": 0.5, "top_k": 8}


@pytest.fixture(scope="module")
def records(tiny_model_dir):
    return make_generation_records(tiny_model_dir)


def local_teacher(path):
    return {"backend": "transformers", "name_or_path": str(path)}


def config(student, out, records, teacher, *, on_policy=ON_POLICY, steps=(3, 4), **kw):
    stages = [
        StageConfig(name="offline", records=records, steps=steps[0], lr=1e-3),
        StageConfig(name="on-policy", records=records, steps=steps[1], lr=1e-3, on_policy=dict(on_policy)),
    ]
    return DistillConfig(
        student=str(student),
        output_dir=str(out),
        stages=stages,
        batch_size=4,
        progress_every_s=0,
        teacher=teacher,
        **kw,
    )


def test_a_two_stage_run_whose_second_stage_is_on_policy_completes_and_records_it(
    tiny_model_dir, tiny_student_dir, records, tmp_path
):
    progress = []
    cfg = config(tiny_student_dir, tmp_path, records, local_teacher(tiny_model_dir), teacher_tokenizer=tiny_model_dir)
    result = run_distillation(cfg, on_progress=progress.append)
    assert result.status == "completed" and result.kd_mode == "token"
    first, second = result.stages
    assert first["on_policy"] is None
    op = second["on_policy"]
    assert op["batches"] >= 1 and op["samples"] >= 4 and op["scored"] >= 1
    assert op["batches"] + op["fallbacks"] < 4  # fraction 0.5 of 4 micro-batches: some stay off-policy
    assert op["mean_jsd"] > 0 and op["mean_sample_tokens"] >= 1 and op["teacher_s"] > 0
    before = AutoModelForCausalLM.from_pretrained(tiny_student_dir).state_dict()
    after = AutoModelForCausalLM.from_pretrained(result.final_model_dir).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_an_all_on_policy_stage_trains_only_on_samples(tiny_model_dir, tiny_student_dir, records, tmp_path):
    cfg = config(
        tiny_student_dir,
        tmp_path,
        records,
        local_teacher(tiny_model_dir),
        teacher_tokenizer=tiny_model_dir,
        on_policy={**ON_POLICY, "fraction": 1.0, "beta": 0.0},
        steps=(1, 2),
    )
    op = run_distillation(cfg).stages[1]["on_policy"]
    assert op["batches"] + op["fallbacks"] == 2 and op["samples"] == 8


def test_an_on_policy_stage_resumes_from_its_checkpoint_with_the_same_samples(
    tiny_model_dir, tiny_student_dir, records, tmp_path
):
    teacher = local_teacher(tiny_model_dir)
    whole = run_distillation(
        config(tiny_student_dir, tmp_path / "whole", records, teacher, teacher_tokenizer=tiny_model_dir)
    )
    seen = []
    cfg = config(
        tiny_student_dir, tmp_path / "cut", records, teacher, teacher_tokenizer=tiny_model_dir, checkpoint_every=1
    )
    # Stop inside the on-policy stage (3 offline steps, then 2 of its 4), then run the job again.
    stopped = run_distillation(cfg, on_progress=seen.append, should_stop=lambda: len(seen) >= 5)
    assert stopped.status == "stopped" and stopped.stage_index == 1 and stopped.step == 2
    resumed = run_distillation(cfg)
    assert resumed.status == "completed"
    assert any(h["event"] == "resumed" for h in resumed.history)
    assert resumed.stages[1]["on_policy"]["samples"] == whole.stages[1]["on_policy"]["samples"]
    assert resumed.stages[1]["on_policy"]["batches"] == whole.stages[1]["on_policy"]["batches"]
    a = AutoModelForCausalLM.from_pretrained(whole.final_model_dir).state_dict()
    b = AutoModelForCausalLM.from_pretrained(resumed.final_model_dir).state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_it_refuses_an_on_policy_stage_without_a_shared_tokenizer(tiny_model_dir, tiny_student_dir, records, tmp_path):
    cfg = config(tiny_student_dir, tmp_path, records, local_teacher(tiny_model_dir), teacher_tokenizer=None)
    with pytest.raises(DistillError, match="share a tokenizer") as exc:
        run_distillation(cfg)
    assert exc.value.field == "stages.1.on_policy"


def test_it_refuses_on_policy_for_classification_and_without_a_teacher(tiny_student_dir, records, tmp_path):
    with pytest.raises(DistillError, match="classification") as exc:
        config(
            tiny_student_dir, tmp_path, records, {"backend": "transformers"}, task="classification", labels=["a", "b"]
        )
    assert exc.value.field == "stages.1.on_policy"
    with pytest.raises(DistillError, match="teacher's spec") as exc:
        config(tiny_student_dir, tmp_path, records, None)
    assert exc.value.field == "teacher"
    with pytest.raises(DistillError, match="beta") as exc:
        config(tiny_student_dir, tmp_path, records, {"backend": "transformers"}, on_policy={**ON_POLICY, "beta": 2})
    assert exc.value.field == "on_policy.beta"  # the stage adds its "stages.<i>." when built from a dict


def test_a_server_teacher_scores_the_samples_and_its_loss_fails_the_job_clearly(
    tiny_model_dir, tiny_student_dir, records, tmp_path
):
    with TinyModelServer(tiny_model_dir) as server:
        teacher = {"backend": "openai", "base_url": server.url, "tokenizer": str(tiny_model_dir), "max_retries": 0}
        assert teacher_problem(teacher) is None
        result = run_distillation(
            config(tiny_student_dir, tmp_path / "up", records, teacher, teacher_tokenizer=tiny_model_dir)
        )
        assert result.stages[1]["on_policy"]["batches"] >= 1
        assert any("prompt_logprobs" in body for body in server.requests)
    # The server is gone: the launch check says so, and a run that needs it fails naming the stage.
    assert "cannot reach" in teacher_problem(teacher)
    with pytest.raises(DistillError, match=r"stage 'on-policy' \(on-policy\), step \d+: the teacher could not score"):
        run_distillation(
            config(tiny_student_dir, tmp_path / "down", records, teacher, teacher_tokenizer=tiny_model_dir)
        )


def test_the_launch_check_names_a_missing_local_teacher(tmp_path):
    assert "does not exist" in teacher_problem({"backend": "transformers", "name_or_path": str(tmp_path / "nope")})

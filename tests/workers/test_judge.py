"""The judge: a grade from the judge model's probabilities over the rubric's grade tokens
(never parsed text), the same from a local model and from an OpenAI-compatible server,
and its agreement with reviewers."""

import math

import pytest
import torch

from tests.workers.openai_server import TinyModelServer
from workers import judge
from workers.prompting import render_prompt
from workers.teacher import load_teacher
from workers.teacher.hf import HFTeacher

GRADES = ["1", "2", "3", "4", "5"]
ITEMS = [
    {"prompt": "Ticket: refund request\nCategory:", "answer": "billing"},
    {"prompt": [{"role": "user", "content": "cannot sign in"}], "answer": "Reset your password. <b>x</b>"},
]


def test_the_grade_is_the_expectation_under_the_softmax_restricted_to_the_grade_tokens():
    lp = {"1": math.log(0.1), " 1": math.log(0.1), "2": math.log(0.3), "x": math.log(0.5)}
    out = judge.grade_distribution(lp, ["1", "2"])
    assert out.distribution == pytest.approx({"1": 0.4, "2": 0.6})
    assert out.expected == pytest.approx(1.6) and out.normalized == pytest.approx(0.6)
    missing = judge.grade_distribution({"x": 0.0, "hello": -1.0}, GRADES)
    assert missing.expected is None and "none of the grades" in missing.error


def test_a_rubric_needs_distinct_numeric_grades():
    assert judge.check_grades([" 1", "2"]) == ["1", "2"]
    for bad in (["1"], ["1", "1"], ["good", "bad"], ["1", "nan"]):
        with pytest.raises(ValueError):
            judge.check_grades(bad)


def hand_expected(model_dir, item):
    """The judge's expected grade computed straight from the model's logits."""
    teacher = HFTeacher(str(model_dir))
    tok, model = teacher.tokenizer, teacher.model
    text = judge.judge_prompt("Grade it.", GRADES, item["prompt"], item["answer"])
    ids = tok(render_prompt(tok, [{"role": "user", "content": text}]), add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([ids])).logits[0, -1].float(), -1)
    mass = dict.fromkeys(GRADES, 0.0)
    for i in range(lp.shape[0]):
        piece = tok.decode([i]).strip()
        if piece in mass:
            mass[piece] += math.exp(lp[i].item())
    total = sum(mass.values())
    return sum(float(g) * m / total for g, m in mass.items())


def test_a_local_judge_matches_a_hand_computation(tiny_model_dir):
    out = judge.judge(HFTeacher(str(tiny_model_dir)), ITEMS, "Grade it.", GRADES)
    for item, judged in zip(ITEMS, out):
        assert judged.error is None
        assert judged.expected == pytest.approx(hand_expected(tiny_model_dir, item), rel=1e-4)
        assert judged.normalized == pytest.approx((judged.expected - 1) / 4)
        assert sum(judged.distribution.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_a_judge_over_an_openai_compatible_server_reads_top_logprobs_like_the_local_one(tiny_model_dir, endpoint):
    local = judge.judge(HFTeacher(str(tiny_model_dir)), ITEMS, "Grade it.", GRADES)
    with TinyModelServer(tiny_model_dir) as server:
        remote = load_teacher(
            {"backend": "openai", "base_url": server.url, "model": "tiny", "tokenizer": str(tiny_model_dir),
             "endpoint": endpoint}
        )  # fmt: skip
        vocab = len(remote.tokenizer)
        # with every token in the top-k the server's answer is the local one
        wide = judge.judge(remote, ITEMS, "Grade it.", GRADES, top_k=vocab)
        narrow = judge.judge(remote, ITEMS, "Grade it.", GRADES, top_k=1)
        asked = [r for r in server.requests if r.get("max_tokens") == 1]
    for a, b in zip(local, wide):
        assert b.error is None and b.expected == pytest.approx(a.expected, abs=1e-4)
    key = "logprobs" if endpoint == "completions" else "top_logprobs"
    assert {r[key] for r in asked if key in r} >= {vocab, 1}
    # a server shows only its top-k: with k = 1 a grade is there or the item has no score, never a guess
    for n in narrow:
        assert (
            n.error is None and max(n.distribution.values()) == pytest.approx(1.0)
        ) or "none of the grades" in n.error


def test_agreement_is_spearman_and_quadratic_kappa_with_n_and_a_trust_threshold():
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score

    human = [1, 2, 3, 4, 5] * 5
    close = [h + 0.2 for h in human]
    out = judge.agreement(close, human, GRADES)
    assert out["n"] == 25 and out["spearman"] == pytest.approx(1.0)
    assert out["weighted_kappa"] == pytest.approx(1.0) and out["trustworthy"] is True
    noisy = [5, 1, 4, 2, 3] * 5
    out = judge.agreement(noisy, human, GRADES)
    assert out["spearman"] == pytest.approx(spearmanr(noisy, human).statistic)
    assert out["weighted_kappa"] == pytest.approx(cohen_kappa_score(human, noisy, weights="quadratic"))
    assert out["trustworthy"] is False and "kappa below" in out["reason"]
    few = judge.agreement(close[:5], human[:5], GRADES)
    assert few["trustworthy"] is False and "only 5 examples" in few["reason"]

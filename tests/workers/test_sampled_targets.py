"""Compact (v2) and sampled soft targets: the codec, the shard format, the unbiased loss."""

import numpy as np
import pytest
import torch

from workers.distill.losses import dense_kd_loss, sampled_kd_loss
from workers.softcodec import decode_topk, draw_targets, encode_topk, id_dtype, sample_targets
from workers.softtargets import ShardWriter, SoftTargets, read_soft_targets, tail_logprob_from_topk


def teacher(t=40, v=300, seed=0, sharp=3.0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(t, v)) * sharp
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def topk(logp, k=20):
    ids = np.argsort(-logp, axis=1)[:, :k]
    lps = np.take_along_axis(logp, ids, 1)
    return ids, lps, tail_logprob_from_topk(lps)


def bucket_kl(lps_a, tail_a, lps_b, tail_b):
    def buckets(lp, tail):
        b = np.concatenate([lp, tail[:, None]], 1).astype(np.float64)
        return b - np.logaddexp.reduce(b, axis=1, keepdims=True)

    a, b = buckets(lps_a, tail_a), buckets(lps_b, tail_b)
    return float((np.exp(a) * (a - b)).sum(1).mean())


def test_ids_take_the_narrowest_type():
    assert id_dtype(np.array([0, 255])) == np.uint8
    assert id_dtype(np.array([0, 256])) == np.uint16
    assert id_dtype(np.array([0, 70000])) == np.uint32
    assert id_dtype(np.array([-1, 300])) == np.int16


@pytest.mark.parametrize("bits, limit", [(6, 2e-3), (8, 2e-4)])
def test_compact_log_probs_reconstruct_within_a_small_kl(bits, limit):
    _, lps, tail = topk(teacher())
    q, scale = encode_topk(lps, tail, bits)
    assert q.shape[1] == (20 * bits + 7) // 8 and scale.dtype == np.float16
    back, back_tail = decode_topk(q, scale, 20, bits)
    assert bucket_kl(lps, tail, back, back_tail) < limit
    assert np.all(np.diff(back, axis=1) <= 1e-6)  # still sorted, most likely first


def test_corrupt_top_k_log_probs_decode_to_nan_and_a_nan_tail_stays_an_empty_tail():
    lp = np.array([[np.nan, -2.0], [-0.1, -3.0]])
    tops, tails = decode_topk(*encode_topk(lp, np.array([-1.0, np.nan])), k=2, bits=6)
    assert np.isnan(tops[0]).all() and np.isfinite(tops[1]).all() and tails[1] <= -19.0


def test_v2_shards_are_smaller_and_v1_shards_stay_readable(tmp_path):
    logp = teacher(t=200, v=3000)
    ids, lps, tail = topk(logp)
    st = SoftTargets(token_ids=ids[:, 0], topk_ids=ids, topk_logprobs=lps, tail_logprob=tail)
    sizes = {}
    for fmt in ("v1", "v2"):
        writer = ShardWriter(tmp_path, f"p{fmt}", format=fmt)
        for i in range(5):
            writer.add(f"s{i}", st)
        pointers = writer.flush()
        got = read_soft_targets(tmp_path, pointers["s3"])
        assert np.array_equal(got.topk_ids, ids) and np.array_equal(got.token_ids, ids[:, 0])
        assert bucket_kl(lps, tail, got.topk_logprobs, got.tail_logprob) < 2e-3
        sizes[fmt] = (tmp_path / pointers["s3"].split("#")[0]).stat().st_size / (5 * 200)
    assert sizes["v2"] <= 60 and sizes["v1"] > 2 * sizes["v2"]


def test_sampled_targets_round_trip_through_a_v2_shard(tmp_path):
    logp = teacher()
    sid, logw = sample_targets(logp, 12, np.random.default_rng(1))
    st = SoftTargets(
        token_ids=sid[:, 0],
        topk_ids=np.zeros((len(sid), 0)),
        topk_logprobs=np.zeros((len(sid), 0)),
        tail_logprob=np.zeros(len(sid)),
        sample_ids=sid,
        sample_logw=logw,
    )
    writer = ShardWriter(tmp_path, "s", format="v2")
    writer.add("a", st)
    got = read_soft_targets(tmp_path, writer.flush()["a"])
    assert np.array_equal(got.sample_ids, sid) and np.allclose(got.sample_logw, logw, atol=2e-3)


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_draws_follow_the_proposal_and_weigh_back_to_the_teacher(beta):
    logp = teacher(t=1, v=30, seed=4, sharp=1.5)
    u = torch.rand(1, 40_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ids, logw = draw_targets(torch.from_numpy(logp), u, beta)
    q = np.exp(beta * logp[0]) / np.exp(beta * logp[0]).sum()
    freq = np.bincount(ids[0].numpy(), minlength=30) / ids.shape[1]
    assert np.abs(freq - q).max() < 0.01  # 40,000 draws: a few standard errors at most
    assert np.allclose(logw[0].numpy(), logp[0][ids[0]] - np.log(q[ids[0]]) - np.log(40_000), atol=1e-5)


def test_the_sampled_loss_with_every_token_weighted_by_p_is_the_dense_loss():
    logp = torch.tensor(teacher(t=6, v=50), dtype=torch.float64)
    student = torch.randn(6, 50, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 50, (6,))
    every = torch.arange(50).expand(6, 50)
    sampled = sampled_kd_loss(student, targets, every, logp, alpha=0.7)
    dense = dense_kd_loss(student, logp, targets, alpha=0.7)
    entropy = -(logp.exp() * logp).sum(-1).mean()
    # The sampled KD term is the cross-entropy H(p, s) = KL + H(p): same gradient, shifted value.
    assert torch.allclose(sampled.loss, dense.loss + 0.7 * entropy)
    g_sampled = torch.autograd.grad(sampled.loss, student)[0]
    g_dense = torch.autograd.grad(dense_kd_loss(student, logp, targets, alpha=0.7).loss, student)[0]
    assert torch.allclose(g_sampled, g_dense)


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_the_sampled_gradient_is_unbiased(beta):
    logp_np = teacher(t=4, v=40, seed=2)
    logp = torch.tensor(logp_np)
    student = torch.randn(4, 40, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 40, (4,))
    dense = torch.autograd.grad(dense_kd_loss(student, logp, targets, alpha=1.0).loss, student)[0]
    rng, grads = np.random.default_rng(3), []
    for _ in range(400):
        sid, logw = sample_targets(logp_np, 12, rng, beta=beta)
        loss = sampled_kd_loss(
            student, targets, torch.tensor(sid), torch.tensor(logw, dtype=torch.float64), alpha=1.0
        ).loss
        grads.append(torch.autograd.grad(loss, student)[0])
    mean = torch.stack(grads).mean(0)
    # 400 x 12 draws: the mean gradient is the dense one up to Monte Carlo noise.
    assert (mean - dense).abs().max() < 0.02
    assert torch.nn.functional.cosine_similarity(mean.flatten(), dense.flatten(), dim=0) > 0.99


def test_the_sampled_loss_refuses_what_it_cannot_estimate_without_bias():
    with pytest.raises(ValueError, match="forward KL at temperature 1"):
        sampled_kd_loss(torch.zeros(1, 5), torch.zeros(1), None, None, temperature=2.0)


@pytest.mark.slow
def test_the_recipe_trains_on_sampled_targets(tiny_model_dir, tiny_student_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workers.distill import DistillConfig, DistillError, StageConfig, run_distillation
    from workers.prompting import render_prompt

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    rng, records = np.random.default_rng(0), []
    for text, label in [("refund request", "billing"), ("cannot sign in", "account")] * 3:
        p = tok(render_prompt(tok, f"Ticket: {text}\nCategory:"), add_special_tokens=False).input_ids
        r = tok(f" {label}", add_special_tokens=False).input_ids + [tok.eos_token_id]
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([p + r])).logits[0, len(p) - 1 : -1], -1).numpy()
        sid, logw = sample_targets(logp, 12, rng)
        soft = {"response_ids": r, "sample_ids": sid, "sample_logw": logw}
        records.append({"prompt": f"Ticket: {text}\nCategory:", "response": f" {label}", "soft": soft})

    def config(out, **stage):
        stage = {"name": "s", "records": records, "steps": 3, "lr": 1e-3, **stage}
        return DistillConfig(
            student=str(tiny_student_dir),
            output_dir=str(out),
            stages=[StageConfig(**stage)],
            teacher_tokenizer=str(tiny_model_dir),
            batch_size=4,
            progress_every_s=0,
        )

    progress = []
    result = run_distillation(config(tmp_path / "a"), on_progress=progress.append)
    assert result.status == "completed" and result.kd_mode == "token"
    assert all(np.isfinite(p["kd_loss"]) and p["kd_loss"] > 0 for p in progress)
    with pytest.raises(DistillError, match="temperature to 1"):
        run_distillation(config(tmp_path / "b", temperature=2.0))

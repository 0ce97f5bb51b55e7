import math

import pytest
import torch

from workers.distill.losses import (
    dense_kd_loss,
    divergence_from_logprobs,
    label_kd_loss,
    topk_divergence,
    topk_kd_loss,
)

DIVS = [("forward_kl", 0.5), ("reverse_kl", 0.5), ("jsd", 0.5), ("jsd", 0.2)]


def _case(n=5, v=7, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    student = torch.randn(n, v, generator=g, dtype=dtype) * 2
    teacher = torch.randn(n, v, generator=g, dtype=dtype) * 2
    targets = torch.randint(0, v, (n,), generator=g)
    return student, teacher, targets


def _full_topk(teacher_logits, k):
    logp = torch.log_softmax(teacher_logits, -1)
    vals, ids = logp.topk(k, dim=-1)
    tail = torch.log1p(-vals.exp().sum(-1).clamp(max=1.0))
    return ids, vals, tail


@pytest.mark.parametrize("divergence,beta", DIVS)
@pytest.mark.parametrize("temperature", [1.0, 2.0, 0.7])
def test_it_equals_the_dense_loss_when_k_is_the_vocabulary(divergence, beta, temperature):
    student, teacher, targets = _case()
    ids, vals, _ = _full_topk(teacher, teacher.shape[-1])
    tail = torch.full((teacher.shape[0],), float("-inf"), dtype=teacher.dtype)
    ours = topk_kd_loss(
        student, targets, ids, vals, tail, alpha=0.6, temperature=temperature, divergence=divergence, beta=beta
    )
    dense = dense_kd_loss(
        student, teacher, targets, alpha=0.6, temperature=temperature, divergence=divergence, beta=beta
    )
    assert torch.allclose(ours.loss, dense.loss, atol=1e-10)
    assert torch.allclose(ours.kd, dense.kd, atol=1e-10)
    assert ours.kd > 0


@pytest.mark.parametrize("divergence,beta", DIVS)
def test_its_gradients_equal_the_dense_gradients_when_k_is_the_vocabulary(divergence, beta):
    student, teacher, targets = _case(seed=3)
    ids, vals, _ = _full_topk(teacher, teacher.shape[-1])
    tail = torch.full((teacher.shape[0],), float("-inf"), dtype=teacher.dtype)
    a = student.clone().requires_grad_(True)
    b = student.clone().requires_grad_(True)
    topk_kd_loss(
        a, targets, ids, vals, tail, alpha=0.5, temperature=2.0, divergence=divergence, beta=beta
    ).loss.backward()
    dense_kd_loss(b, teacher, targets, alpha=0.5, temperature=2.0, divergence=divergence, beta=beta).loss.backward()
    assert torch.isfinite(a.grad).all()
    assert torch.allclose(a.grad, b.grad, atol=1e-10)


@pytest.mark.parametrize("divergence,beta", DIVS)
def test_its_small_k_gradient_passes_gradcheck(divergence, beta):
    student, teacher, targets = _case(n=3, v=6, seed=5)
    ids, vals, tail = _full_topk(teacher, 2)
    x = student.clone().requires_grad_(True)

    def f(logits):
        return topk_kd_loss(
            logits, targets, ids, vals, tail, alpha=0.7, temperature=1.5, divergence=divergence, beta=beta
        ).loss

    assert torch.autograd.gradcheck(f, (x,))


def test_a_small_k_never_gives_a_trivially_zero_loss():
    student, teacher, _targets = _case(seed=7)
    ids, vals, tail = _full_topk(teacher, 1)
    kd = topk_divergence(student, ids, vals, tail)
    assert (kd > 1e-3).all()


def test_a_student_equal_to_the_teacher_has_zero_kd_at_any_temperature_and_k():
    _, teacher, _ = _case(seed=9)
    ids, vals, tail = _full_topk(teacher, 3)
    for t in (1.0, 3.0):
        for div in ("forward_kl", "reverse_kl", "jsd"):
            kd = topk_divergence(teacher, ids, vals, tail, temperature=t, divergence=div)
            assert torch.allclose(kd, torch.zeros_like(kd), atol=1e-12)


def test_it_uses_the_tail_bucket_by_hand():
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    ids = torch.tensor([[0]])
    vals = torch.tensor([[math.log(0.7)]], dtype=torch.float64)
    tail = torch.tensor([math.log(0.3)], dtype=torch.float64)
    kd = topk_divergence(logits, ids, vals, tail)
    expected = 0.7 * math.log(0.7 / 0.25) + 0.3 * math.log(0.3 / 0.75)
    assert kd.item() == pytest.approx(expected, abs=1e-12)


def test_it_accepts_float16_teacher_logprobs_whose_tail_rounded_to_nan():
    student, teacher, targets = _case(dtype=torch.float32)
    ids, vals, _ = _full_topk(teacher, 4)
    tail = torch.full((teacher.shape[0],), float("nan"))
    parts = topk_kd_loss(student, targets, ids.int(), vals.half(), tail, divergence="reverse_kl")
    assert torch.isfinite(parts.loss)


def test_rows_without_soft_targets_get_plain_ce():
    student, teacher, targets = _case()
    ids, vals, tail = _full_topk(teacher, 3)
    none = torch.zeros(student.shape[0], dtype=torch.bool)
    parts = topk_kd_loss(student, targets, ids, vals, tail, kd_mask=none, alpha=0.9)
    ce = torch.nn.functional.cross_entropy(student, targets)
    assert torch.allclose(parts.loss, ce)


def test_the_label_loss_matches_a_hand_computation():
    scores = torch.tensor([[math.log(0.5), math.log(0.25), math.log(0.25)]], dtype=torch.float64)
    teacher = torch.tensor([[0.8, 0.1, 0.1]], dtype=torch.float64)
    gold = torch.tensor([0])
    parts = label_kd_loss(scores, gold, teacher, alpha=0.5)
    kl = 0.8 * math.log(0.8 / 0.5) + 2 * 0.1 * math.log(0.1 / 0.25)
    ce = -math.log(0.5)
    assert parts.kd.item() == pytest.approx(kl)
    assert parts.loss.item() == pytest.approx(0.5 * kl + 0.5 * ce)


@pytest.mark.parametrize("divergence,beta", DIVS)
def test_the_label_loss_gradient_passes_gradcheck(divergence, beta):
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(4, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    teacher = torch.softmax(torch.randn(4, 3, generator=g, dtype=torch.float64), -1)
    gold = torch.tensor([0, 2, 1, 1])

    def f(s):
        return label_kd_loss(s, gold, teacher, alpha=0.5, temperature=2.0, divergence=divergence, beta=beta).loss

    assert torch.autograd.gradcheck(f, (scores,))


def test_generalized_jsd_matches_its_definition():
    p = torch.tensor([0.6, 0.4], dtype=torch.float64)
    q = torch.tensor([0.2, 0.8], dtype=torch.float64)
    beta = 0.3
    m = beta * p + (1 - beta) * q

    def kl(a, b):
        return (a * (a / b).log()).sum()

    expected = beta * kl(p, m) + (1 - beta) * kl(q, m)
    got = divergence_from_logprobs(p.log(), q.log(), "jsd", beta)
    assert got.item() == pytest.approx(expected.item())


def test_it_refuses_an_unknown_divergence():
    with pytest.raises(ValueError, match="unknown divergence"):
        divergence_from_logprobs(torch.zeros(1, 2), torch.zeros(1, 2), "hellinger")

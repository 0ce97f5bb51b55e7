"""The on-policy (GKD) loss against a dense reference written the way TRL's ``generalized_jsd_loss`` is."""

import pytest
import torch
import torch.nn.functional as F

from workers.distill.losses import generalized_jsd, topk_gkd_loss


def trl_style_jsd(student_logits, teacher_logits, beta):
    """Dense per-token reference: ``F.kl_div(input, target)`` is KL(target || input), as TRL uses it."""
    s = F.log_softmax(student_logits, -1)
    t = F.log_softmax(teacher_logits, -1)
    if beta == 0:
        return F.kl_div(s, t, reduction="none", log_target=True).sum(-1)
    if beta == 1:
        return F.kl_div(t, s, reduction="none", log_target=True).sum(-1)
    b = torch.tensor(beta, dtype=s.dtype)
    m = torch.logsumexp(torch.stack([s + torch.log(1 - b), t + torch.log(b)]), dim=0)
    return beta * F.kl_div(m, t, reduction="none", log_target=True).sum(-1) + (1 - beta) * F.kl_div(
        m, s, reduction="none", log_target=True
    ).sum(-1)


def _case(n=6, v=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, v, generator=g, dtype=torch.float64) * 2,
        torch.randn(n, v, generator=g, dtype=torch.float64) * 2,
        torch.randint(0, v, (n,), generator=g),
    )


def _topk(teacher_logits, k):
    logp = torch.log_softmax(teacher_logits, -1)
    vals, ids = logp.topk(k, dim=-1)
    tail = torch.log1p(-vals.exp().sum(-1).clamp(max=1.0))
    if k == teacher_logits.shape[-1]:
        tail = torch.full_like(tail, float("-inf"))
    return ids, vals, tail


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_it_equals_the_dense_gkd_loss_when_k_is_the_vocabulary(beta):
    student, teacher, targets = _case()
    ids, vals, tail = _topk(teacher, teacher.shape[-1])
    ours = topk_gkd_loss(student, targets, ids, vals, tail, beta=beta)
    dense = trl_style_jsd(student, teacher, beta).mean()
    assert torch.allclose(ours.loss, dense, atol=1e-10)
    assert ours.loss > 0


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0])
def test_its_gradient_equals_the_dense_gradient_when_k_is_the_vocabulary(beta):
    student, teacher, targets = _case(seed=2)
    ids, vals, tail = _topk(teacher, teacher.shape[-1])
    a, b = student.clone().requires_grad_(True), student.clone().requires_grad_(True)
    topk_gkd_loss(a, targets, ids, vals, tail, beta=beta).loss.backward()
    trl_style_jsd(b, teacher, beta).mean().backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-10)


def test_beta_zero_is_forward_and_beta_one_is_reverse_kl():
    student, teacher, _ = _case(seed=5)
    p, q = torch.log_softmax(teacher, -1), torch.log_softmax(student, -1)
    forward = (p.exp() * (p - q)).sum(-1)
    reverse = (q.exp() * (q - p)).sum(-1)
    assert torch.allclose(generalized_jsd(p, q, 0.0), forward)
    assert torch.allclose(generalized_jsd(p, q, 1.0), reverse)
    assert not torch.allclose(forward, reverse)  # the two directions really differ on this case


def test_a_small_k_keeps_the_tail_bucket_and_never_gives_zero():
    student, teacher, targets = _case(seed=7)
    ids, vals, tail = _topk(teacher, 2)
    loss = topk_gkd_loss(student, targets, ids, vals, tail, beta=0.5)
    assert loss.loss > 0 and torch.isfinite(loss.loss)
    # A student equal to the teacher has zero loss over the same buckets.
    same = topk_gkd_loss(teacher, targets, ids, vals, tail, beta=0.5)
    assert same.loss.abs() < 1e-9


def test_it_refuses_a_beta_outside_zero_to_one():
    p = torch.log_softmax(torch.randn(2, 3), -1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        generalized_jsd(p, p, 1.5)

"""Distillation losses (pure torch): top-k + tail-bucket KD, sampled (RS-KD) KD, on-policy GKD, dense references,
labels.

Every loss here is ``alpha * T^2 * D(teacher_T || student_T) + (1 - alpha) * CE`` where
D is forward KL (default), reverse KL or generalized JSD(beta), averaged over the
response tokens handed in (the caller selects them: prompt tokens never get here).

Top-k with a tail bucket
------------------------
The teacher's stored soft targets are, per response token, its top-k token ids and
log-probabilities (log-softmax at temperature 1) plus ``tail_logprob`` =
``log(1 - sum(exp(topk_logprobs)))``. Both distributions are compared over the same
k + 1 buckets: the k teacher ids and one bucket for "every other token". The
student's tail bucket is the exact log-sum-exp of its remaining vocabulary, so a small
k never makes the loss trivially zero.

Temperature (the approximation)
-------------------------------
Tempering needs logits, and we only have the teacher's top-k log-probabilities and
the total tail mass. We temper the k + 1 *bucket* log-probabilities:
``p_T(b) = softmax(log p(b) / T)``, i.e. the tail is treated as one pseudo-token of
mass ``exp(tail_logprob)``. For the top-k buckets this is exact (their ratios are
``exp((l_i - l_j) / T)`` as with full logits); the tail is not: the true tempered tail
``sum_j p_j^(1/T)`` is larger than ``(sum_j p_j)^(1/T)`` for T > 1. The student's buckets
get the *same* treatment (its exact T = 1 bucket log-probabilities, then tempered
the same way), so a student that matches the teacher at T = 1 has zero loss at any
T, and with k = vocabulary size (tail empty) it equals the dense tempered loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

DIVERGENCES = ("forward_kl", "reverse_kl", "jsd")
# A teacher tail that rounded to zero (float16 top-k summing to >= 1) would make the
# reverse KL infinite while the student still has a non-empty tail: floor it.
TEACHER_TAIL_FLOOR = -30.0


@dataclass
class LossParts:
    loss: torch.Tensor
    kd: torch.Tensor
    ce: torch.Tensor


def _upcast(x: torch.Tensor) -> torch.Tensor:
    """Half-precision logits are upcast for the loss; float64 stays float64 (gradcheck)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def check_divergence(divergence: str, beta: float = 0.5) -> None:
    if divergence not in DIVERGENCES:
        raise ValueError(f"unknown divergence {divergence!r}; choose one of {', '.join(DIVERGENCES)}")
    if divergence == "jsd" and not 0.0 < beta < 1.0:
        raise ValueError(f"jsd beta must be strictly between 0 and 1, got {beta}")


def _kl(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """KL(p || q) over the last dim; buckets where p is zero contribute nothing.

    Written so that -inf entries (empty tail buckets) give neither NaN values nor NaN
    gradients.
    """
    present = logp != float("-inf")  # NaN stays NaN: corrupt soft targets must surface
    safe_p = torch.where(present, logp, torch.zeros_like(logp))
    safe_q = torch.where(present, logq, torch.zeros_like(logq))
    terms = torch.where(present, safe_p.exp() * (safe_p - safe_q), torch.zeros_like(logp))
    return terms.sum(-1)


def _mixture(logp: torch.Tensor, logq: torch.Tensor, beta: float) -> torch.Tensor:
    """log(beta * p + (1 - beta) * q), -inf where both are empty, NaN-free gradients."""
    both_empty = (logp == float("-inf")) & (logq == float("-inf"))
    a = torch.where(both_empty, torch.zeros_like(logp), logp) + math.log(beta)
    b = torch.where(both_empty, torch.zeros_like(logq), logq) + math.log(1.0 - beta)
    mixed = torch.logaddexp(a, b)
    return torch.where(both_empty, torch.full_like(mixed, float("-inf")), mixed)


def divergence_from_logprobs(
    teacher_logp: torch.Tensor, student_logp: torch.Tensor, divergence: str = "forward_kl", beta: float = 0.5
) -> torch.Tensor:
    """Per-row D(teacher || student) from normalised log-probabilities over the last dim.

    jsd(beta) = beta * KL(p || m) + (1 - beta) * KL(q || m) with m = beta * p + (1 - beta) * q
    (p teacher, q student), the generalized JSD used by GKD.
    """
    check_divergence(divergence, beta)
    if divergence == "forward_kl":
        return _kl(teacher_logp, student_logp)
    if divergence == "reverse_kl":
        return _kl(student_logp, teacher_logp)
    m = _mixture(teacher_logp, student_logp, beta)
    return beta * _kl(teacher_logp, m) + (1.0 - beta) * _kl(student_logp, m)


def teacher_bucket_logprobs(
    topk_logprobs: torch.Tensor, tail_logprob: torch.Tensor, *, floor_tail: bool
) -> torch.Tensor:
    """The teacher's k + 1 bucket log-probabilities at T = 1, renormalised.

    Renormalising absorbs float16 rounding of the stored top-k; a NaN tail (the
    producer took the log of a negative rounding residue) means an empty tail.
    """
    lp = _upcast(topk_logprobs)
    tail = tail_logprob.to(lp.dtype)
    tail = torch.where(torch.isnan(tail), torch.full_like(tail, float("-inf")), tail)
    if floor_tail:
        tail = tail.clamp(min=TEACHER_TAIL_FLOOR)
    buckets = torch.cat([lp, tail.unsqueeze(-1)], dim=-1)
    return torch.log_softmax(buckets, dim=-1)


def student_bucket_logprobs(student_logits: torch.Tensor, topk_ids: torch.Tensor) -> torch.Tensor:
    """The student's T = 1 log-probabilities on the teacher's top-k ids plus its exact tail."""
    logp = torch.log_softmax(student_logits, dim=-1)
    top = logp.gather(-1, topk_ids)
    in_top = torch.zeros_like(logp, dtype=torch.bool).scatter_(-1, topk_ids, True)
    empty_tail = in_top.all(-1, keepdim=True)
    # Rows whose top-k covers the vocabulary: a finite stand-in keeps the log-sum-exp's
    # gradient finite, and the result is replaced by -inf below.
    fill = torch.where(empty_tail, torch.zeros_like(logp[..., :1]), torch.full_like(logp[..., :1], float("-inf")))
    rest = torch.where(in_top, fill.expand_as(logp), logp)
    tail = torch.logsumexp(rest, dim=-1, keepdim=True)
    tail = torch.where(empty_tail, torch.full_like(tail, float("-inf")), tail)
    return torch.cat([top, tail], dim=-1)


def temper(logp: torch.Tensor, temperature: float) -> torch.Tensor:
    if temperature == 1.0:
        return logp
    return torch.log_softmax(logp / temperature, dim=-1)


def topk_divergence(
    student_logits: torch.Tensor,
    topk_ids: torch.Tensor,
    topk_logprobs: torch.Tensor,
    tail_logprob: torch.Tensor,
    *,
    temperature: float = 1.0,
    divergence: str = "forward_kl",
    beta: float = 0.5,
) -> torch.Tensor:
    """Per-token D(teacher_T || student_T) over the k + 1 buckets. Shapes [N, V], [N, k], [N, k], [N]."""
    topk_ids = topk_ids.long()
    student = student_bucket_logprobs(_upcast(student_logits), topk_ids)
    floor = topk_ids.shape[-1] < student_logits.shape[-1]
    teacher = teacher_bucket_logprobs(topk_logprobs.to(student.dtype), tail_logprob.to(student.dtype), floor_tail=floor)
    return divergence_from_logprobs(temper(teacher, temperature), temper(student, temperature), divergence, beta)


def _combine(kd_per_token, ce_per_token, kd_mask, alpha, temperature) -> LossParts:
    """Tokens with soft targets get the KD mix; tokens without get plain CE."""
    n = ce_per_token.numel()
    weight_ce = torch.where(kd_mask, torch.full_like(ce_per_token, 1.0 - alpha), torch.ones_like(ce_per_token))
    kd_term = torch.where(kd_mask, alpha * temperature**2 * kd_per_token, torch.zeros_like(kd_per_token))
    loss = (kd_term + weight_ce * ce_per_token).sum() / max(n, 1)
    n_kd = int(kd_mask.sum())
    kd = (kd_per_token * kd_mask).sum() / n_kd if n_kd else ce_per_token.new_zeros(())
    return LossParts(loss=loss, kd=kd.detach(), ce=(ce_per_token.sum() / max(n, 1)).detach())


def _token_loss(student_logits, target_ids, kd_rows, kd_mask, alpha, temperature) -> LossParts:
    """What every token-level loss shares: CE on every row; with soft targets (``kd_rows`` a
    callable giving the per-row KD tensor, None when no row has any) and alpha > 0, the KD mix
    on the rows ``kd_mask`` selects (all of them by default)."""
    ce = F.cross_entropy(_upcast(student_logits), target_ids.long(), reduction="none")
    if kd_rows is None or alpha == 0.0:
        return _combine(torch.zeros_like(ce), ce, torch.zeros_like(ce, dtype=torch.bool), alpha, temperature)
    if kd_mask is None:
        kd_mask = torch.ones_like(ce, dtype=torch.bool)
    kd = kd_rows()
    return _combine(torch.where(kd_mask, kd, torch.zeros_like(kd)), ce, kd_mask, alpha, temperature)


def topk_kd_loss(
    student_logits: torch.Tensor,
    target_ids: torch.Tensor,
    topk_ids: torch.Tensor | None,
    topk_logprobs: torch.Tensor | None,
    tail_logprob: torch.Tensor | None,
    *,
    kd_mask: torch.Tensor | None = None,
    alpha: float = 0.5,
    temperature: float = 1.0,
    divergence: str = "forward_kl",
    beta: float = 0.5,
) -> LossParts:
    """The full token-level loss on N selected response tokens.

    ``student_logits`` [N, V] predicts ``target_ids`` [N]. Rows with ``kd_mask`` False
    (no soft targets for that example) contribute CE only; ``topk_*`` may be None when
    no row has soft targets (sequence-level KD).
    """
    return _token_loss(
        student_logits,
        target_ids,
        None
        if topk_ids is None
        else lambda: topk_divergence(
            student_logits,
            topk_ids,
            topk_logprobs,
            tail_logprob,
            temperature=temperature,
            divergence=divergence,
            beta=beta,
        ),
        kd_mask,
        alpha,
        temperature,
    )


def sampled_kd_loss(
    student_logits: torch.Tensor,
    target_ids: torch.Tensor,
    sample_ids: torch.Tensor | None,
    sample_logw: torch.Tensor | None,
    *,
    kd_mask: torch.Tensor | None = None,
    alpha: float = 0.5,
    temperature: float = 1.0,
    divergence: str = "forward_kl",
    beta: float = 0.5,
) -> LossParts:
    """Top-k's unbiased alternative: KD on RS-KD samples (workers/softcodec.py).

    ``sample_ids`` [N, m] were drawn from a proposal q with log importance weights
    ``sample_logw`` = log(p / (m q)), so ``-sum_m w_m log s(x_m)`` estimates the cross-entropy
    H(p, s) = KL(p || s) + H(p) without bias, and its gradient KL's. That holds for forward KL
    at temperature 1 only; anything else is refused rather than silently biased. ``kd`` in the
    parts is that cross-entropy estimate (it includes the teacher's entropy).
    """
    if divergence != "forward_kl" or temperature != 1.0:
        raise ValueError("sampled soft targets train forward KL at temperature 1 (the unbiased estimator)")
    return _token_loss(
        student_logits,
        target_ids,
        None if sample_ids is None else lambda: sampled_cross_entropy(student_logits, sample_ids, sample_logw),
        kd_mask,
        alpha,
        1.0,
    )


def sampled_cross_entropy(student_logits, sample_ids, sample_logw) -> torch.Tensor:
    """Per-token ``-sum_m w_m log s(x_m)``: the RS-KD estimate of H(p, s). Shapes [N, V], [N, m], [N, m]."""
    picked = torch.log_softmax(_upcast(student_logits), dim=-1).gather(-1, sample_ids.long())
    return -(sample_logw.to(picked.dtype).exp() * picked).sum(-1)


def generalized_jsd(teacher_logp: torch.Tensor, student_logp: torch.Tensor, beta: float) -> torch.Tensor:
    """GKD's generalized JSD per row, beta in [0, 1] (Agarwal et al. 2024; TRL's ``generalized_jsd_loss``).

    ``beta * KL(p || m) + (1 - beta) * KL(q || m)`` with ``m = beta * p + (1 - beta) * q`` (p teacher,
    q student). The mixture vanishes at the ends, so they are GKD's limits: beta 0 is forward
    KL(p || q), beta 1 reverse KL(q || p), as TRL defines them.
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"generalized JSD beta must be between 0 and 1, got {beta}")
    if beta == 0.0:
        return _kl(teacher_logp, student_logp)
    if beta == 1.0:
        return _kl(student_logp, teacher_logp)
    return divergence_from_logprobs(teacher_logp, student_logp, "jsd", beta)


def topk_gkd_loss(
    student_logits: torch.Tensor,
    target_ids: torch.Tensor,
    topk_ids: torch.Tensor,
    topk_logprobs: torch.Tensor,
    tail_logprob: torch.Tensor,
    *,
    beta: float = 0.5,
) -> LossParts:
    """The on-policy loss: generalized JSD(beta) between teacher and student on the student's own
    samples, over the teacher's top-k + tail buckets at T = 1 (exact there, no tempering), averaged
    over the sampled tokens. No CE term: CE on the student's own samples would reinforce them; ``ce``
    in the parts is the student's NLL of its samples, for curves only."""
    topk_ids = topk_ids.long()
    logits = _upcast(student_logits)
    student = student_bucket_logprobs(logits, topk_ids)
    floor = topk_ids.shape[-1] < logits.shape[-1]
    teacher = teacher_bucket_logprobs(topk_logprobs.to(student.dtype), tail_logprob.to(student.dtype), floor_tail=floor)
    jsd = generalized_jsd(teacher, student, beta)
    loss = jsd.mean() if jsd.numel() else logits.sum() * 0.0
    ce = F.cross_entropy(logits, target_ids.long()) if target_ids.numel() else loss.detach()
    return LossParts(loss=loss, kd=loss.detach(), ce=ce.detach())


def dense_kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    target_ids: torch.Tensor,
    *,
    alpha: float = 0.5,
    temperature: float = 1.0,
    divergence: str = "forward_kl",
    beta: float = 0.5,
) -> LossParts:
    """Full-vocabulary reference (and the online-KD baseline): both [N, V] logits."""
    ce = F.cross_entropy(_upcast(student_logits), target_ids.long(), reduction="none")
    t = torch.log_softmax(_upcast(teacher_logits) / temperature, dim=-1)
    s = torch.log_softmax(_upcast(student_logits) / temperature, dim=-1)
    kd = divergence_from_logprobs(t, s, divergence, beta)
    return _combine(kd, ce, torch.ones_like(ce, dtype=torch.bool), alpha, temperature)


def label_kd_loss(
    student_label_scores: torch.Tensor,
    gold: torch.Tensor,
    teacher_probs: torch.Tensor | None,
    *,
    teacher_mask: torch.Tensor | None = None,
    alpha: float = 0.5,
    temperature: float = 1.0,
    divergence: str = "forward_kl",
    beta: float = 0.5,
) -> LossParts:
    """Classification: D over the label distribution + CE on the gold/approved label.

    ``student_label_scores`` [B, L] are unnormalised log-scores per label (the summed
    continuation log-probabilities); the student's label distribution is their softmax.
    ``teacher_probs`` [B, L] are probabilities over the same labels, tempered as
    ``softmax(log p / T)``; rows with ``teacher_mask`` False contribute CE only.
    """
    scores = _upcast(student_label_scores)

    def kd_rows():
        tp = teacher_probs.to(scores.dtype).clamp(min=0.0)
        t = torch.log(tp / tp.sum(-1, keepdim=True).clamp(min=1e-12))
        if teacher_mask is not None:
            t = torch.where(teacher_mask.unsqueeze(-1), t, torch.zeros_like(t))
        student_logp = torch.log_softmax(scores, dim=-1)
        return divergence_from_logprobs(temper(t, temperature), temper(student_logp, temperature), divergence, beta)

    return _token_loss(scores, gold, None if teacher_probs is None else kd_rows, teacher_mask, alpha, temperature)

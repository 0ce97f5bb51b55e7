"""Stage gates: validation metrics on a stage's held-out records, and the verdict.

Metrics (all three are computed, the gate reads the one it names):
- ``val_kd_loss`` (lower is better): mean per-token D(teacher || student) at T = 1
  with the stage's divergence. Without soft targets (sequence-level KD, or
  classification records without teacher_probs) it is the CE on the validation
  responses / labels, which is what sequence-level KD minimises.
- ``teacher_agreement``: generation: share of response tokens where the student's
  teacher-forced top-1 equals the teacher's top-1 (from the soft targets; the
  response token itself when there are none, i.e. teacher text). Classification:
  share of items where the student's top label equals the teacher's.
- ``accuracy``: classification: student top label == gold/approved label.
  Generation: teacher-forced top-1 token accuracy on the approved response.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from workers.distill.config import GateConfig
from workers.distill.data import collate_classification, collate_generation, label_scores, move, response_logits
from workers.distill.losses import label_kd_loss, topk_divergence


@dataclass
class GateOverride:
    """An engineer's decision on a gated job: train ``extra_epochs`` more, then judge
    with ``threshold`` (None: the configured one); ``force`` passes the gate anyway."""

    threshold: float | None = None
    force: bool = False
    extra_epochs: int = 0
    by: str | None = None
    comment: str = ""


@dataclass
class GateResult:
    metric: str
    value: float
    threshold: float
    passed: bool
    metrics: dict[str, float] = field(default_factory=dict)
    forced: bool = False  # passed by an engineer's override, not by the numbers

    def to_dict(self) -> dict:
        return asdict(self)


def judge(gate: GateConfig, metrics: dict[str, float], threshold: float | None = None) -> GateResult:
    limit = gate.threshold if threshold is None else threshold
    value = metrics[gate.metric]
    return GateResult(gate.metric, value, limit, gate.passes(value, limit), metrics)


def _batches(items, size):
    for i in range(0, len(items), size):
        yield items[i : i + size]


@torch.no_grad()
def generation_metrics(
    model, examples, *, pad_id, device, batch_size, divergence="forward_kl", beta=0.5
) -> dict[str, float]:
    was_training = model.training
    model.eval()
    kd_sum = ce_sum = agree = correct = 0.0
    n = n_kd = 0
    for chunk in _batches(examples, batch_size):
        batch = move(collate_generation(chunk, pad_id), device)
        logits = response_logits(model, batch).float()
        targets = batch["target_ids"]
        top1 = logits.argmax(-1)
        ce_sum += F.cross_entropy(logits, targets, reduction="sum").item()
        correct += (top1 == targets).sum().item()
        n += targets.numel()
        if "topk_ids" in batch:
            mask = batch["kd_mask"]
            kd = topk_divergence(
                logits,
                batch["topk_ids"],
                batch["topk_logprobs"],
                batch["tail_logprob"],
                divergence=divergence,
                beta=beta,
            )
            teacher_top1 = batch["topk_ids"].gather(-1, batch["topk_logprobs"].argmax(-1, keepdim=True)).squeeze(-1)
            reference = torch.where(mask, teacher_top1, targets)
            kd_sum += kd[mask].sum().item()
            n_kd += int(mask.sum())
        else:
            reference = targets
        agree += (top1 == reference).sum().item()
    if was_training:
        model.train()
    n = max(n, 1)
    return {
        "val_kd_loss": kd_sum / n_kd if n_kd else ce_sum / n,
        "val_ce_loss": ce_sum / n,
        "teacher_agreement": agree / n,
        "accuracy": correct / n,
    }


@torch.no_grad()
def classification_metrics(
    model, examples, *, label_ids, pad_id, device, batch_size, divergence="forward_kl", beta=0.5
) -> dict[str, float]:
    was_training = model.training
    model.eval()
    kd_sum = ce_sum = agree = correct = 0.0
    n = n_kd = 0
    for chunk in _batches(examples, batch_size):
        batch = move(collate_classification(chunk, pad_id), device)
        scores = label_scores(model, batch, label_ids, pad_id)
        pred = scores.argmax(-1)
        gold = batch["gold"]
        ce_sum += F.cross_entropy(scores, gold, reduction="sum").item()
        correct += (pred == gold).sum().item()
        n += gold.numel()
        if "teacher_probs" in batch:
            mask = batch["teacher_mask"]
            per_item = label_kd_loss(
                scores, gold, batch["teacher_probs"], teacher_mask=mask, alpha=1.0, divergence=divergence, beta=beta
            )
            kd_sum += per_item.kd.item() * int(mask.sum())
            n_kd += int(mask.sum())
            teacher_pred = torch.where(mask, batch["teacher_probs"].argmax(-1), gold)
        else:
            teacher_pred = gold
        agree += (pred == teacher_pred).sum().item()
    if was_training:
        model.train()
    n = max(n, 1)
    return {
        "val_kd_loss": kd_sum / n_kd if n_kd else ce_sum / n,
        "val_ce_loss": ce_sum / n,
        "teacher_agreement": agree / n,
        "accuracy": correct / n,
    }

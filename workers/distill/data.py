"""Training records -> token tensors, and batches -> the logits the losses need.

Generation record: ``{"prompt": str | messages, "response": str, "tier": str | None,
"soft": None | {"response_ids": [T], "topk_ids": [T, k] int32, "topk_logprobs": [T, k]
float16 (log-softmax at T = 1), "tail_logprob": [T] float32}}``. With soft targets the
response tokens are ``soft["response_ids"]`` (the ids the teacher scored), otherwise the
response text tokenized plus EOS (so the student learns to stop).

Classification record: ``{"prompt": ..., "label": str, "teacher_probs": list[float] |
None}`` with ``teacher_probs`` over the project labels, in order.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from dataclasses import dataclass

import numpy as np
import torch

from workers.distill.errors import DistillError
from workers.prompting import label_continuation, render_prompt


def vocab_hash(tokenizer) -> str:
    """``"sha256:<hex>"`` of the tokenizer's vocabulary (token -> id), for compatibility checks."""
    vocab = sorted(tokenizer.get_vocab().items())
    return "sha256:" + hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode()).hexdigest()


def tokenizers_compatible(a, b) -> bool:
    """Same vocabulary and ids (token-level KD is meaningful only then)."""
    return a.get_vocab() == b.get_vocab()


@dataclass
class GenExample:
    input_ids: list[int]
    response_start: int  # index in input_ids of the first response token
    soft: dict[str, np.ndarray] | None
    tier: str | None = None
    prompt: object = None  # the record's prompt (text or messages): an on-policy stage's teacher scores after it

    @property
    def n_response(self) -> int:
        return len(self.input_ids) - self.response_start


@dataclass
class ClsExample:
    prompt_ids: list[int]
    gold: int
    teacher_probs: list[float] | None
    tier: str | None = None


def _encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _check_sampled(soft: dict, where: str, vocab_size: int) -> dict[str, np.ndarray]:
    out = {
        "response_ids": np.asarray(soft["response_ids"], dtype=np.int64),
        "sample_ids": np.asarray(soft["sample_ids"], dtype=np.int64),
        "sample_logw": np.asarray(soft["sample_logw"], dtype=np.float32),
    }
    t = out["response_ids"].shape[0]
    if t == 0 or out["sample_ids"].ndim != 2 or out["sample_ids"].shape[0] != t:
        raise DistillError(f"{where}: sample_ids must be [T, m] with T = {t} response tokens")
    if out["sample_logw"].shape != out["sample_ids"].shape:
        raise DistillError(f"{where}: sample_logw must match sample_ids")
    if out["sample_ids"].min() < 0 or out["sample_ids"].max() >= vocab_size:
        raise DistillError(f"{where}: sampled token ids fall outside the student's vocabulary ({vocab_size})")
    return out


def _check_soft(soft: dict, where: str, vocab_size: int) -> dict[str, np.ndarray]:
    if "sample_ids" in soft and soft.get("sample_ids") is not None:
        return _check_sampled(soft, where, vocab_size)
    try:
        out = {
            "response_ids": np.asarray(soft["response_ids"], dtype=np.int64),
            "topk_ids": np.asarray(soft["topk_ids"], dtype=np.int64),
            "topk_logprobs": np.asarray(soft["topk_logprobs"], dtype=np.float32),
            "tail_logprob": np.asarray(soft["tail_logprob"], dtype=np.float32),
        }
    except KeyError as exc:
        raise DistillError(f"{where}: soft targets lack {exc.args[0]!r}") from exc
    t = out["response_ids"].shape[0]
    if t == 0:
        raise DistillError(f"{where}: soft targets cover no response token")
    if (
        out["topk_ids"].ndim != 2
        or out["topk_ids"].shape[0] != t
        or out["topk_logprobs"].shape != out["topk_ids"].shape
    ):
        raise DistillError(f"{where}: topk_ids/topk_logprobs must be [T, k] with T = {t} response tokens")
    if out["tail_logprob"].shape != (t,):
        raise DistillError(f"{where}: tail_logprob must have one value per response token ({t})")
    if out["topk_ids"].max() >= vocab_size or out["topk_ids"].min() < 0 or out["response_ids"].max() >= vocab_size:
        raise DistillError(
            f"{where}: soft-target token ids fall outside the student's vocabulary ({vocab_size}); the "
            "teacher used another tokenizer"
        )
    return out


def _restrict_k(soft: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    """Keep the k most likely entries; the dropped ones' mass moves into the tail (exact)."""
    if soft["topk_ids"].shape[1] == k:
        return soft
    order = np.argsort(-soft["topk_logprobs"], axis=1)
    ids = np.take_along_axis(soft["topk_ids"], order, 1)
    lps = np.take_along_axis(soft["topk_logprobs"], order, 1)
    dropped = np.exp(lps[:, k:].astype(np.float64)).sum(1)
    tail = np.logaddexp(soft["tail_logprob"].astype(np.float64), np.log(np.maximum(dropped, 1e-300)))
    return {**soft, "topk_ids": ids[:, :k], "topk_logprobs": lps[:, :k], "tail_logprob": tail.astype(np.float32)}


def prepare_generation(records, tokenizer, *, max_seq_len: int, use_soft: bool, where: str) -> list[GenExample]:
    """Tokenize generation records; soft targets are kept only when ``use_soft``."""
    vocab_size = len(tokenizer)
    out: list[GenExample] = []
    for i, r in enumerate(records):
        loc = f"{where}, record {i}"
        if not isinstance(r, dict) or "prompt" not in r:
            raise DistillError(f"{loc}: a generation record needs a prompt")
        prompt_ids = _encode(tokenizer, render_prompt(tokenizer, r["prompt"]))
        soft = r.get("soft")
        if soft is not None and use_soft:
            soft = _check_soft(soft, loc, vocab_size)
            response_ids = soft["response_ids"].tolist()
        else:
            soft = None
            text = r.get("response")
            if not text:
                raise DistillError(f"{loc}: empty response")
            response_ids = _encode(tokenizer, text) + [tokenizer.eos_token_id]
        if not prompt_ids:
            raise DistillError(f"{loc}: empty prompt")
        budget = max_seq_len
        if len(prompt_ids) + len(response_ids) > budget:
            keep = max(budget - len(prompt_ids), budget // 2)
            response_ids = response_ids[:keep]
            prompt_ids = prompt_ids[-(budget - len(response_ids)) :]
            if soft is not None:
                soft = {k: v[:keep] for k, v in soft.items()}
        out.append(GenExample(prompt_ids + response_ids, len(prompt_ids), soft, r.get("tier"), r["prompt"]))
    kinds = {"sample_ids" in ex.soft for ex in out if ex.soft is not None}
    if len(kinds) > 1:
        raise DistillError(f"{where}: records mix sampled and top-k soft targets; a stage trains on one kind")
    if kinds == {True}:
        return out
    ks = {ex.soft["topk_ids"].shape[1] for ex in out if ex.soft is not None}
    if len(ks) > 1:
        k = min(ks)
        for ex in out:
            if ex.soft is not None:
                ex.soft = _restrict_k(ex.soft, k)
    return out


def label_token_ids(tokenizer, labels: list[str]) -> list[list[int]]:
    conts = [_encode(tokenizer, label_continuation(label)) for label in labels]
    if any(not c for c in conts):
        raise DistillError("a label continuation tokenizes to nothing")
    return conts


def prepare_classification(records, tokenizer, labels: list[str], *, max_seq_len: int, where: str) -> list[ClsExample]:
    index = {label: i for i, label in enumerate(labels)}
    longest_label = max(len(c) for c in label_token_ids(tokenizer, labels))
    out = []
    for i, r in enumerate(records):
        loc = f"{where}, record {i}"
        if not isinstance(r, dict) or "prompt" not in r:
            raise DistillError(f"{loc}: a classification record needs a prompt")
        if r.get("label") not in index:
            raise DistillError(f"{loc}: label {r.get('label')!r} is not one of the project labels {labels}")
        probs = r.get("teacher_probs")
        if probs is not None:
            probs = [float(p) for p in probs]
            if len(probs) != len(labels) or any(p < 0 or not math.isfinite(p) for p in probs) or sum(probs) <= 0:
                raise DistillError(f"{loc}: teacher_probs must be {len(labels)} non-negative numbers, one per label")
        ids = _encode(tokenizer, render_prompt(tokenizer, r["prompt"]))
        if not ids:
            raise DistillError(f"{loc}: empty prompt")
        ids = ids[-(max_seq_len - longest_label) :]
        out.append(ClsExample(ids, index[r["label"]], probs, r.get("tier")))
    return out


def collate_generation(examples: list[GenExample], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch; targets are the response tokens in row-major order.

    ``target_mask`` [B, L-1] marks logits positions that predict a response token, so
    ``logits[:, :-1][target_mask]`` lines up row by row with ``target_ids`` and the
    concatenated soft targets.
    """
    length = max(len(ex.input_ids) for ex in examples)
    b = len(examples)
    input_ids = torch.full((b, length), pad_id, dtype=torch.long)
    attention = torch.zeros((b, length), dtype=torch.long)
    target_mask = torch.zeros((b, length - 1), dtype=torch.bool)
    for i, ex in enumerate(examples):
        n = len(ex.input_ids)
        input_ids[i, :n] = torch.tensor(ex.input_ids)
        attention[i, :n] = 1
        target_mask[i, ex.response_start - 1 : n - 1] = True
    batch = {
        "input_ids": input_ids,
        "attention_mask": attention,
        "target_mask": target_mask,
        "target_ids": input_ids[:, 1:][target_mask],
    }
    sampled = [ex.soft["sample_ids"].shape[1] for ex in examples if ex.soft is not None and "sample_ids" in ex.soft]
    if sampled:
        m = max(sampled)
        ids, logw, mask = [], [], []
        for ex in examples:
            t = ex.n_response
            sid = torch.zeros((t, m), dtype=torch.long)
            lw = torch.full((t, m), float("-inf"))  # weight 0: a row with fewer draws pads with nothing
            if ex.soft is not None:
                w = ex.soft["sample_ids"].shape[1]
                sid[:, :w] = torch.from_numpy(ex.soft["sample_ids"])
                lw[:, :w] = torch.from_numpy(ex.soft["sample_logw"])
            ids.append(sid)
            logw.append(lw)
            mask.append(torch.full((t,), ex.soft is not None, dtype=torch.bool))
        batch.update(sample_ids=torch.cat(ids), sample_logw=torch.cat(logw), kd_mask=torch.cat(mask))
        return batch
    ks = [ex.soft["topk_ids"].shape[1] for ex in examples if ex.soft is not None]
    if ks:
        k = ks[0]
        ids, lps, tails, mask = [], [], [], []
        for ex in examples:
            t = ex.n_response
            if ex.soft is not None:
                ids.append(torch.from_numpy(ex.soft["topk_ids"]))
                lps.append(torch.from_numpy(ex.soft["topk_logprobs"]))
                tails.append(torch.from_numpy(ex.soft["tail_logprob"]))
                mask.append(torch.ones(t, dtype=torch.bool))
            else:
                ids.append(torch.zeros((t, k), dtype=torch.long))
                lps.append(torch.zeros((t, k)))
                tails.append(torch.zeros(t))
                mask.append(torch.zeros(t, dtype=torch.bool))
        batch.update(
            topk_ids=torch.cat(ids),
            topk_logprobs=torch.cat(lps),
            tail_logprob=torch.cat(tails),
            kd_mask=torch.cat(mask),
        )
    return batch


def collate_classification(examples: list[ClsExample], pad_id: int) -> dict[str, torch.Tensor]:
    length = max(len(ex.prompt_ids) for ex in examples)
    b = len(examples)
    input_ids = torch.full((b, length), pad_id, dtype=torch.long)
    attention = torch.zeros((b, length), dtype=torch.long)
    for i, ex in enumerate(examples):
        input_ids[i, : len(ex.prompt_ids)] = torch.tensor(ex.prompt_ids)
        attention[i, : len(ex.prompt_ids)] = 1
    n_labels = next((len(ex.teacher_probs) for ex in examples if ex.teacher_probs), 0)
    batch = {
        "input_ids": input_ids,
        "attention_mask": attention,
        "gold": torch.tensor([ex.gold for ex in examples]),
        "prompt_ids": [ex.prompt_ids for ex in examples],
    }
    if n_labels:
        batch["teacher_probs"] = torch.tensor([ex.teacher_probs or [1.0] * n_labels for ex in examples])
        batch["teacher_mask"] = torch.tensor([ex.teacher_probs is not None for ex in examples])
    return batch


def move(batch: dict, device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def response_logits(model, batch: dict) -> torch.Tensor:
    """Student logits at the positions that predict response tokens: [N, V]."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return logits[:, :-1][batch["target_mask"]]


_FORWARD_PARAMS: dict = {}


def _forward_params(model) -> frozenset:
    """The keyword arguments ``model``'s forward takes (looked up once per model class)."""
    key = type(model) if "forward" not in vars(model) else model.forward
    if key not in _FORWARD_PARAMS:
        try:
            _FORWARD_PARAMS[key] = frozenset(inspect.signature(model.forward).parameters)
        except (TypeError, ValueError):
            _FORWARD_PARAMS[key] = frozenset()
    return _FORWARD_PARAMS[key]


def _keeps_last_logits(model) -> bool:
    """Whether ``model``'s forward takes ``logits_to_keep`` (transformers causal LMs do)."""
    return "logits_to_keep" in _forward_params(model)


def label_scores(model, batch: dict, label_ids: list[list[int]], pad_id: int) -> torch.Tensor:
    """Per-label log-score [B, L] = sum of the continuation tokens' log-probabilities.

    When every label is a single token, one forward pass over the prompts gives the
    same numbers (the last position's log-softmax at each label's token); otherwise
    every prompt is run once per label with the continuation appended.
    """
    device = batch["input_ids"].device
    if all(len(c) == 1 for c in label_ids):
        last = batch["attention_mask"].sum(1) - 1
        if bool((last == batch["input_ids"].shape[1] - 1).all()) and _keeps_last_logits(model):
            # No padding (a single prompt, as in the evaluation's timed requests): only the
            # last position goes through the output layer, as a deployed classifier does.
            extra = {"use_cache": False} if "use_cache" in _forward_params(model) else {}  # no KV cache to build
            logits = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=1, **extra
            ).logits
            logp = torch.log_softmax(logits[:, -1].float(), dim=-1)
        else:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            logp = torch.log_softmax(logits[torch.arange(logits.shape[0], device=device), last].float(), dim=-1)
        return logp[:, [c[0] for c in label_ids]]
    seqs, starts = [], []
    for prompt in batch["prompt_ids"]:
        for cont in label_ids:
            seqs.append(prompt + cont)
            starts.append(len(prompt))
    length = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    att = torch.zeros_like(ids)
    mask = torch.zeros((len(seqs), length - 1), dtype=torch.bool)
    for i, (s, st) in enumerate(zip(seqs, starts)):
        ids[i, : len(s)] = torch.tensor(s)
        att[i, : len(s)] = 1
        mask[i, st - 1 : len(s) - 1] = True
    ids, att, mask = ids.to(device), att.to(device), mask.to(device)
    logits = model(input_ids=ids, attention_mask=att).logits[:, :-1].float()
    tok_logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    scores = (tok_logp * mask).sum(1)
    return scores.view(len(batch["prompt_ids"]), len(label_ids))

"""How good is a demo model: gold triage accuracy, reply likelihood, sample replies, latency.

Triage is scored the way the product scores any classification project: for each
label, the sum of the log-probabilities of ``label_continuation(label)``'s tokens
after the rendered prompt; the prediction is the best-scoring label.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from workers.demo.corpus import LABELS, Ticket, drafting_prompt, triage_prompt
from workers.prompting import label_continuation, render_prompt


def load(model_dir: str | Path):
    """(model, tokenizer) from a ``save_pretrained`` directory, in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} holds no saved model (no config.json): build the demo teacher first")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    model.eval()
    return model, tokenizer


def _encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _context(model) -> int:
    config = getattr(model, "config", None)
    return int(getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None) or 1 << 30)


def _fit_prompt(prompt: list[int], room: int) -> list[int]:
    """The prompt cut from the left so that ``room`` tokens remain for what follows it."""
    return prompt[-max(room, 1) :]


@torch.no_grad()
def label_logprobs(
    model, tokenizer, prompts: Sequence[str], labels: Sequence[str] = LABELS, batch_size: int = 32
) -> torch.Tensor:
    """[len(prompts), len(labels)]: each label continuation's summed token log-probability."""
    conts = [_encode(tokenizer, label_continuation(label)) for label in labels]
    if any(not c for c in conts):
        raise ValueError("a label continuation tokenizes to nothing")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    single = all(len(c) == 1 for c in conts)
    rows = []
    for start in range(0, len(prompts), batch_size):
        room = _context(model) - max(len(c) for c in conts)
        chunk = [
            _fit_prompt(_encode(tokenizer, render_prompt(tokenizer, p)), room)
            for p in prompts[start : start + batch_size]
        ]
        if single:
            # One pass over the prompts gives every one-token label's score at the last position.
            rows.append(_next_token_logprobs(model, chunk, pad)[:, [c[0] for c in conts]])
            continue
        seqs = [(p + c, len(p)) for p in chunk for c in conts]
        length = max(len(s) for s, _ in seqs)
        ids = torch.full((len(seqs), length), pad, dtype=torch.long)
        attention = torch.zeros_like(ids)
        mask = torch.zeros((len(seqs), length - 1))
        for i, (s, n_prompt) in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            attention[i, : len(s)] = 1
            mask[i, n_prompt - 1 : len(s) - 1] = 1.0
        logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1].float()
        token_logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        rows.append((token_logp * mask).sum(1).view(len(chunk), len(conts)))
    return torch.cat(rows) if rows else torch.zeros((0, len(conts)))


def _next_token_logprobs(model, prompts: list[list[int]], pad: int) -> torch.Tensor:
    length = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), length), pad, dtype=torch.long)
    attention = torch.zeros_like(ids)
    for i, p in enumerate(prompts):
        ids[i, : len(p)] = torch.tensor(p)
        attention[i, : len(p)] = 1
    logits = model(input_ids=ids, attention_mask=attention).logits
    last = logits[torch.arange(len(prompts)), attention.sum(1) - 1].float()
    return torch.log_softmax(last, dim=-1)


def triage_predictions(model, tokenizer, tickets: Sequence[Ticket]) -> list[str]:
    scores = label_logprobs(model, tokenizer, [triage_prompt(t.text) for t in tickets])
    return [LABELS[i] for i in scores.argmax(dim=1).tolist()]


def triage_breakdown(model, tokenizer, tickets: Sequence[Ticket]) -> dict[str, float | None]:
    """Accuracy overall and on the clear and the ambiguous tickets separately (None: no such ticket)."""
    if not tickets:
        raise ValueError("no tickets to evaluate")
    hits = [p == t.label for p, t in zip(triage_predictions(model, tokenizer, tickets), tickets)]

    def share(flags):
        flags = list(flags)
        return sum(flags) / len(flags) if flags else None

    return {
        "accuracy": share(hits),
        "accuracy_clear": share(h for h, t in zip(hits, tickets) if not t.ambiguous),
        "accuracy_ambiguous": share(h for h, t in zip(hits, tickets) if t.ambiguous),
    }


def triage_accuracy(model_dir: str | Path, tickets: Sequence[Ticket]) -> float:
    """Share of ``tickets`` whose best-scoring label is their label, for the model saved in ``model_dir``."""
    model, tokenizer = load(model_dir)
    return triage_breakdown(model, tokenizer, tickets)["accuracy"]


@torch.no_grad()
def reply_nll(model, tokenizer, tickets: Sequence[Ticket], batch_size: int = 32) -> float:
    """Mean per-token negative log-likelihood of the reference replies (and eos) after the drafting prompt."""
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    total, count = 0.0, 0
    for start in range(0, len(tickets), batch_size):
        seqs = []
        for t in tickets[start : start + batch_size]:
            answer = (_encode(tokenizer, " " + t.reply) + [eos])[: _context(model) - 1]
            prompt = _fit_prompt(
                _encode(tokenizer, render_prompt(tokenizer, drafting_prompt(t.text))), _context(model) - len(answer)
            )
            seqs.append((prompt + answer, len(prompt)))
        length = max(len(s) for s, _ in seqs)
        ids = torch.full((len(seqs), length), pad, dtype=torch.long)
        attention = torch.zeros_like(ids)
        mask = torch.zeros((len(seqs), length - 1))
        for i, (s, n_prompt) in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            attention[i, : len(s)] = 1
            mask[i, n_prompt - 1 : len(s) - 1] = 1.0
        logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
        total += float((nll * mask).sum())
        count += int(mask.sum())
    return total / max(count, 1)


@torch.no_grad()
def greedy_replies(model, tokenizer, tickets: Sequence[Ticket], max_new_tokens: int = 80) -> list[str]:
    """The model's greedy reply to each ticket's drafting prompt (for a human to eyeball)."""
    out = []
    for t in tickets:
        new_tokens = min(max_new_tokens, _context(model) // 2)
        prompt = _fit_prompt(
            _encode(tokenizer, render_prompt(tokenizer, drafting_prompt(t.text))), _context(model) - new_tokens
        )
        ids = torch.tensor([prompt])
        generated = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=new_tokens,
            do_sample=False,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        out.append(tokenizer.decode(generated[0, ids.shape[1] :], skip_special_tokens=True).strip())
    return out


@torch.no_grad()
def forward_latency_ms(model, tokenizer, prompt: str, runs: int = 50, warmup: int = 5) -> float:
    """Median wall time (ms) of one batch-1 forward pass over ``prompt`` that scores the next
    token (only the last position goes through the output layer, as in label scoring)."""
    ids = torch.tensor([_encode(tokenizer, render_prompt(tokenizer, prompt))])
    attention = torch.ones_like(ids)
    timings = []
    for i in range(warmup + runs):
        started = time.perf_counter()
        model(input_ids=ids, attention_mask=attention, logits_to_keep=1, use_cache=False)
        if i >= warmup:
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)

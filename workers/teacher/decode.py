"""One batch of generation: prefill, then one forward per step with the KV cache.

Finished rows stay in the batch (their outputs are no longer recorded) until a
quarter of the rows have finished; then the cache, mask and bookkeeping are
compacted to the live rows in one ``index_select``, which costs less than copying
the cache every time a single row ends.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from workers.softcodec import draw_targets
from workers.teacher.base import draws_of
from workers.teacher.batching import left_pad
from workers.teacher.sampling import choose_tokens, request_uniforms, soft_target_rows

COMPACT_BELOW = 0.75
DECODE_PROGRESS_EVERY_S = 0.5


class PreallocatedLayer(DynamicLayer):
    """A KV-cache layer allocated once at its final length and filled in place.

    ``DynamicLayer`` concatenates on every step (copying the whole cache each time);
    this writes each step's keys/values into a buffer sized prompt + max new tokens
    and hands attention a view of the filled part.
    """

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = capacity
        self.length = 0

    def lazy_initialization(self, key_states, value_states):
        self.dtype, self.device = key_states.dtype, key_states.device
        b, h, _, d = key_states.shape
        self._k = torch.empty((b, h, self.capacity, d), dtype=key_states.dtype, device=key_states.device)
        self._v = torch.empty(
            (b, h, self.capacity, value_states.shape[-1]), dtype=value_states.dtype, device=value_states.device
        )
        self.is_initialized = True

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n = key_states.shape[-2]
        end = self.length + n
        if end > self.capacity:
            raise RuntimeError(f"KV cache capacity {self.capacity} exceeded")
        self._k[:, :, self.length : end] = key_states
        self._v[:, :, self.length : end] = value_states
        self.length = end
        self.keys = self._k[:, :, :end]
        self.values = self._v[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def batch_select_indices(self, indices):
        if self.is_initialized:
            self._k = self._k[indices]
            self._v = self._v[indices]
            self.keys = self._k[:, :, : self.length]
            self.values = self._v[:, :, : self.length]


def new_cache(config, capacity: int) -> DynamicCache:
    """A preallocated cache for plain full-attention models; HF's own for anything else
    (sliding windows, linear attention) whose layers need their special handling."""
    text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    layer_types = getattr(text, "layer_types", None)
    full_only = getattr(text, "sliding_window", None) is None and (
        layer_types is None or all(t == "full_attention" for t in layer_types)
    )
    if not full_only:
        return DynamicCache(config=config)
    cache = DynamicCache()
    cache.layer_class_to_replicate = lambda: PreallocatedLayer(capacity)
    return cache


class DecodeBatch:
    def __init__(self, teacher, prompt_ids: list[list[int]], seeds: list[int], params, caps: list[int]):
        self.model = teacher.model
        self.tokenizer = teacher.tokenizer
        self.device = teacher.device
        self.pad_id = teacher.pad_id
        self.eos_id = teacher.eos_id
        self.prompt_ids = prompt_ids
        self.seeds = seeds
        self.params = params
        self.caps = caps
        stops = params.stop
        # A stop string of L characters spans at most 4L byte-level tokens (+1 for a partial).
        self.stop_window = 4 * max((len(s) for s in stops), default=0) + 1
        self.on_progress = getattr(teacher, "on_decode_progress", None)

    def run(self) -> list[dict]:
        p = self.params
        dev = self.device
        b = len(self.prompt_ids)
        steps = max(self.caps)
        input_ids, prompt_mask = left_pad(self.prompt_ids, self.pad_id)
        width = input_ids.shape[1]
        mask = torch.zeros((b, width + steps), dtype=torch.long, device=dev)
        mask[:, :width] = prompt_mask
        positions = (prompt_mask.cumsum(-1) - 1).clamp(min=0)
        cache = new_cache(self.model.config, width + steps)
        out = self.model(
            input_ids=input_ids.to(dev),
            attention_mask=mask[:, :width],
            position_ids=positions.to(dev),
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        logits = out.logits[:, -1]
        del out
        next_pos = positions[:, -1].to(dev) + 1
        vocab = logits.shape[-1]
        k = min(p.top_k, vocab)
        uniforms = request_uniforms(self.seeds, steps).to(dev, torch.float32)
        tokens = torch.zeros((b, steps), dtype=torch.long, device=dev)
        topk_ids = torch.zeros((b, steps, k), dtype=torch.int32, device=dev)
        topk_lp = torch.zeros((b, steps, k), dtype=torch.float32, device=dev)
        tails = torch.zeros((b, steps), dtype=torch.float32, device=dev)
        chosen_lp = torch.zeros((b, steps), dtype=torch.float32, device=dev)
        m = draws_of(p)
        if m:  # RS-KD draws, from their own per-request stream (the text's stays as it was)
            draw_u = request_uniforms(self.seeds, steps * m, stream=1).view(b, steps, m).to(dev)
            sample_ids = torch.zeros((b, steps, m), dtype=torch.int32, device=dev)
            sample_logw = torch.zeros((b, steps, m), dtype=torch.float32, device=dev)
        lengths = [0] * b
        finish: list[str | None] = [None] * b
        caps = torch.as_tensor(self.caps, device=dev)
        rows = torch.arange(b, device=dev)  # original row of each cache row
        live = torch.ones(b, dtype=torch.bool, device=dev)
        reported = time.monotonic()

        for step in range(steps):
            logprobs, ids, lps, tail = soft_target_rows(logits, k)
            ban = self.eos_id if step < p.min_new_tokens else None
            nxt = choose_tokens(logprobs, uniforms[rows, step], p.temperature, p.top_p, ban)
            picked = logprobs.gather(-1, nxt[:, None]).squeeze(-1)
            dest = rows[live]
            tokens[dest, step] = nxt[live]
            topk_ids[dest, step] = ids[live].to(torch.int32)
            topk_lp[dest, step] = lps[live]
            tails[dest, step] = tail[live]
            chosen_lp[dest, step] = picked[live]
            if m:
                ids_m, logw_m = draw_targets(logprobs[live], draw_u[dest, step])
                sample_ids[dest, step], sample_logw[dest, step] = ids_m, logw_m.to(sample_logw.dtype)

            ended = torch.zeros_like(live)
            if self.eos_id is not None:
                ended |= nxt == self.eos_id
            ended |= (step + 1) >= caps[rows]
            ended &= live
            stopped = self._stop_hits(tokens, rows, live, step) if p.stop else None
            for r in (ended | stopped if stopped is not None else ended).nonzero().flatten().tolist():
                orig = int(rows[r])
                lengths[orig] = step + 1
                if self.eos_id is not None and int(nxt[r]) == self.eos_id:
                    finish[orig] = "eos"
                elif stopped is not None and bool(stopped[r]):
                    finish[orig] = "stop"
                else:
                    finish[orig] = "length"
            live = live & ~ended
            if stopped is not None:
                live &= ~stopped
            n_live = int(live.sum())
            if n_live == 0:
                break
            if self.on_progress is not None and time.monotonic() - reported >= DECODE_PROGRESS_EVERY_S:
                reported = time.monotonic()
                self._report(step, rows[live], caps, lengths)
            if n_live < COMPACT_BELOW * len(rows):
                keep = live.nonzero().flatten()
                cache.batch_select_indices(keep)
                mask = mask[keep]
                rows = rows[keep]
                next_pos = next_pos[keep]
                nxt = nxt[keep]
                live = torch.ones(len(keep), dtype=torch.bool, device=dev)
            mask[:, width + step] = 1
            out = self.model(
                input_ids=nxt[:, None],
                attention_mask=mask[:, : width + step + 1],
                position_ids=next_pos[:, None],
                past_key_values=cache,
                use_cache=True,
            )
            logits = out.logits[:, -1]
            del out
            next_pos = next_pos + 1

        tokens, topk_ids, topk_lp = tokens.cpu().numpy(), topk_ids.cpu().numpy(), topk_lp.cpu().numpy()
        tails, chosen_lp = tails.cpu().numpy(), chosen_lp.cpu().numpy()
        if m:
            sample_ids, sample_logw = sample_ids.cpu().numpy(), sample_logw.cpu().numpy()
        results = []
        for r in range(b):
            n = lengths[r]
            results.append(
                {
                    "token_ids": tokens[r, :n].astype(np.int32),
                    "topk_ids": topk_ids[r, :n],
                    "topk_logprobs": topk_lp[r, :n].astype(np.float16),
                    "tail_logprob": tails[r, :n],
                    "token_logprob": chosen_lp[r, :n],
                    "finish_reason": finish[r] or "length",
                    **({"sample_ids": sample_ids[r, :n], "sample_logw": sample_logw[r, :n]} if m else {}),
                }
            )
        return results

    def _report(self, step: int, live_rows, caps, lengths) -> None:
        """Work done so far in this batch: finished rows count 1, live ones their share of their cap."""
        n_live = len(live_rows)
        used = float(((step + 1) / caps[live_rows].float()).clamp(max=1.0).sum())
        finished = len(self.prompt_ids) - n_live
        self.on_progress(finished + used, sum(lengths) + (step + 1) * n_live)

    def _stop_hits(self, tokens, rows, live, step) -> torch.Tensor:
        hits = torch.zeros_like(live)
        lo = max(0, step + 1 - self.stop_window)
        window = tokens[:, lo : step + 1]
        for r in live.nonzero().flatten().tolist():
            text = self.tokenizer.decode(window[int(rows[r])].tolist(), skip_special_tokens=True)
            if any(s in text for s in self.params.stop):
                hits[r] = True
        return hits

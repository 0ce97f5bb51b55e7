"""Length buckets, left padding and out-of-memory back-off, shared by the local engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


def is_out_of_memory(exc: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def length_buckets(
    lengths: Sequence[int], max_batch_size: int, max_batch_tokens: int, extra_tokens: int = 0
) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first).

    A batch holds at most ``max_batch_size`` rows and ``max_batch_tokens`` padded
    tokens (``rows * (longest + extra_tokens)``); it is also cut where the next row is
    less than half as long as the batch's longest (give or take 8 tokens), so short
    prompts don't pay for the padding of a few long ones.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current:
            longest = lengths[current[0]]
            rows = len(current) + 1
            too_many = rows > max_batch_size or rows * (longest + extra_tokens) > max_batch_tokens
            too_uneven = lengths[i] + 8 < longest // 2
            if too_many or too_uneven:
                batches.append(current)
                current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def left_pad(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` with every row right-aligned."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        if s:
            ids[r, width - len(s) :] = torch.as_tensor(list(s), dtype=torch.long)
            mask[r, width - len(s) :] = 1
    return ids, mask


@dataclass
class BackOff:
    """The current batch size, halved on every out-of-memory error and kept halved."""

    size: int

    def run(
        self,
        items: list,
        fn: Callable[[list], list],
        on_done: Callable[[list], bool],
        on_fail: Callable[[list, str], list],
    ) -> bool:
        """Run ``fn`` over ``items`` in chunks of ``size``, halving on OOM.

        ``on_done(results)`` returns True to stop; a chunk of one that still runs out of
        memory becomes ``on_fail(chunk, message)``. Returns True when stopped.
        """
        start = 0
        while start < len(items):
            chunk = items[start : start + self.size]
            try:
                results = fn(chunk)
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                if len(chunk) == 1:
                    results = on_fail(chunk, "out of memory even at batch size 1")
                else:
                    self.size = max(1, len(chunk) // 2)
                    continue
            start += len(chunk)
            if on_done(results):
                return True
        return False

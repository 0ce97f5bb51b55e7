"""The teacher interface shared by every backend, and its request/result types.

A caller hands ``generate``/``score``/``classify`` a list of requests, each with an
opaque ``key`` (for instance ``(prompt_id, sample_index)``) it gets back on the
matching result. Results arrive batch by batch through ``on_batch`` so a job can
persist them as it goes; ``on_batch`` returning ``CANCEL`` (or raising
``Cancelled``) stops the run after that batch. A problem with one prompt (too long
for the model's context, a server error for that prompt) becomes ``result.error``;
only problems with the whole run (bad model path, unreachable server, unsupported
feature) raise a ``TeacherError``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workers.softtargets import SoftTargets

FINISH_REASONS = ("stop", "length", "eos")
# Soft-target width: top-k log-probabilities kept per token (20 is the usual server cap, e.g. vLLM's).
DEFAULT_TOP_K = 20
# What a job stores per response token: the top-k and a tail bucket, or RS-KD's importance-sampled
# tokens with their weights (DEFAULT_DRAWS per position; workers/softcodec.py) instead of the top-k.
SOFT_TARGET_KINDS = ("topk", "sampled")
DEFAULT_DRAWS = 12
MAX_DRAWS = 256
CANCEL = "cancel"
Prompt = str | list[dict[str, Any]]


class TeacherError(Exception):
    """A failure of the whole teacher run, with a message fit to show a user."""


class ModelLoadError(TeacherError):
    pass


class ServerUnreachableError(TeacherError):
    pass


class UnsupportedFeatureError(TeacherError):
    pass


class Cancelled(TeacherError):
    """Raised by an ``on_batch`` callback (or returned as ``CANCEL``) to stop a run."""


@dataclass
class GenerationParams:
    """Sampling settings. ``n`` is what ``expand_requests`` uses: ``generate`` itself takes
    one request per sample (``sample_index`` tells the samples of a prompt apart)."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 128
    min_new_tokens: int = 0
    stop: list[str] = field(default_factory=list)
    seed: int = 0
    top_k: int = DEFAULT_TOP_K  # soft-target width, not a sampling filter
    soft_targets: str = "topk"  # or "sampled": RS-KD draws stored instead of the top-k
    draws: int = DEFAULT_DRAWS  # RS-KD tokens drawn per position (soft_targets = "sampled")

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ValueError("min_new_tokens must be between 0 and max_new_tokens")
        if self.top_k < 1:
            raise ValueError(f"top_k (soft-target width) must be at least 1, got {self.top_k}")
        check_soft_targets(self.soft_targets, self.draws)
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        self.stop = [s for s in self.stop if s]

    @classmethod
    def from_dict(cls, d: dict | None) -> GenerationParams:
        d = dict(d or {})
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown generation parameter(s): {', '.join(sorted(unknown))}")
        return cls(**d)


def check_soft_targets(kind: str, draws: int) -> None:
    """The core's own check of a soft-target choice (the launch names the field first)."""
    if kind not in SOFT_TARGET_KINDS:
        raise ValueError(f"soft_targets must be one of {', '.join(SOFT_TARGET_KINDS)}, got {kind!r}")
    if not 1 <= draws <= MAX_DRAWS:
        raise ValueError(f"draws (RS-KD tokens per position) must be between 1 and {MAX_DRAWS}, got {draws}")


def draws_of(params) -> int:
    """RS-KD draws per position a generation stores, 0 for top-k soft targets."""
    return params.draws if params.soft_targets == "sampled" else 0


@dataclass
class GenerationRequest:
    key: Any
    prompt: Prompt
    sample_index: int = 0


@dataclass
class GenerationResult:
    key: Any
    text: str = ""
    finish_reason: str | None = None
    soft_targets: SoftTargets | None = None
    stats: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def token_count(self) -> int:
        return len(self.soft_targets) if self.soft_targets is not None else 0


@dataclass
class ScoreRequest:
    key: Any
    prompt: Prompt
    text: str


@dataclass
class ScoreResult:
    key: Any
    soft_targets: SoftTargets | None = None
    stats: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def token_count(self) -> int:
        return len(self.soft_targets) if self.soft_targets is not None else 0


@dataclass
class ClassifyRequest:
    key: Any
    prompt: Prompt


@dataclass
class ClassifyResult:
    key: Any
    distribution: dict[str, float] = field(default_factory=dict)
    label_logprobs: dict[str, float] = field(default_factory=dict)
    predicted: str | None = None
    margin: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class NextTokenResult:
    """The most likely next tokens after a prompt: ``{token text: log-prob}`` (a judge reads
    its grade from these)."""

    key: Any
    logprobs: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def add_logprob(table: dict[str, float], text: str, logprob: float) -> None:
    """Two tokens that read the same (byte-level pieces) share one entry: their mass adds up."""
    import math

    if text in table:
        hi, lo = max(table[text], logprob), min(table[text], logprob)
        table[text] = hi + math.log1p(math.exp(lo - hi))
    else:
        table[text] = logprob


@dataclass
class RunStats:
    """What a run did: for progress bars and tokens/s."""

    requests: int = 0
    done: int = 0
    errors: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.perf_counter)
    cancelled: bool = False
    server: dict = field(default_factory=dict)  # an HTTP teacher's requests, retries, errors, throughput

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.elapsed if self.elapsed > 0 else 0.0


OnBatch = Callable[[list, RunStats], Any]


def expand_requests(prompts: Sequence[tuple[Any, Prompt]], n: int) -> list[GenerationRequest]:
    """One request per (prompt, sample index): keys are ``(prompt_key, sample_index)``."""
    return [GenerationRequest(key=(k, i), prompt=p, sample_index=i) for k, p in prompts for i in range(n)]


def request_seed(seed: int, sample_index: int, rendered_prompt: str) -> int:
    """A per-request seed that does not depend on batching, so a rerun (or a batch size
    halved after an out-of-memory error) samples the same text for the same request."""
    h = hashlib.sha256(f"{seed}\x00{sample_index}\x00{rendered_prompt}".encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


def finish_batch(results: list, stats: RunStats, on_batch: OnBatch | None) -> bool:
    """Account for a finished batch and call the hook; True when the caller asked to stop."""
    stats.done += len(results)
    stats.errors += sum(1 for r in results if getattr(r, "error", None))
    stats.tokens += sum(getattr(r, "token_count", 0) for r in results)
    if on_batch is None:
        return False
    try:
        signal = on_batch(results, stats)
    except Cancelled:
        stats.cancelled = True
        return True
    if signal == CANCEL or signal is False:
        stats.cancelled = True
        return True
    return False


class Teacher:
    """One interface, several backends (``transformers``, ``openai``).

    Every method returns results in request order (plus ``self.last_run``: a
    ``RunStats``), calling ``on_batch(results_of_batch, stats)`` as batches finish.
    A cancelled run returns only what finished before the cancel.
    """

    last_run: RunStats | None = None
    # Called while a batch decodes, at most every ``DECODE_PROGRESS_EVERY_S``, with
    # ``(requests' worth done, tokens generated)`` inside that batch: a finished request
    # counts 1, one still decoding the share of its token budget it has used. A job's bar
    # moves during a long first batch instead of jumping from 0 to 100%.
    on_decode_progress: Callable[[float, int], Any] | None = None

    def generate(
        self, requests: Sequence[GenerationRequest], params: GenerationParams, on_batch: OnBatch | None = None
    ) -> list[GenerationResult]:
        raise NotImplementedError

    def score(
        self,
        requests: Sequence[ScoreRequest],
        top_k: int = DEFAULT_TOP_K,
        on_batch: OnBatch | None = None,
        *,
        draws: int = 0,
    ) -> list[ScoreResult]:
        """Soft targets of given text; ``draws`` > 0 stores that many RS-KD draws per position
        instead of the top-k (whose statistics the result still reports)."""
        raise NotImplementedError

    def classify(
        self, requests: Sequence[ClassifyRequest], labels: Sequence[str], on_batch: OnBatch | None = None
    ) -> list[ClassifyResult]:
        raise NotImplementedError

    def next_token_logprobs(
        self, requests: Sequence[GenerationRequest], top_k: int = DEFAULT_TOP_K, candidates: Sequence[str] = ()
    ) -> list[NextTokenResult]:
        """Per request, the ``top_k`` most likely next tokens' log-probabilities (temperature
        1, before any sampling filter); a backend that sees the whole distribution also adds
        every token whose text, stripped, is one of ``candidates``."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def label_distribution(label_logprobs: dict[str, float]) -> tuple[dict[str, float], str, float]:
    """Normalize summed continuation log-probabilities into (distribution, predicted, margin)."""
    import math

    m = max(label_logprobs.values())
    weights = {k: math.exp(v - m) for k, v in label_logprobs.items()}
    total = sum(weights.values())
    dist = {k: w / total for k, w in weights.items()}
    ranked = sorted(dist.items(), key=lambda kv: kv[1], reverse=True)
    margin = ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else 0.0)
    return dist, ranked[0][0], margin


def check_labels(labels: Sequence[str]) -> list[str]:
    labels = list(labels)
    if not labels:
        raise TeacherError("classification needs at least one label")
    if len(set(labels)) != len(labels):
        raise TeacherError("classification labels must be distinct")
    return labels

"""The focus view's token heatmap: the teacher's confidence in each token of a response.

Soft targets come from the shard store (``workers.softtargets``); token ids are
decoded with the teacher's own tokenizer (the ModelSpec's ``tokenizer_path``, else
its local ``path``), loaded once per process and kept. When it cannot be loaded, the
heatmap shows token ids and says why.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from curation.models import ModelSpec
from workers.softtargets import SoftTargetError, read_soft_targets

MAX_TOKENS = 2000
ALTERNATIVES = 5
# Probability floors of the shading buckets: bucket 0 (no shade) is a confident token.
SHADE_FLOORS = (0.9, 0.7, 0.5, 0.3)

_tokenizers: dict[str, object] = {}
_tokenizer_lock = threading.Lock()


class TokenizerUnavailable(Exception):
    pass


def load_tokenizer(path: str):
    """The tokenizer saved at ``path`` (cached, failures too: a missing path stays missing)."""
    with _tokenizer_lock:
        cached = _tokenizers.get(path)
    if cached is None:
        try:
            if not Path(path).is_dir():
                raise TokenizerUnavailable(f"no tokenizer folder at {path} on this server")
            from transformers import AutoTokenizer

            # Local files only: a page view must never wait on a model hub.
            cached = AutoTokenizer.from_pretrained(path, local_files_only=True)
        except TokenizerUnavailable as exc:
            cached = exc
        except Exception as exc:  # any loader failure means "show ids instead"
            cached = TokenizerUnavailable(f"the tokenizer at {path} could not be loaded ({type(exc).__name__}: {exc})")
        with _tokenizer_lock:
            _tokenizers[path] = cached
    if isinstance(cached, TokenizerUnavailable):
        raise cached
    return cached


def tokenizer_path(spec: ModelSpec | None) -> tuple[str | None, str]:
    """(path, why not) for a teacher's tokenizer."""
    if spec is None:
        return None, "the example has no teacher model recorded"
    if spec.tokenizer_path:
        return spec.tokenizer_path, ""
    if spec.backend == ModelSpec.Backend.TRANSFORMERS:
        return spec.path, ""
    return None, f"the teacher {spec.name!r} is served over HTTP; set a tokenizer path on its model spec to see text"


@dataclass
class Token:
    text: str
    probability: float
    shade: int
    alternatives: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Heatmap:
    tokens: list[Token]
    decoded: bool
    note: str = ""
    truncated: int = 0


END_OF_TEXT = "⟨end⟩"


def shade_of(probability: float) -> int:
    return next((i for i, floor in enumerate(SHADE_FLOORS) if probability >= floor), len(SHADE_FLOORS))


def _decoder(spec):
    """(id -> text, note)."""
    path, why = tokenizer_path(spec)
    if path is None:
        return (lambda i: f"#{i}"), f"Token ids shown: {why}."
    try:
        tokenizer = load_tokenizer(path)
    except TokenizerUnavailable as exc:
        return (lambda i: f"#{i}"), f"Token ids shown: {exc}."
    # The end of the answer reads as words, not as the tokenizer's markup ("<|endoftext|>").
    texts: dict[int, str] = {i: END_OF_TEXT for i in (getattr(tokenizer, "eos_token_id", None),) if i is not None}

    def decode(token_id: int) -> str:
        if token_id not in texts:
            texts[token_id] = tokenizer.decode([token_id])
        return texts[token_id]

    return decode, ""


def heatmap_for(example) -> Heatmap | None:
    """The heatmap of the example's current response, or a Heatmap with only a note saying why not."""
    if not example.soft_targets:
        why = (
            "This response was edited; the teacher's soft targets describe its original text until a score job "
            "re-scores the edit."
            if example.edited
            else "No soft targets are stored for this response."
        )
        return Heatmap([], False, why)
    try:
        st = read_soft_targets(settings.ARTIFACT_DIR, example.soft_targets)
    except SoftTargetError as exc:
        return Heatmap([], False, f"The soft targets cannot be read: {exc}")
    spec = example.sample.model_spec if example.sample_id else None
    decode, note = _decoder(spec)
    shown = min(len(st), MAX_TOKENS)
    topk_p = st.topk_logprobs[:shown].astype("float32")
    tokens = []
    for t in range(shown):
        token_id = int(st.token_ids[t])
        if st.token_logprob is not None:
            logp = float(st.token_logprob[t])
        else:
            hits = [j for j in range(st.k) if int(st.topk_ids[t, j]) == token_id]
            logp = float(topk_p[t, hits[0]]) if hits else float(st.tail_logprob[t])
        p = math.exp(logp)
        alternatives = [
            (decode(int(st.topk_ids[t, j])), math.exp(float(topk_p[t, j]))) for j in range(min(ALTERNATIVES, st.k))
        ]
        tokens.append(Token(decode(token_id), p, shade_of(p), alternatives))
    return Heatmap(tokens, decoded=not note, note=note, truncated=len(st) - shown)

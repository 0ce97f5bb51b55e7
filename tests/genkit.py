"""Helpers shared by the generation and scoring tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from curation.models import ModelSpec, Prompt
from curation.normalize import content_hash

TICKETS = [
    "Ticket: refund request\nCategory:",
    "Ticket: cannot sign in\nCategory:",
    "Ticket: page does not load\nCategory:",
    "My invoice shows a double charge",
    "How do I change the shipping address",
    "The app crashes every time I open",
    "I cannot log in to my account",
    "Thanks for the quick reply",
]


@pytest.fixture
def artifacts(settings, tmp_path):
    """ARTIFACT_DIR (where jobs write shards) in the test's own folder."""
    settings.ARTIFACT_DIR = tmp_path / "artifacts"
    return settings.ARTIFACT_DIR


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    """(model, tokenizer) of the tiny teacher, for direct forward passes."""
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), AutoTokenizer.from_pretrained(tiny_model_dir)


def teacher_spec(project, model_dir, name="tiny teacher", **fields) -> ModelSpec:
    fields.setdefault("options", {"max_batch_size": 4})
    fields.setdefault("role", "teacher")
    return ModelSpec.objects.create(project=project, name=name, backend="transformers", path=str(model_dir), **fields)


def add_prompts(project, texts, **fields) -> list[Prompt]:
    return [Prompt.objects.create(project=project, text=t, content_hash=content_hash(t, None), **fields) for t in texts]


def forward_logprobs(model, tokenizer, prompt_text, token_ids):
    """log_softmax of a direct forward pass at the positions that predict ``token_ids``."""
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    ids = prompt_ids + list(token_ids)
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    lp = torch.log_softmax(logits, -1).numpy()
    return lp[len(prompt_ids) - 1 : len(ids) - 1]


def assert_soft_targets_match(st, lp):
    """Stored soft targets are the forward pass's: the k most likely ids, their k + 1 buckets
    within the shard's rounding (float16 in v1, 6-bit in v2: well under 1e-2 nats of KL a
    position), and each token's own log-probability (float16)."""
    k = st.k
    exact = np.take_along_axis(lp, st.topk_ids.astype(np.int64), axis=1)
    assert np.allclose(exact, np.sort(lp, axis=1)[:, ::-1][:, :k], atol=2e-2, rtol=1e-3)

    def buckets(top, tail=None):
        if tail is None:
            tail = np.log1p(-np.minimum(np.exp(top.astype(np.float64)).sum(1), 1 - 1e-12))
        b = np.concatenate([top, np.maximum(tail, -30.0)[:, None]], 1).astype(np.float64)
        return b - np.logaddexp.reduce(b, axis=1, keepdims=True)

    want, got = buckets(exact), buckets(st.topk_logprobs.astype(np.float32), st.tail_logprob)
    kl = (np.exp(want) * (want - got)).sum(1)
    assert kl.mean() < 2e-3 and kl.max() < 1e-2
    assert np.allclose(st.token_logprob, lp[np.arange(len(st)), st.token_ids], atol=1e-2)

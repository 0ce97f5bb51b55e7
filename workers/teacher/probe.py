"""A quick look at a teacher before a job spends hours on it: can we reach and read it?

``probe(spec)`` takes the same dict as ``load_teacher`` and never loads weights:
for ``transformers`` it reads the config and the tokenizer; for ``openai`` it asks
the server for one token with log-probabilities, then once more with
``prompt_logprobs`` (what scoring and classification need). It returns a report
for people, never raises.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import requests

from workers.teacher.openai_backend import _message, _safe_url


@dataclass
class ProbeReport:
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)


def probe(spec: dict, timeout: float = 10.0) -> ProbeReport:
    spec = dict(spec or {})
    backend = spec.get("backend", "transformers")
    try:
        if backend == "transformers":
            return _probe_local(spec)
        if backend == "openai":
            return _probe_server(spec, timeout)
        return ProbeReport(False, f"unknown backend {backend!r}")
    except Exception as exc:
        return ProbeReport(False, f"unexpected problem: {type(exc).__name__}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _context_length(config) -> int | None:
    for name in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _probe_local(spec: dict) -> ProbeReport:
    from transformers import AutoConfig, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    name = str(spec.get("name_or_path") or spec.get("path") or "")
    revision = spec.get("revision") or None
    if not name:
        return ProbeReport(False, "no model path or hub name")
    if os.path.sep in name and not os.path.exists(name):
        return ProbeReport(
            False,
            f"{name} does not exist on this machine",
            ["The worker loads the model from its own disk: the path must exist there."],
        )
    try:
        config = AutoConfig.from_pretrained(name, revision=revision)
    except Exception as exc:
        return ProbeReport(False, f"cannot read the model config of {name!r}: {_first_line(exc)}")
    details = []
    causal = config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    details.append(f"model type {config.model_type}" + ("" if causal else " — not a causal language model"))
    context = _context_length(config)
    if context:
        details.append(f"context {context:,} tokens")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, revision=revision)
    except Exception as exc:
        return ProbeReport(False, f"the config loads, but the tokenizer does not: {_first_line(exc)}", details)
    details.append(f"tokenizer vocabulary {len(tokenizer):,}")
    details.append(
        "chat template: yes"
        if getattr(tokenizer, "chat_template", None)
        else "chat template: none (chat prompts use a plain 'Role: text' layout)"
    )
    vocab = getattr(config, "vocab_size", None)
    if isinstance(vocab, int) and len(tokenizer) > vocab:
        return ProbeReport(False, f"the tokenizer has {len(tokenizer):,} tokens but the model only {vocab:,}", details)
    if not causal:
        return ProbeReport(False, f"{config.model_type} models cannot generate text here", details)
    return ProbeReport(True, f"config and tokenizer of {name!r} load", details)


def _probe_server(spec: dict, timeout: float) -> ProbeReport:
    base = str(spec.get("base_url") or "").rstrip("/")
    if not base.startswith(("http://", "https://")):
        return ProbeReport(False, "the base URL must start with http:// or https://")
    if not base.endswith("/v1"):
        base += "/v1"
    shown = _safe_url(base)
    headers = {"Authorization": f"Bearer {spec['api_key']}"} if spec.get("api_key") else {}
    body = {"model": spec.get("model") or "", "prompt": "Hello", "max_tokens": 1, "temperature": 0, "logprobs": 1}
    details = []

    def post(payload):
        return requests.post(f"{base}/completions", json=payload, headers=headers, timeout=timeout)

    try:
        resp = post(body)
    except (requests.ConnectionError, requests.Timeout) as exc:
        return ProbeReport(False, f"cannot reach the teacher server at {shown} ({type(exc).__name__})")
    if resp.status_code in (401, 403):
        return ProbeReport(False, f"the server at {shown} refused the API key (HTTP {resp.status_code})")
    if resp.status_code >= 400:
        return ProbeReport(False, f"the server at {shown} answered HTTP {resp.status_code}: {_message(resp)}")
    try:
        choice = (resp.json().get("choices") or [{}])[0]
    except ValueError:
        return ProbeReport(False, f"the server at {shown} did not answer with JSON")
    if not (choice.get("logprobs") or {}).get("top_logprobs"):
        return ProbeReport(False, "the server answers but returns no log-probabilities; soft targets need 'logprobs'")
    details.append("generation with log-probabilities: yes")
    try:
        scored = post({**body, "prompt_logprobs": 1})
        has_prompt_lp = scored.status_code < 400 and bool(
            ((scored.json().get("choices") or [{}])[0]).get("prompt_logprobs")
        )
    except (requests.RequestException, ValueError):
        has_prompt_lp = False
    details.append("prompt log-probabilities (scoring, classification): " + ("yes" if has_prompt_lp else "no"))
    if spec.get("tokenizer"):
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(spec["tokenizer"])
            details.append(f"tokenizer {spec['tokenizer']}: vocabulary {len(tok):,}")
        except Exception as exc:
            return ProbeReport(
                False, f"the server answers, but the tokenizer does not load: {_first_line(exc)}", details
            )
    elif not spec.get("token_ids_in_response"):
        details.append("no tokenizer: token ids of soft targets will be unknown (-1), and scoring is not possible")
    return ProbeReport(True, f"the server at {shown} answers with log-probabilities", details)

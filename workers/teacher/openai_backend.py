"""The ``openai`` teacher: an OpenAI-compatible HTTP server (vLLM and others).

Generation uses ``/v1/completions`` (``endpoint="completions"``, default) or
``/v1/chat/completions`` (``endpoint="chat"``) with ``logprobs``/``top_logprobs`` = k.
The server should report raw log-probabilities (temperature 1, before top_p; vLLM's
default ``--logprobs-mode raw_logprobs``) so the soft targets mean what the local
backend's do. Scoring given text (and classification) needs the prompt's
log-probabilities: vLLM's ``prompt_logprobs`` extension on ``/v1/completions``; a
server without it gets a clear ``UnsupportedFeatureError``.

Token ids. Servers return token *strings*. With ``token_ids_in_response=True`` (vLLM's
``return_tokens_as_token_ids``) they come as ``token_id:<n>`` and map exactly. Otherwise
a ``tokenizer`` (local path or hub name, the teacher's own) maps each string back to the
id whose decoded text it is; a string that several ids decode to (partial UTF-8 bytes
all print as U+FFFD) or none does maps to -1, as does every token without a
tokenizer. Text, log-probabilities and statistics are right either way; -1 ids make
the sample unusable for token-level distillation (sequence-level still works).

The base URL and API key come from the caller's spec; the key is only ever sent as a
header and never appears in logs or error messages.

Keeping the server busy. ``concurrency`` requests are in flight at all times (a sliding
window over the whole call, not a barrier per batch: results still reach ``on_batch`` in
request order, ``batch_size`` at a time). A connection error, a timeout, HTTP 429 or a 5xx
is retried up to ``max_retries`` times after ``min(cap, base * 2**attempt)`` seconds times a
random factor in [0.5, 1.5) (jitter, so retries of many threads do not arrive together),
or after the server's ``Retry-After``. ``prompts_per_request`` > 1 sends that many prompts in
one ``/v1/completions`` request (OpenAI's and vLLM's list-valued ``prompt``): fewer round
trips; the group shares one seed (its first request's), so a sampled text then depends on
the grouping. ``server_stats()`` (also in ``RunStats.server`` after every batch) counts
requests, retries, errors by status and the server's throughput while the call ran.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from operator import itemgetter
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import requests
import requests.adapters

from workers.prompting import label_continuation, render_prompt
from workers.softtargets import SoftTargets, summarize, tail_logprob_from_topk
from workers.teacher.base import (
    DEFAULT_TOP_K,
    ClassifyRequest,
    ClassifyResult,
    GenerationParams,
    GenerationRequest,
    GenerationResult,
    ModelLoadError,
    NextTokenResult,
    OnBatch,
    RunStats,
    ScoreRequest,
    ScoreResult,
    ServerUnreachableError,  # noqa: F401  (re-exported: callers catch it here)
    Teacher,
    TeacherError,
    UnsupportedFeatureError,
    add_logprob,
    check_labels,
    draws_of,
    label_distribution,
    request_seed,
)
from workers.teacher.http_pool import BACKOFF_BASE_S, BACKOFF_CAP_S, RequestFailed, ServerPool, _message  # noqa: F401

_TOKEN_ID = re.compile(r"^token_id:(\d+)$")


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class OpenAITeacher(ServerPool, Teacher):
    def __init__(
        self,
        base_url: str,
        model: str = "",
        api_key: str | None = None,
        *,
        tokenizer: str | None = None,
        endpoint: str = "completions",
        timeout: float = 120.0,
        concurrency: int = 8,
        batch_size: int = 32,
        token_ids_in_response: bool = False,
        prompts_per_request: int = 1,
        max_retries: int = 4,
        max_logprobs: int = 20,
    ):
        if endpoint not in ("completions", "chat"):
            raise TeacherError(f"endpoint must be 'completions' or 'chat', got {endpoint!r}")
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise TeacherError(f"teacher server base URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.shown_url = _safe_url(self.base_url)
        self.model = model
        self.endpoint = endpoint
        self.timeout = timeout
        self.batch_size = max(1, batch_size)
        self.token_ids_in_response = token_ids_in_response
        self.concurrency = max(1, concurrency)
        self._session = requests.Session()
        # One kept-alive connection per request in flight: requests' default pool keeps 10, so
        # above that every request beyond the tenth opened (and the server accepted) a new one.
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=self.concurrency)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        if api_key:
            self._session.headers["Authorization"] = f"Bearer {api_key}"
        self.prompts_per_request = max(1, prompts_per_request)
        self.max_retries = max(0, max_retries)
        # The most top_logprobs the server returns (OpenAI: 20; vLLM: its --max-logprobs): a
        # judge asks for that many, so a grade below the server's top 20 can still be read.
        self.max_logprobs = max(1, max_logprobs)
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency)
        self._stats_lock = threading.Lock()
        self._server = {"requests": 0, "retries": 0, "errors": {}, "prompts": 0, "tokens": 0, "busy_s": 0.0}
        self._sleep = time.sleep
        self.tokenizer = None
        self._by_text: dict[str, int] = {}
        # token string -> id, filled as tokens arrive (at most the vocabulary): a response's parse
        # runs on the request's thread while the next requests wait for the GIL.
        self._ids: dict[str, int] = {}
        if tokenizer:
            self._load_tokenizer(tokenizer)

    def _load_tokenizer(self, name: str) -> None:
        from transformers import AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(name)
        except Exception as exc:
            raise ModelLoadError(
                f"cannot load tokenizer {name!r} for the teacher server: {str(exc).splitlines()[0]}"
            ) from exc
        seen: dict[str, int] = {}
        ambiguous = set()
        for i in range(len(self.tokenizer)):
            s = self.tokenizer.decode([i])
            if s in seen:
                ambiguous.add(s)
            seen[s] = i
        self._by_text = {s: i for s, i in seen.items() if s not in ambiguous and "\ufffd" not in s}

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self._session.close()

    # -- HTTP -------------------------------------------------------------------------

    def _token_id(self, token: str) -> int:
        found = self._ids.get(token)
        if found is None:
            m = _TOKEN_ID.match(token)
            found = self._ids[token] = int(m.group(1)) if m else self._by_text.get(token, -1)
        return found

    def _render(self, prompt) -> str:
        return render_prompt(self.tokenizer, prompt)

    # -- generation ---------------------------------------------------------------------

    def generate(
        self, requests_: Sequence[GenerationRequest], params: GenerationParams, on_batch: OnBatch | None = None
    ) -> list[GenerationResult]:
        if draws_of(params):
            raise UnsupportedFeatureError(self._no_sampling())
        stats = RunStats(requests=len(requests_))
        self.last_run = stats
        per = self.prompts_per_request if self.endpoint == "completions" else 1
        fn = (lambda g: self._generate_group(g, params)) if per > 1 else (lambda g: [self._generate_one(g[0], params)])
        return self._run_window(
            fn, requests_, lambda r, err: GenerationResult(key=r.key, error=err), stats, on_batch, per_call=per
        )

    def _body(self, r: GenerationRequest, params: GenerationParams, rendered: str | None) -> dict:
        seed = request_seed(params.seed, r.sample_index, rendered or repr(r.prompt)) % (2**31)
        body = {
            "model": self.model,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": seed,
            "n": 1,
        }
        if params.stop:
            body["stop"] = params.stop
        if params.min_new_tokens:
            body["min_tokens"] = params.min_new_tokens
        if self.token_ids_in_response:
            body["return_tokens_as_token_ids"] = True
        return body

    def _generate_one(self, r: GenerationRequest, params: GenerationParams) -> GenerationResult:
        k = params.top_k
        rendered = self._render(r.prompt) if self.endpoint == "completions" or self.tokenizer is not None else None
        body = self._body(r, params, rendered)
        if self.endpoint == "completions":
            body.update(prompt=rendered, logprobs=k)
            return self._completion_result(r, self._first_choice(self._post("completions", body)), params)
        messages = r.prompt if isinstance(r.prompt, list) else [{"role": "user", "content": r.prompt}]
        body.update(messages=messages, logprobs=True, top_logprobs=k)
        choice = self._first_choice(self._post("chat/completions", body))
        text = (choice.get("message") or {}).get("content") or ""
        content = (choice.get("logprobs") or {}).get("content") or []
        tokens = [c.get("token", "") for c in content]
        chosen = [c.get("logprob") for c in content]
        tops = [[(t.get("token", ""), t.get("logprob")) for t in c.get("top_logprobs") or []] for c in content]
        return self._result(r, choice, params, text, tokens, chosen, tops)

    def _generate_group(self, group: list[GenerationRequest], params: GenerationParams) -> list[GenerationResult]:
        """Several prompts in one completions request (a list-valued ``prompt``)."""
        rendered = [self._render(r.prompt) for r in group]
        body = self._body(group[0], params, rendered[0])
        body.update(prompt=rendered, logprobs=params.top_k)
        choices = (self._post("completions", body) or {}).get("choices") or []
        by_index = {c.get("index", i): c for i, c in enumerate(choices)}
        results = []
        for i, r in enumerate(group):
            try:
                if i not in by_index:
                    raise RequestFailed("the teacher server's response has no choice for this prompt")
                results.append(self._completion_result(r, by_index[i], params))
            except RequestFailed as exc:
                results.append(GenerationResult(key=r.key, error=str(exc)))
        return results

    def _completion_result(self, r, choice: dict, params: GenerationParams) -> GenerationResult:
        lp = choice.get("logprobs") or {}
        tops = [list((d or {}).items()) for d in (lp.get("top_logprobs") or [])]
        return self._result(
            r, choice, params, choice.get("text") or "", lp.get("tokens") or [], lp.get("token_logprobs") or [], tops
        )

    def _result(self, r, choice, params, text, tokens, chosen, tops) -> GenerationResult:
        if not tokens or len(tops) != len(tokens):
            raise RequestFailed(
                "the teacher server returned no per-token log-probabilities; "
                "it must support 'logprobs' (and 'top_logprobs')"
            )
        st = self._soft_targets(tokens, chosen, tops, params.top_k)
        finish = _finish_reason(choice, params)
        return GenerationResult(key=r.key, text=text, finish_reason=finish, soft_targets=st, stats=summarize(st))

    def next_token_logprobs(
        self, requests_: Sequence[GenerationRequest], top_k: int = DEFAULT_TOP_K, candidates: Sequence[str] = ()
    ) -> list[NextTokenResult]:
        """The server's ``top_logprobs`` for one generated token (a server shows no more than
        its top-k, so ``candidates`` outside them stay absent)."""
        pairs = self._map_parallel(lambda r: self._top_next(r, top_k), list(requests_))
        return [
            NextTokenResult(key=r.key, logprobs=table) if table is not None else NextTokenResult(key=r.key, error=err)
            for r, (table, err) in zip(requests_, pairs)
        ]

    def _top_next(self, r: GenerationRequest, k: int) -> dict[str, float]:
        body = {"model": self.model, "max_tokens": 1, "temperature": 0.0, "n": 1}
        if self.endpoint == "completions":
            body.update(prompt=self._render(r.prompt), logprobs=k)
            lp = self._first_choice(self._post("completions", body)).get("logprobs") or {}
            tops = [list((d or {}).items()) for d in (lp.get("top_logprobs") or [])]
        else:
            messages = r.prompt if isinstance(r.prompt, list) else [{"role": "user", "content": r.prompt}]
            body.update(messages=messages, logprobs=True, top_logprobs=k)
            content = (self._first_choice(self._post("chat/completions", body)).get("logprobs") or {}).get("content")
            tops = [
                [(t.get("token", ""), t.get("logprob")) for t in c.get("top_logprobs") or []] for c in content or []
            ]
        if not tops or not tops[0]:
            raise RequestFailed(
                "the server returned no top log-probabilities for the next token; it must support "
                "'logprobs' with 'top_logprobs'"
            )
        table: dict[str, float] = {}
        for token, value in tops[0]:
            if value is None:
                continue
            m = _TOKEN_ID.match(token)
            if m and self.tokenizer is not None:
                token = self.tokenizer.decode([int(m.group(1))])
            add_logprob(table, token, float(value))
        return table

    @staticmethod
    def _first_choice(payload: dict) -> dict:
        choices = payload.get("choices") or []
        if not choices:
            raise RequestFailed("the teacher server's response has no choices")
        return choices[0]

    def _soft_targets(self, tokens, chosen, tops, k) -> SoftTargets:
        t = len(tokens)
        topk_ids = np.full((t, k), -1, dtype=np.int32)
        topk_lp = np.full((t, k), -np.inf, dtype=np.float32)
        ids, token_id, by_value = self._ids, self._token_id, itemgetter(1)
        for row, entries in enumerate(tops):
            entries = sorted((e for e in entries if e[1] is not None), key=by_value, reverse=True)[:k]
            if entries:
                n = len(entries)
                topk_ids[row, :n] = [ids[tok] if tok in ids else token_id(tok) for tok, _ in entries]
                topk_lp[row, :n] = [v for _, v in entries]
        # Rows with fewer than k entries: the missing ones hold no mass.
        tail = tail_logprob_from_topk(topk_lp)
        topk_lp = np.where(np.isfinite(topk_lp), topk_lp, -65504.0)
        chosen_lp = np.asarray([v if v is not None else math.nan for v in chosen], dtype=np.float32)
        return SoftTargets(
            token_ids=np.asarray([token_id(x) for x in tokens], dtype=np.int32),
            topk_ids=topk_ids,
            topk_logprobs=topk_lp.astype(np.float16),
            tail_logprob=tail,
            token_logprob=chosen_lp,
        )

    # -- prompt log-probabilities: scoring and classification ------------------------------

    def _prompt_logprobs(self, prompt, text: str, k: int, *, end_with_eos: bool = False) -> SoftTargets:
        """Soft targets of ``text`` teacher-forced after ``prompt`` via ``prompt_logprobs``;
        ``end_with_eos``: the text is a whole answer, so its EOS position is scored too."""
        if self.tokenizer is None:
            raise UnsupportedFeatureError(
                "scoring given text on a teacher server needs the teacher's tokenizer in the model spec "
                "('tokenizer': a local path or hub name) to find where the text starts"
            )
        prompt_ids = self.tokenizer(self._render(prompt), add_special_tokens=False)["input_ids"]
        text_ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if not text_ids:
            raise RequestFailed("text to score is empty")
        if end_with_eos and self.tokenizer.eos_token_id is not None:
            text_ids = text_ids + [self.tokenizer.eos_token_id]
        body = {
            "model": self.model,
            "prompt": prompt_ids + text_ids,
            "max_tokens": 1,
            "temperature": 0.0,
            "prompt_logprobs": k,
        }
        try:
            choice = self._first_choice(self._post("completions", body))
        except RequestFailed as exc:
            if "prompt_logprobs" in str(exc):
                raise UnsupportedFeatureError(self._no_prompt_logprobs(str(exc))) from None
            raise
        rows = choice.get("prompt_logprobs")
        if not rows:
            raise UnsupportedFeatureError(self._no_prompt_logprobs("the response has no 'prompt_logprobs'"))
        rows = rows[len(prompt_ids) :]
        if len(rows) != len(text_ids):
            raise RequestFailed(f"server returned {len(rows)} prompt log-probabilities for {len(text_ids)} text tokens")
        topk_ids = np.full((len(rows), k), -1, dtype=np.int32)
        topk_lp = np.full((len(rows), k), -np.inf, dtype=np.float32)
        chosen = np.zeros(len(rows), dtype=np.float32)
        for i, (row, tid) in enumerate(zip(rows, text_ids)):
            entries = {int(key): float(v["logprob"] if isinstance(v, dict) else v) for key, v in (row or {}).items()}
            if tid not in entries:
                raise RequestFailed("server's prompt_logprobs omit the prompt's own token")
            chosen[i] = entries[tid]
            ranked = sorted(entries.items(), key=lambda e: -e[1])[:k]
            for col, (tok, v) in enumerate(ranked):
                topk_ids[i, col] = tok
                topk_lp[i, col] = v
        tail = tail_logprob_from_topk(topk_lp)
        topk_lp = np.where(np.isfinite(topk_lp), topk_lp, -65504.0)
        return SoftTargets(
            token_ids=np.asarray(text_ids, dtype=np.int32),
            topk_ids=topk_ids,
            topk_logprobs=topk_lp.astype(np.float16),
            tail_logprob=tail,
            token_logprob=chosen,
        )

    def _no_sampling(self) -> str:
        return (
            f"the teacher server at {self.shown_url} cannot give sampled soft targets: RS-KD draws tokens "
            "from the teacher's whole distribution at every position, and an OpenAI-compatible server "
            "returns only its top log-probabilities; use top-k soft targets, or a local (transformers) teacher"
        )

    def _no_prompt_logprobs(self, detail: str) -> str:
        return (
            f"the teacher server at {self.shown_url} does not offer prompt log-probabilities "
            f"('prompt_logprobs', a vLLM extension), so it cannot score given text: {detail}"
        )

    def score(
        self,
        requests_: Sequence[ScoreRequest],
        top_k: int = DEFAULT_TOP_K,
        on_batch: OnBatch | None = None,
        *,
        draws: int = 0,
    ) -> list[ScoreResult]:
        if draws:
            raise UnsupportedFeatureError(self._no_sampling())
        stats = RunStats(requests=len(requests_))
        self.last_run = stats

        def one(group):
            st = self._prompt_logprobs(group[0].prompt, group[0].text, top_k, end_with_eos=True)
            return [ScoreResult(key=group[0].key, soft_targets=st, stats=summarize(st))]

        return self._run_window(one, requests_, lambda r, err: ScoreResult(key=r.key, error=err), stats, on_batch)

    def classify(
        self, requests_: Sequence[ClassifyRequest], labels: Sequence[str], on_batch: OnBatch | None = None
    ) -> list[ClassifyResult]:
        labels = check_labels(labels)
        stats = RunStats(requests=len(requests_))
        self.last_run = stats

        def one(group):
            r = group[0]
            lps = {
                lab: float(self._prompt_logprobs(r.prompt, label_continuation(lab), 1).token_logprob.sum())
                for lab in labels
            }
            dist, pred, margin = label_distribution(lps)
            return [ClassifyResult(key=r.key, distribution=dist, label_logprobs=lps, predicted=pred, margin=margin)]

        return self._run_window(one, requests_, lambda r, err: ClassifyResult(key=r.key, error=err), stats, on_batch)


def _finish_reason(choice: dict, params: GenerationParams) -> str:
    """OpenAI says "stop" for an end-of-sequence token and a stop string alike; vLLM's
    ``stop_reason`` (the matched string, or None / a token id for EOS) tells them apart.
    Without it, "stop" counts as a stop string only when stop strings were asked for."""
    finish = choice.get("finish_reason") or "length"
    if finish != "stop":
        return "length"
    if "stop_reason" in choice:
        return "stop" if isinstance(choice["stop_reason"], str) else "eos"
    return "stop" if params.stop else "eos"

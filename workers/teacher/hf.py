"""The ``transformers`` teacher: a local path or hub name, run in-process.

Generation is our own decode loop rather than ``model.generate``: prompts sorted
into length buckets and left-padded, one prefill, then one forward per step over the
rows still running (finished rows are dropped from the KV cache once enough of them
have finished), soft targets taken from the same logits the token is sampled from.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from workers.prompting import label_continuation, render_prompt
from workers.softcodec import draw_targets
from workers.softtargets import SoftTargets, summarize
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
    Teacher,
    add_logprob,
    check_labels,
    finish_batch,
    label_distribution,
    request_seed,
)
from workers.teacher.batching import BackOff, left_pad, length_buckets
from workers.teacher.decode import DecodeBatch
from workers.teacher.sampling import request_uniforms, soft_target_rows


def _context_length(model, tokenizer) -> int:
    cfg = model.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    return value if isinstance(value, int) and 0 < value < 10**8 else 2048


def _use_fused_gelu(model) -> None:
    """Swap the Python tanh-GELU for the same formula as one fused kernel (a third of
    the CPU decode time on small models otherwise goes to its five elementwise ops)."""
    from transformers.activations import GELUTanh, NewGELUActivation

    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is NewGELUActivation:
                setattr(module, name, GELUTanh())


class HFTeacher(Teacher):
    def __init__(
        self,
        name_or_path: str,
        *,
        revision: str | None = None,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        max_batch_size: int = 128,
        max_batch_tokens: int = 32768,
        num_threads: int | None = None,
        trust_remote_code: bool = False,
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if num_threads:
            torch.set_num_threads(num_threads)
        self.name = str(name_or_path)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if dtype is None or dtype == "auto":
            dtype = torch.bfloat16 if self.device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        elif isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        if os.path.sep in self.name and not os.path.exists(self.name):
            raise ModelLoadError(f"teacher model path {self.name} does not exist")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                self.name, revision=revision, trust_remote_code=trust_remote_code
            )
            self.model = AutoModelForCausalLM.from_pretrained(
                self.name, revision=revision, dtype=dtype, trust_remote_code=trust_remote_code
            )
        except Exception as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"cannot load teacher model {self.name!r}: {first_line}") from exc
        self.model.to(self.device).eval()
        _use_fused_gelu(self.model)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.eos_id = self.tokenizer.eos_token_id
        self.context_length = _context_length(self.model, self.tokenizer)
        self.vocab_size = self.model.get_output_embeddings().weight.shape[0]
        self.max_batch_size = max_batch_size
        self.max_batch_tokens = max_batch_tokens
        self._backoff = BackOff(max_batch_size)

    # -- helpers ---------------------------------------------------------------------

    def encode_prompt(self, prompt) -> list[int]:
        return self.tokenizer(render_prompt(self.tokenizer, prompt), add_special_tokens=False)["input_ids"]

    def encode_text(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _too_long(self, n_tokens: int, extra: int) -> str | None:
        if n_tokens + extra > self.context_length:
            return (
                f"prompt is {n_tokens} tokens; with {extra} more it exceeds the model's context "
                f"of {self.context_length} tokens"
            )
        return None

    def _batches(self, lengths, extra_tokens: int):
        limit = min(self._backoff.size, self.max_batch_size)
        return length_buckets(lengths, limit, self.max_batch_tokens, extra_tokens)

    # -- generation ------------------------------------------------------------------

    def generate(
        self, requests: Sequence[GenerationRequest], params: GenerationParams, on_batch: OnBatch | None = None
    ) -> list[GenerationResult]:
        stats = RunStats(requests=len(requests))
        self.last_run = stats
        rendered = [render_prompt(self.tokenizer, r.prompt) for r in requests]
        ids = [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in rendered]
        results: dict[int, GenerationResult] = {}
        early, items = [], []
        for i, r in enumerate(requests):
            problem = "prompt is empty" if not ids[i] else self._too_long(len(ids[i]), 1)
            if problem:
                results[i] = GenerationResult(key=r.key, error=problem)
                early.append(results[i])
            else:
                items.append(i)
        if early and finish_batch(early, stats, on_batch):
            return _in_order(results)

        def run(chunk):
            seeds = [request_seed(params.seed, requests[i].sample_index, rendered[i]) for i in chunk]
            outs = self._generate_batch([ids[i] for i in chunk], seeds, params)
            res = [self._generation_result(requests[i].key, out, params) for i, out in zip(chunk, outs)]
            results.update(zip(chunk, res))
            return res

        def fail(chunk, message):
            res = [GenerationResult(key=requests[i].key, error=message) for i in chunk]
            results.update(zip(chunk, res))
            return res

        for bucket in self._batches([len(ids[i]) for i in items], params.max_new_tokens):
            if self._backoff.run([items[j] for j in bucket], run, lambda res: finish_batch(res, stats, on_batch), fail):
                break
        return _in_order(results)

    def _generation_result(self, key, out: dict, params: GenerationParams) -> GenerationResult:
        finish = out.pop("finish_reason")
        st = SoftTargets(**out)
        # The text leaves out a final EOS and everything from a stop string on; the soft
        # targets keep every generated token, including the one that completed the stop.
        text_ids = st.token_ids[:-1] if finish == "eos" else st.token_ids
        text = self.tokenizer.decode(text_ids.tolist(), skip_special_tokens=True)
        if finish == "stop":
            cuts = [text.find(s) for s in params.stop if s in text]
            if cuts:
                text = text[: min(cuts)]
        stats = summarize(st)  # from the top-k, also when only the RS-KD draws are kept
        st = st.sampled_only() if st.sampled else st
        return GenerationResult(key=key, text=text, finish_reason=finish, soft_targets=st, stats=stats)

    @torch.inference_mode()
    def _generate_batch(self, prompt_ids: list[list[int]], seeds: list[int], params: GenerationParams):
        caps = [min(params.max_new_tokens, self.context_length - len(p)) for p in prompt_ids]
        return DecodeBatch(self, prompt_ids, seeds, params, caps).run()

    # -- teacher forcing ---------------------------------------------------------------

    @torch.inference_mode()
    def _forced_logprobs(self, pairs: list[tuple[list[int], list[int]]], top_k: int | None, draws: int = 0):
        """Per pair (prompt ids, continuation ids): the continuation's token log-probs and,
        with ``top_k``, its soft-target rows (with ``draws`` > 0 RS-KD draws instead, seeded by
        the pair's ids). One padded forward for the whole chunk."""
        seqs = [p + c for p, c in pairs]
        input_ids, mask = left_pad(seqs, self.pad_id)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        max_cont = max(len(c) for _, c in pairs)
        out = self.model(
            input_ids=input_ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=position_ids.to(self.device),
            use_cache=False,
            logits_to_keep=max_cont + 1,
        )
        logits = out.logits.float()  # [B, max_cont + 1, V]; position j predicts token j + 1
        results = []
        for r, (p, c) in enumerate(pairs):
            t = len(c)
            if t == 0:
                results.append((np.zeros(0, np.float32), None))
                continue
            start = logits.shape[1] - 1 - t
            logprobs, topk_ids, topk_lp, tail = soft_target_rows(logits[r, start : start + t], top_k or 1)
            target = torch.as_tensor(c, device=logprobs.device)
            chosen = logprobs.gather(-1, target[:, None]).squeeze(-1)
            soft = None
            if top_k:
                sampled = {}
                if draws:
                    seed = request_seed(0, 0, ",".join(map(str, p + c)))
                    u = request_uniforms([seed], t * draws, stream=1).view(t, draws).to(logprobs.device)
                    ids_m, logw_m = draw_targets(logprobs, u)
                    sampled = {"sample_ids": ids_m.cpu().numpy(), "sample_logw": logw_m.cpu().numpy()}
                soft = SoftTargets(
                    token_ids=np.asarray(c, dtype=np.int32),
                    topk_ids=topk_ids.cpu().numpy(),
                    topk_logprobs=topk_lp.cpu().numpy().astype(np.float16),
                    tail_logprob=tail.cpu().numpy(),
                    token_logprob=chosen.cpu().numpy(),
                    **sampled,
                )
            results.append((chosen.cpu().numpy(), soft))
        del logits, out
        return results

    def _run_forced(self, items, top_k, make_result, make_error, on_batch, stats, draws=0) -> dict[int, object]:
        """items: list of (index, prompt_ids, continuation_ids); returns {index: result}."""
        results: dict[int, object] = {}
        lengths = [len(p) + len(c) for _, p, c in items]
        for bucket in self._batches(lengths, 0):
            members = [items[j] for j in bucket]

            def run(chunk):
                outs = self._forced_logprobs([(p, c) for _, p, c in chunk], top_k, draws)
                res = [make_result(idx, out) for (idx, _, _), out in zip(chunk, outs)]
                for (idx, _, _), r in zip(chunk, res):
                    results[idx] = r
                return res

            def fail(chunk, message):
                res = [make_error(idx, message) for idx, _, _ in chunk]
                for (idx, _, _), r in zip(chunk, res):
                    results[idx] = r
                return res

            if self._backoff.run(members, run, lambda res: finish_batch(res, stats, on_batch), fail):
                break
        return results

    def score(
        self,
        requests: Sequence[ScoreRequest],
        top_k: int = DEFAULT_TOP_K,
        on_batch: OnBatch | None = None,
        *,
        draws: int = 0,
    ) -> list[ScoreResult]:
        stats = RunStats(requests=len(requests))
        self.last_run = stats
        results: dict[int, ScoreResult] = {}
        items = []
        early = []
        for i, r in enumerate(requests):
            p, c = self.encode_prompt(r.prompt), self.encode_text(r.text)
            if c and self.eos_id is not None:
                # A scored text is a whole answer (a reviewer's edit, a gold reference): its
                # soft targets end with the EOS position, as a generated answer's do, so a
                # student trained on it learns to stop there.
                c = c + [self.eos_id]
            problem = (
                "text to score is empty" if not c else ("prompt is empty" if not p else self._too_long(len(p), len(c)))
            )
            if problem:
                results[i] = ScoreResult(key=r.key, error=problem)
                early.append(results[i])
            else:
                items.append((i, p, c))
        if early and finish_batch(early, stats, on_batch):
            return _in_order(results)

        def make(idx, out):
            _, st = out
            stats_ = summarize(st)  # from the top-k, also when only the RS-KD draws are kept
            return ScoreResult(key=requests[idx].key, soft_targets=st.sampled_only() if draws else st, stats=stats_)

        def error(idx, msg):
            return ScoreResult(key=requests[idx].key, error=msg)

        results.update(self._run_forced(items, top_k, make, error, on_batch, stats, draws))
        return _in_order(results)

    def classify(
        self, requests: Sequence[ClassifyRequest], labels: Sequence[str], on_batch: OnBatch | None = None
    ) -> list[ClassifyResult]:
        labels = check_labels(labels)
        stats = RunStats(requests=len(requests))
        self.last_run = stats
        label_ids = [self.encode_text(label_continuation(lab)) for lab in labels]
        results: dict[int, ClassifyResult] = {}
        early = []
        runnable = []
        for i, r in enumerate(requests):
            p = self.encode_prompt(r.prompt)
            problem = "prompt is empty" if not p else self._too_long(len(p), max(len(x) for x in label_ids))
            if problem:
                results[i] = ClassifyResult(key=r.key, error=problem)
                early.append(results[i])
            else:
                runnable.append((i, p))
        if early and finish_batch(early, stats, on_batch):
            return _in_order(results)
        if all(len(x) == 1 for x in label_ids):
            self._classify_single_tokens(
                requests, labels, [x[0] for x in label_ids], runnable, results, stats, on_batch
            )
            return _in_order(results)
        # Every (prompt, label) pair is one row; a chunk of prompts goes through together.
        per_chunk = max(1, self._backoff.size // len(labels))
        for start in range(0, len(runnable), per_chunk):
            chunk = runnable[start : start + per_chunk]
            items = [
                (ci * len(labels) + li, p, lid) for ci, (_, p) in enumerate(chunk) for li, lid in enumerate(label_ids)
            ]
            sums = self._run_forced(
                items,
                None,
                lambda idx, out: (idx, float(out[0].sum()), None),
                lambda idx, msg: (idx, None, msg),
                None,
                RunStats(),
            )
            batch_results = []
            for ci, (i, _) in enumerate(chunk):
                rows = [sums[ci * len(labels) + li] for li in range(len(labels))]
                errors = [row[2] for row in rows if row[2]]
                if errors:
                    res = ClassifyResult(key=requests[i].key, error=errors[0])
                else:
                    lps = {lab: row[1] for lab, row in zip(labels, rows)}
                    dist, pred, margin = label_distribution(lps)
                    res = ClassifyResult(
                        key=requests[i].key, distribution=dist, label_logprobs=lps, predicted=pred, margin=margin
                    )
                results[i] = res
                batch_results.append(res)
            if finish_batch(batch_results, stats, on_batch):
                break
        return _in_order(results)

    def _classify_single_tokens(self, requests, labels, tokens, runnable, results, stats, on_batch) -> None:
        """Every label is one token: one forward per prompt scores them all (the last
        position's log-softmax at each label's token), instead of one row per label."""
        for bucket in self._batches([len(p) for _, p in runnable], 0):
            members = [runnable[j] for j in bucket]

            def run(chunk):
                rows = self._next_token_logprobs([p for _, p in chunk], tokens)
                out = []
                for (i, _), row in zip(chunk, rows):
                    lps = dict(zip(labels, row))
                    dist, pred, margin = label_distribution(lps)
                    results[i] = ClassifyResult(
                        key=requests[i].key, distribution=dist, label_logprobs=lps, predicted=pred, margin=margin
                    )
                    out.append(results[i])
                return out

            def fail(chunk, message):
                out = []
                for i, _ in chunk:
                    results[i] = ClassifyResult(key=requests[i].key, error=message)
                    out.append(results[i])
                return out

            if self._backoff.run(members, run, lambda res: finish_batch(res, stats, on_batch), fail):
                break

    def next_token_logprobs(
        self, requests: Sequence[GenerationRequest], top_k: int = DEFAULT_TOP_K, candidates: Sequence[str] = ()
    ) -> list[NextTokenResult]:
        wanted = {c.strip() for c in candidates}
        # The whole distribution is here, so every token that spells a candidate is read exactly.
        extra = [i for i in range(self.vocab_size) if wanted and self.tokenizer.decode([i]).strip() in wanted]
        results: dict[int, NextTokenResult] = {}
        items = []
        for i, r in enumerate(requests):
            p = self.encode_prompt(r.prompt)
            problem = "prompt is empty" if not p else self._too_long(len(p), 1)
            if problem:
                results[i] = NextTokenResult(key=r.key, error=problem)
            else:
                items.append((i, p))
        stats = RunStats(requests=len(requests))
        self.last_run = stats
        for bucket in self._batches([len(p) for _, p in items], 1):
            members = [items[j] for j in bucket]

            def run(chunk):
                with torch.inference_mode():
                    rows = self._top_next(chunk, top_k, extra)
                for (i, _), row in zip(chunk, rows):
                    results[i] = NextTokenResult(key=requests[i].key, logprobs=row)
                return [results[i] for i, _ in chunk]

            def fail(chunk, message):
                for i, _ in chunk:
                    results[i] = NextTokenResult(key=requests[i].key, error=message)
                return [results[i] for i, _ in chunk]

            self._backoff.run(members, run, lambda res: finish_batch(res, stats, None), fail)
        return _in_order(results)

    def _top_next(self, chunk, top_k: int, extra: list[int]) -> list[dict[str, float]]:
        input_ids, mask = left_pad([p for _, p in chunk], self.pad_id)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(
            input_ids=input_ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=position_ids.to(self.device),
            use_cache=False,
            logits_to_keep=1,
        )
        logprobs = torch.log_softmax(out.logits[:, -1].float(), dim=-1).cpu()
        rows = []
        for row in logprobs:
            values, ids = row.topk(min(top_k, row.shape[-1]))
            chosen = dict(zip(ids.tolist(), values.tolist()))
            chosen.update({i: float(row[i]) for i in extra})
            table: dict[str, float] = {}
            for i, lp in chosen.items():
                add_logprob(table, self.tokenizer.decode([i]), lp)
            rows.append(table)
        return rows

    def _next_token_logprobs(self, prompts: list[list[int]], tokens: list[int]) -> list[list[float]]:
        input_ids, mask = left_pad(prompts, self.pad_id)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(
            input_ids=input_ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=position_ids.to(self.device),
            use_cache=False,
            logits_to_keep=1,
        )
        logprobs = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
        return logprobs[:, tokens].cpu().tolist()


def _in_order(results: dict[int, object]) -> list:
    return [results[i] for i in sorted(results)]

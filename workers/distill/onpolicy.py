"""On-policy stages (GKD, Agarwal et al. 2024): the student samples, the teacher scores, JSD trains.

On a stage's on-policy micro-batches (``OnPolicyConfig.fraction`` of them, chosen by a seeded
hash of the micro-batch, so a resumed run makes the same choices) the student samples a
completion for each of the batch's prompts, the teacher scores that text through its ordinary
scoring path (``Teacher.score``: the local transformers backend or an OpenAI-compatible
server's ``prompt_logprobs``, with the backend's retries), and the batch becomes those samples
with the teacher's top-k + tail soft targets; ``losses.topk_gkd_loss`` trains on it. The other
micro-batches train on the stage's records as any stage does.

The student is trained on the token ids the teacher scored (the sample's text tokenized again,
plus EOS): the same ids as sampled except where decoding and re-tokenizing differ. An empty
sample (EOS first) cannot be scored as text and is skipped; a micro-batch left with no sample
trains off-policy. Sampling uses its own seeded generator state (``fork_rng``), so the training
RNG, and a resumed run's samples, are what they would have been.

A teacher that cannot be reached (after the backend's retries) fails the job with a message
naming the stage and step; ``teacher_problem`` is the cheap check a launch makes first.
"""

from __future__ import annotations

import hashlib
import os
import time

import torch

from workers.distill import data as D
from workers.distill.errors import DistillError
from workers.distill.runfile import soft_record


def open_teacher(spec: dict):
    """The teacher of ``DistillConfig.teacher``; an HTTP teacher's key comes from its variable."""
    from workers.teacher import load_teacher

    spec = dict(spec)
    env = spec.pop("api_key_env", None)
    if env:
        key = os.environ.get(env)
        if not key:
            raise DistillError(f"the teacher's API key variable {env} is not set for this process")
        spec["api_key"] = key
    return load_teacher(spec)


def teacher_problem(spec: dict, timeout: float = 10.0) -> str | None:
    """Why on-policy training could not call this teacher now, or None when it can.

    Local: the model's config and tokenizer load from its path (no weights). Server: one
    cheap scoring request (a two-word text, top-1, no retries), the exact call training makes.
    """
    from workers.teacher import ScoreRequest, TeacherError

    spec = dict(spec or {})
    if spec.get("backend", "transformers") == "transformers":
        from workers.teacher.probe import probe

        report = probe(spec)
        return None if report.ok else report.summary
    try:
        teacher = open_teacher({**spec, "max_retries": 0, "timeout": timeout, "concurrency": 1})
    except (TeacherError, DistillError) as exc:
        return str(exc)
    try:
        result = teacher.score([ScoreRequest(key=0, prompt="Hello", text=" there")], top_k=1)[0]
    except TeacherError as exc:
        return str(exc)
    except Exception as exc:  # a server that answers nonsense: say so, never a 500
        return f"the teacher server's answer could not be read: {type(exc).__name__}: {exc}"
    finally:
        teacher.close()
    return None if result.ok else f"the teacher server could not score a test text: {result.error}"


def _unit(*parts) -> float:
    """A number in [0, 1) fixed by ``parts`` (the same after any restart)."""
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2**64


def _seed(*parts) -> int:
    return int(_unit("seed", *parts) * 2**62)


class OnPolicy:
    """Mixed into the recipe: which micro-batches are on-policy, and how one is built."""

    _teacher = None

    def _check_on_policy(self) -> None:
        """At setup: on-policy compares token distributions, so the tokenizers must match."""
        for i, stage in enumerate(self.config.stages):
            if stage.on_policy is not None and not self.shared_tokenizer:
                raise DistillError(
                    f"stage {stage.name!r} is on-policy, which compares the teacher's and the student's "
                    "distributions token by token: they must share a tokenizer (give the teacher's tokenizer, or "
                    "drop the on-policy option and train sequence-level KD)",
                    f"stages.{i}.on_policy",
                )

    def _is_on_policy(self, i: int, phase: str, m: int) -> bool:
        op = self.config.stages[i].on_policy
        return op is not None and _unit(self.config.seed, i, phase, m) < op.fraction

    def _stats(self, i: int) -> dict:
        name = self.config.stages[i].name
        keys = ("batches", "fallbacks", "samples", "empty", "score_errors", "scored", "tokens", "jsd_sum")
        return self.state.setdefault("on_policy", {}).setdefault(
            name, dict.fromkeys(keys, 0) | {"generate_s": 0.0, "teacher_s": 0.0}
        )

    def _on_policy_batch(self, i: int, phase: str, m: int, chosen: list) -> dict | None:
        """The micro-batch of the student's samples of ``chosen``'s prompts, scored by the teacher;
        None when no sample could be scored (the caller trains off-policy)."""
        stage, acc = self.config.stages[i], self.accelerator
        op, stats = stage.on_policy, self._stats(i)
        t0 = time.perf_counter()
        texts = self._sample(chosen, op, _seed(self.config.seed, i, phase, m))
        stats["generate_s"] += time.perf_counter() - t0
        stats["samples"] += len(texts)
        stats["empty"] += sum(1 for t in texts if not t)
        records = self._score(i, [(ex, t) for ex, t in zip(chosen, texts) if t], op.top_k, stats)
        if not records:
            stats["fallbacks"] += 1
            return None
        examples = D.prepare_generation(
            records,
            self.tokenizer,
            max_seq_len=self.config.max_seq_len,
            use_soft=True,
            where=f"stage {stage.name!r}, on-policy samples",
        )
        stats["batches"] += 1
        stats["scored"] += len(examples)
        stats["tokens"] += sum(ex.n_response for ex in examples)
        return {**D.move(D.collate_generation(examples, self.pad_id), acc.device), "on_policy": True, "stage_index": i}

    @torch.no_grad()
    def _sample(self, chosen: list, op, seed: int) -> list[str]:
        model = self.accelerator.unwrap_model(self.model)
        prompts = [ex.input_ids[: ex.response_start] for ex in chosen]
        width = max(len(p) for p in prompts)
        # The samples have to fit the training length with their prompt.
        budget = max(1, min(op.max_new_tokens, self.config.max_seq_len - width))
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, p in enumerate(prompts):  # left padding: every row continues from its last column
            ids[r, width - len(p) :] = torch.tensor(p)
            mask[r, width - len(p) :] = 1
        device = self.accelerator.device
        devices = [device] if device.type == "cuda" else []
        was_training = model.training
        model.eval()
        try:
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                out = model.generate(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    do_sample=True,
                    temperature=op.temperature,
                    top_k=0,
                    top_p=1.0,
                    max_new_tokens=budget,
                    pad_token_id=self.pad_id,
                    eos_token_id=self.tokenizer.eos_token_id,
                )
        finally:
            model.train(was_training)
        eos = self.tokenizer.eos_token_id
        texts = []
        for row in out[:, width:].tolist():
            if eos in row:
                row = row[: row.index(eos)]
            texts.append(self.tokenizer.decode(row, skip_special_tokens=True))
        return texts

    def _score(self, i: int, pairs: list, top_k: int, stats: dict) -> list[dict]:
        from workers.teacher import ScoreRequest, TeacherError

        if not pairs:
            return []
        stage = self.config.stages[i]
        t0 = time.perf_counter()
        try:
            if self._teacher is None:
                self._teacher = open_teacher(self.config.teacher)
            results = self._teacher.score(
                [ScoreRequest(key=j, prompt=ex.prompt, text=text) for j, (ex, text) in enumerate(pairs)], top_k=top_k
            )
        except TeacherError as exc:
            raise DistillError(
                f"stage {stage.name!r} (on-policy), step {self.state['step'] + 1}: the teacher could not score the "
                f"student's samples: {exc}. On-policy training needs the teacher for the whole stage; bring it "
                "back and resume the job (it continues from its last checkpoint), or drop the on-policy option"
            ) from None
        finally:
            stats["teacher_s"] += time.perf_counter() - t0
        records = []
        for (ex, _text), res in zip(pairs, results):
            if not res.ok or res.soft_targets is None:
                stats["score_errors"] += 1
                continue
            soft = soft_record(res.soft_targets)
            records.append({"prompt": ex.prompt, "soft": soft, "tier": ex.tier})
        return records

    def _on_policy_summary(self, i: int) -> dict | None:
        """What a stage's on-policy share did, for its record (and the job's metrics)."""
        if self.config.stages[i].on_policy is None:
            return None
        s = dict(self._stats(i))
        s["mean_jsd"] = s["jsd_sum"] / s["batches"] if s["batches"] else None
        s["mean_sample_tokens"] = s["tokens"] / s["scored"] if s["scored"] else None
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in s.items()}

    def _close_teacher(self) -> None:
        if self._teacher is not None:
            self._teacher.close()
            self._teacher = None

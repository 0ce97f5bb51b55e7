"""Persisting teacher output: shards first, then one transaction of rows per batch.

Order matters for "nothing written is lost, nothing is duplicated":
1. the batch's soft targets go into a new immutable shard (fsynced) under ARTIFACT_DIR;
2. one transaction bulk-creates the TeacherSample rows (unique on prompt/job/sample
   index) and their pending Examples, pointing into that shard.
A worker killed between 1 and 2 leaves an unreferenced shard and no rows: the resumed
job generates those samples again. A row therefore never points at a missing shard.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction

from curation.models import Example, Prompt, TeacherSample
from workers.checks import all_passed, run_checks
from workers.softtargets import ShardWriter


@dataclass
class BatchOutcome:
    written: int = 0
    failed: int = 0
    tokens: int = 0
    errors: dict = field(default_factory=dict)  # prompt id -> (message, samples)


def shard_key(prompt_id: int, sample_index: int) -> str:
    return f"p{prompt_id}-s{sample_index}"


class SampleWriter:
    """Writes one job's generation or classification results, batch by batch."""

    def __init__(self, job, project, checks: list[dict], prompts: dict[int, Prompt] | None = None, fenced=None):
        self.job = job
        self.fenced = fenced or transaction.atomic  # the job's ctx.fenced: a batch commits only under its claim
        self.project = project
        self.prompts = prompts or {}  # the prompts of the current teacher call, by id
        self.checks = checks
        self.pool = project.pool
        self.spec_id = (job.params.get("teacher") or {}).get("spec_id")
        self.shards = ShardWriter(settings.ARTIFACT_DIR, f"job{job.pk}")

    def _checks(self, text: str) -> tuple[list[dict], bool]:
        if not self.checks:
            return [], True
        results = run_checks(text, self.checks)
        return results, all_passed(results)

    def _sample(self, prompt_id: int, index: int, **fields) -> TeacherSample:
        return TeacherSample(
            prompt_id=prompt_id, job_id=self.job.pk, model_spec_id=self.spec_id, sample_index=index, **fields
        )

    def _example(self, sample: TeacherSample, **fields) -> Example:
        prompt = self.prompts[sample.prompt_id]
        failed = [r["name"] for r in sample.check_results if not r["passed"]]
        return Example(
            project=self.project,
            prompt_id=sample.prompt_id,
            sample=sample,
            stage=self.pool,
            status=Example.Status.PENDING,
            source=prompt.source,
            checks_failed=bool(failed),
            failed_checks=failed,
            **fields,
        )

    def _failed(self, out: BatchOutcome, r):
        """A row for a failed request (no example); errors are counted per prompt."""
        prompt_id, index = r.key
        message = db_text(r.error)
        out.failed += 1
        first, count = out.errors.get(prompt_id, (message, 0))
        out.errors[prompt_id] = (first, count + 1)
        return self._sample(prompt_id, index, error=message[:2000]), None

    # -- generation -----------------------------------------------------------------
    def write_generations(self, results) -> BatchOutcome:
        out = BatchOutcome()
        for r in results:
            if r.ok:
                self.shards.add(shard_key(*r.key), r.soft_targets)
        pointers = self.shards.flush()
        rows = []
        for r in results:
            prompt_id, index = r.key
            if not r.ok:
                rows.append(self._failed(out, r))
                continue
            text = db_text(r.text)
            checks, passed = self._checks(text)
            st = r.stats
            sample = self._sample(
                prompt_id,
                index,
                text=text,
                token_count=r.token_count,
                finish_reason=r.finish_reason or "",
                mean_logprob=finite(st.get("mean_logprob")),
                mean_entropy=finite(st.get("mean_entropy")),
                min_margin=finite(st.get("min_margin")),
                check_results=checks,
                checks_passed=passed,
                soft_targets=pointers[shard_key(prompt_id, index)],
            )
            rows.append(
                (
                    sample,
                    lambda s: self._example(
                        s,
                        mean_logprob=s.mean_logprob,
                        mean_entropy=s.mean_entropy,
                        min_margin=s.min_margin,
                        token_count=s.token_count,
                        soft_targets=s.soft_targets,
                    ),
                )
            )
            out.written += 1
            out.tokens += r.token_count
        self._commit(rows)
        return out

    # -- classification --------------------------------------------------------------
    def write_classifications(self, results) -> BatchOutcome:
        """One sample per prompt. The example's statistics are the label distribution's:
        mean_logprob = log p(predicted label) (so the queue's confidence is p), min_margin
        = p1 - p2, mean_entropy = the distribution's entropy in nats."""
        out = BatchOutcome()
        rows = []
        for r in results:
            prompt_id, index = r.key
            if not r.ok:
                rows.append(self._failed(out, r))
                continue
            p = r.distribution[r.predicted]
            entropy = -sum(q * math.log(q) for q in r.distribution.values() if q > 0)
            checks, passed = self._checks(r.predicted)
            sample = self._sample(
                prompt_id,
                index,
                text=r.predicted,
                label_distribution=r.distribution,
                predicted_label=r.predicted,
                label_margin=r.margin,
                mean_logprob=math.log(max(p, 1e-300)),
                mean_entropy=entropy,
                min_margin=r.margin,
                check_results=checks,
                checks_passed=passed,
                finish_reason="label",
            )
            rows.append(
                (
                    sample,
                    lambda s: self._example(
                        s,
                        label=s.predicted_label,
                        mean_logprob=s.mean_logprob,
                        mean_entropy=s.mean_entropy,
                        min_margin=s.min_margin,
                    ),
                )
            )
            out.written += 1
        self._commit(rows)
        return out

    # -- the one transaction per batch -------------------------------------------------
    def _commit(self, rows) -> None:
        try:
            self._insert(rows)
        except IntegrityError:
            # Only another delivery of this job racing us gets here (claim prevents it in
            # normal operation): keep what is already there, insert the rest.
            keys = {(s.prompt_id, s.sample_index) for s, _ in rows}
            have = set(
                TeacherSample.objects.filter(job_id=self.job.pk, prompt_id__in={k[0] for k in keys}).values_list(
                    "prompt_id", "sample_index"
                )
            )
            self._insert([(s, mk) for s, mk in rows if (s.prompt_id, s.sample_index) not in have])

    def _insert(self, rows) -> None:
        with self.fenced():
            samples = TeacherSample.objects.bulk_create([s for s, _ in rows])
            examples = [make(s) for s, (_, make) in zip(samples, rows) if make is not None]
            Example.objects.bulk_create(examples)


def db_text(text: str) -> str:
    """Text as every database can store it: PostgreSQL refuses NUL characters, which a
    model can emit (the soft targets keep the real token ids)."""
    return (text or "").replace("\x00", "\ufffd")


def finite(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def existing_keys(job, prompt_ids) -> dict[int, set[int]]:
    """{prompt id: sample indexes this job already wrote (errors included)}."""
    have: dict[int, set[int]] = defaultdict(set)
    for pid, idx in TeacherSample.objects.filter(job=job, prompt_id__in=list(prompt_ids)).values_list(
        "prompt_id", "sample_index"
    ):
        have[pid].add(idx)
    return have

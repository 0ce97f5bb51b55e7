"""The body of a score job (``kind=score``), run by the worker.

Each result is written like a generated sample: its soft targets into a shard, then
one transaction that creates a ``TeacherSample`` (``scored=True``; ``sample_index`` is
the example's id, or 0 for a gold reference) and, for an edit, points the example at
the new soft targets. That update is optimistic: it only applies while the example's
response is still the text that was scored (``filter(response=text)``); an example
edited again meanwhile keeps a blank pointer and the next score job takes it. The
example's mean log-prob, entropy, margin and token count are set from the scored
text, so the queue's statistics describe the response it shows."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from curation.models import Example, TeacherSample
from curation.services import jobs
from curation.services.teacher.output import db_text, finite
from curation.services.teacher.run import Progress, conclude, drive_teacher, teacher_inputs
from curation.services.teacher.scoring import edits_to_score, gold_to_score
from workers.softtargets import ShardWriter
from workers.teacher import CANCEL, DEFAULT_DRAWS, DEFAULT_TOP_K, ScoreRequest

REQUESTS_PER_CALL = 1024


class _Target:
    __slots__ = ("kind", "obj_id", "prompt", "text")

    def __init__(self, kind, obj_id, prompt, text):
        self.kind, self.obj_id, self.prompt, self.text = kind, obj_id, prompt, text

    @property
    def key(self):
        return f"{self.kind}{self.obj_id}"

    @property
    def sample_index(self):
        return self.obj_id if self.kind == "e" else 0


def _targets(job) -> list[_Target]:
    project, params = job.project, job.params
    spec_id = params["teacher"]["spec_id"]
    out = []
    if "edits" in params["targets"]:
        for ex in edits_to_score(project, job).select_related("prompt").only("id", "response", "prompt"):
            out.append(_Target("e", ex.id, ex.prompt, ex.response))
    if "gold" in params["targets"]:
        for gold in gold_to_score(project, spec_id, job).select_related("prompt").only("id", "reference", "prompt"):
            out.append(_Target("g", gold.id, gold.prompt, gold.reference))
    return out


class ScoreWriter:
    def __init__(self, job, fenced=None):
        self.job = job
        self.fenced = fenced or transaction.atomic  # the job's ctx.fenced
        self.spec_id = job.params["teacher"]["spec_id"]
        self.shards = ShardWriter(settings.ARTIFACT_DIR, f"job{job.pk}")
        self.updated = 0
        self.changed_meanwhile = 0

    def write(self, results, targets: dict[str, _Target]) -> tuple[int, int, list]:
        for r in results:
            if r.ok:
                self.shards.add(r.key, r.soft_targets)
        pointers = self.shards.flush()
        rows, errors, tokens = [], [], 0
        for r in results:
            t = targets[r.key]
            sample = TeacherSample(
                prompt_id=t.prompt.id,
                job_id=self.job.pk,
                model_spec_id=self.spec_id,
                sample_index=t.sample_index,
                scored=True,
                text=t.text,
            )
            if r.ok:
                st = r.stats
                sample.token_count, sample.soft_targets = r.token_count, pointers[r.key]
                sample.mean_logprob = finite(st.get("mean_logprob"))
                sample.mean_entropy = finite(st.get("mean_entropy"))
                sample.min_margin = finite(st.get("min_margin"))
                tokens += r.token_count
            else:
                sample.error = db_text(r.error)[:2000]
                errors.append((t, db_text(r.error)))
            rows.append((t, sample))
        try:
            updated, changed = self._insert(rows)
        except IntegrityError:  # another delivery raced us: keep its rows, add the rest
            have = set(TeacherSample.objects.filter(job=self.job).values_list("prompt_id", "sample_index"))
            updated, changed = self._insert([(t, s) for t, s in rows if (s.prompt_id, s.sample_index) not in have])
        self.updated += updated
        self.changed_meanwhile += changed
        return len(rows), tokens, errors

    def _insert(self, rows) -> tuple[int, int]:
        updated = changed = 0
        with self.fenced():
            TeacherSample.objects.bulk_create([s for _, s in rows])
            for t, s in rows:
                if t.kind != "e" or s.error:
                    continue
                n = Example.objects.filter(pk=t.obj_id, response=t.text).update(
                    soft_targets=s.soft_targets,
                    mean_logprob=s.mean_logprob,
                    mean_entropy=s.mean_entropy,
                    min_margin=s.min_margin,
                    token_count=s.token_count,
                )
                updated += n
                changed += 1 - n
        return updated, changed


def run_scoring(ctx: jobs.JobContext) -> jobs.JobOutcome:
    job = ctx.job
    targets = _targets(job)
    done_before = TeacherSample.objects.filter(job=job).count()
    total = done_before + len(targets)
    ctx.progress(done_before, total, phase="loading the teacher", force=True)
    writer = ScoreWriter(job, fenced=ctx.fenced)
    draws = job.params.get("draws", DEFAULT_DRAWS) if job.params.get("soft_targets") == "sampled" else 0
    failure, cancelled = None, False
    if targets:
        progress = Progress(ctx, done_before, total)

        def calls():
            for start in range(0, len(targets), REQUESTS_PER_CALL):
                chunk = {t.key: t for t in targets[start : start + REQUESTS_PER_CALL]}

                def on_batch(results, stats, chunk=chunk):
                    written, tokens, errors = writer.write(results, chunk)
                    for t, message in errors:
                        ctx.error(("example " if t.kind == "e" else "gold item ") + str(t.obj_id), message)
                    progress.add(written, tokens, "scoring")
                    return CANCEL if ctx.cancelled() else None

                prompts = {t.prompt.id: t.prompt for t in chunk.values()}
                inputs = teacher_inputs(job, list(prompts.values()))
                requests = [ScoreRequest(key=t.key, prompt=inputs[t.prompt.id], text=t.text) for t in chunk.values()]
                yield lambda teacher, r=requests, cb=on_batch: teacher.score(
                    r, top_k=job.params.get("top_k", DEFAULT_TOP_K), on_batch=cb, draws=draws
                )

        failure, cancelled = drive_teacher(ctx, job, calls(), "scoring", progress)
    metrics = _metrics(job, writer)
    message = (
        f"Scored {metrics['scored']:,} texts ({metrics['edits']:,} edits, {metrics['gold']:,} gold references)."
        + (f" {metrics['failed']:,} failed (listed under problems)." if metrics["failed"] else "")
        + (
            f" {writer.changed_meanwhile:,} edited again while scoring: left for the next score job."
            if writer.changed_meanwhile
            else ""
        )
    )
    return conclude(
        ctx,
        failure=failure,
        cancelled=cancelled,
        message=message,
        metrics=metrics,
        all_failed=metrics["scored"] == 0 and metrics["failed"] > 0,
    )


def _metrics(job, writer: ScoreWriter) -> dict:
    rows = TeacherSample.objects.filter(job=job)
    ok = rows.filter(error="")
    return {
        "scored": ok.count(),
        "edits": ok.exclude(sample_index=0).count(),
        "gold": ok.filter(sample_index=0).count(),
        "failed": rows.exclude(error="").count(),
        "changed_meanwhile": writer.changed_meanwhile,
    }

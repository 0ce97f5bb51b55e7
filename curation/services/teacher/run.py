"""What every teacher job run does: open the teacher, drive its calls until done or cancelled,
report progress (done/total, tokens/s, ETA) and conclude with an outcome."""

from __future__ import annotations

import gc
import time

from celery.exceptions import SoftTimeLimitExceeded

from curation.models import Job, ModelSpec
from curation.services import hygiene, jobs
from curation.services.errors import Invalid
from curation.services.modelspecs import load_spec
from workers.teacher import (
    TeacherError,
    load_teacher,
)


def open_teacher(job):
    try:
        return load_teacher(load_spec(job.params["teacher"]))
    except Invalid as exc:
        raise jobs.JobError(str(exc)) from None
    except TeacherError as exc:
        raise jobs.JobError(f"Cannot start the teacher: {exc}") from None


def close_teacher(teacher) -> None:
    teacher.close()
    if getattr(teacher, "model", None) is not None:
        import torch

        teacher.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def drive_teacher(ctx, job, calls, phase: str, progress: Progress) -> tuple[str | None, bool]:
    """Open the job's teacher and make ``calls`` (each ``fn(teacher)``) until one is cancelled.

    Returns ``(failure, cancelled)``: a whole-run teacher problem after the start (an
    unreachable server, the soft time limit) is a message, so the caller can still tier
    what was written before failing the job. A teacher that cannot start fails at once.
    """
    try:
        teacher = open_teacher(job)
    except jobs.JobError:
        ctx.progress(phase="could not start the teacher", force=True)
        raise
    ctx.progress(phase=phase, force=True)
    progress.restart()  # tokens/s and the ETA measure the teacher, not its loading
    teacher.on_decode_progress = lambda requests, tokens: progress.within_batch(requests, tokens, phase)
    try:
        for call in calls:
            call(teacher)
            if (teacher.last_run is not None and teacher.last_run.cancelled) or ctx.cancelled():
                return None, True
    except TeacherError as exc:
        return f"The teacher stopped: {exc}", False
    except SoftTimeLimitExceeded:
        return (
            "The job reached the worker's time limit (CELERY_TASK_SOFT_TIME_LIMIT). Everything written "
            "is kept; Retry continues with what is missing."
        ), False
    finally:
        close_teacher(teacher)
        ctx.flush()
    return None, False


class Progress:
    """done/total, tokens/s and ETA for one run of a job (earlier runs count as done)."""

    def __init__(self, ctx, done_before: int, total: int):
        self.ctx, self.done, self.total = ctx, done_before, total
        self.restart()

    def restart(self) -> None:
        self.run_done, self.tokens = 0, 0
        self.started = time.monotonic()

    def add(self, samples: int, tokens: int, phase: str) -> None:
        self.done += samples
        self.run_done += samples
        self.tokens += tokens
        self._report(0.0, 0, phase)

    def within_batch(self, requests: float, tokens: int, phase: str) -> None:
        """The teacher's report from inside a batch: ``requests``' worth of it done (finished
        ones and the decoded share of the others) and ``tokens`` generated so far."""
        self._report(requests, tokens, phase)

    def _report(self, in_batch: float, batch_tokens: int, phase: str) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = (self.run_done + in_batch) / elapsed
        done = min(self.done + int(in_batch), self.total)
        eta = (self.total - self.done - in_batch) / rate if rate > 0 else None
        self.ctx.progress(
            done,
            self.total,
            tokens_per_s=round((self.tokens + batch_tokens) / elapsed, 1),
            eta_s=round(max(eta, 0.0), 1) if eta is not None else None,
            phase=phase,
        )


def conclude(ctx, *, failure, cancelled, all_failed, message, metrics) -> jobs.JobOutcome:
    """The outcome of a generate or score run; raises ``JobError`` for a failed one."""
    if failure:
        ctx.progress(phase="stopped: the teacher failed", force=True)
        raise jobs.JobError(f"{failure}\n{message}")
    if cancelled:
        ctx.progress(phase="cancelled", force=True)
        return jobs.JobOutcome(Job.Status.CANCELLED, f"Cancelled. {message}", metrics)
    if all_failed:
        ctx.progress(phase="every item failed", force=True)
        raise jobs.JobError(f"Nothing could be done: every item failed (see the problems below). {message}")
    ctx.progress(phase="done", force=True)
    return jobs.JobOutcome(Job.Status.SUCCEEDED, message, metrics)


def teacher_inputs(job, prompts) -> dict:
    """``{prompt id: what the teacher is sent}``: for a remote (OpenAI-compatible) teacher, personal data
    replaced by typed placeholders when the project redacts (audited); otherwise the prompt as it is."""
    inputs = {p.id: p.model_input for p in prompts}
    if (job.params.get("teacher") or {}).get("backend") == ModelSpec.Backend.OPENAI:
        inputs.update(hygiene.redact_for_teacher(job.project, prompts, job_id=job.pk))
    return inputs

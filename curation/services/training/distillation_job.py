"""The body of a staged distillation job (``kind=distill``), run by the worker under ``jobs.run``.

It builds the core's config from the job's params, runs the recipe into
``ARTIFACT_DIR/jobs/<id>`` (a re-run continues from the last checkpoint), reports
progress and curve points, registers a model version at every stage's end, stops as
``gated`` for a human at a failing gate, and launches the evaluation when it finishes."""

from __future__ import annotations

import time
from contextlib import nullcontext

from curation.models import Job, MetricPoint, ModelSpec
from curation.services import jobs
from curation.services.errors import Invalid
from curation.services.training import registry
from curation.services.training.distillation import CURVE_METRICS, KD_MODES, describe_gate, output_dir, phase_label
from curation.services.training.request import build_config
from workers.memory import PeakRSS


def pending_override(params: dict, history: list[dict]) -> dict | None:
    """The newest recorded resume when the run has not applied it yet.

    The recipe logs every applied override as a ``gate_override`` event in its
    checkpointed history, so a body re-run after a worker restart does not apply an
    old decision to a later gate.
    """
    resumes = params.get("resumes") or []
    applied = sum(1 for h in history if h.get("event") == "gate_override")
    if len(resumes) <= applied:
        return None
    last = resumes[-1]
    return {
        "threshold": last.get("threshold"),
        "force": bool(last.get("force")),
        "extra_epochs": int(last.get("extra_epochs") or 0),
        "by": last.get("by"),
        "comment": last.get("comment", ""),
    }


class DistillRun:
    """Carries the recipe's callbacks to the job row: progress, curves, stage ends, warnings.

    ``job.metrics`` holds what the distill panel shows: the KD mode, each stage's gate
    and model version, and ``curves``: per stage, the phases it trained in order
    (train, patience-1, extra-1 after a resume, ...) with the offset of each on the
    stage's step axis, so a stage's loss curve is continuous across patience epochs,
    resumes at a gate, and restarts after a killed worker.
    """

    def __init__(self, ctx: jobs.JobContext, config):
        self.ctx, self.job, self.config = ctx, ctx.job, config
        self.n = len(config.stages)
        self.round = len(self.job.params.get("resumes") or [])
        self.state = dict(self.job.metrics or {})
        self.state.setdefault("stages", {})
        self.state.setdefault("curves", {})
        self.state.pop("gated", None)
        self._seen_runs: set[tuple] = set()
        self._known = {e.get("error") for e in (self.job.errors or []) if e.get("item") == "warning"}
        self._last_save = 0.0
        self._rate_from = None  # (monotonic time, whole-job steps done) at this run's first report

    def save(self) -> None:
        Job.objects.filter(pk=self.job.pk).update(metrics=self.state)
        self.job.metrics = self.state
        self._last_save = time.monotonic()

    # -- callbacks
    def warning(self, message: str) -> None:
        if message not in self._known:
            self._known.add(message)
            self.ctx.warn(message)
            self.ctx.flush()

    def _whole_job(self, index: int, p: dict) -> tuple[int, int, float | None]:
        """(steps done, steps in all, seconds left) over the whole job, not the stage.

        The stages' planned steps add up to the total (a stage trained again in patience or
        extra epochs stays at its planned share); the ETA is measured from this run's own
        pace, steps done since its first report over the time since, never a first guess.
        """
        planned = [getattr(stage, "steps", None) for stage in self.config.stages]
        if not all(isinstance(n, int) and n > 0 for n in planned):
            return p["step"], p["total_steps"], p["eta_s"]
        total = sum(planned)
        done = min(sum(planned[:index]) + min(p["step"], planned[index]), total)
        now = time.monotonic()
        if self._rate_from is None:
            self._rate_from = (now, done)
        started, done_then = self._rate_from
        eta = None
        if done > done_then and now > started:
            eta = (total - done) * (now - started) / (done - done_then)
        return done, total, eta

    def kd_decided(self, kd_mode: str) -> None:
        self.state["kd_mode"] = kd_mode
        self.state["kd_note"] = KD_MODES[kd_mode][1]
        self.ctx.progress(phase=f"{KD_MODES[kd_mode][0]}: starting", force=True)
        self.save()

    def progress(self, p: dict) -> None:
        stage, i, phase = p["stage"], p["stage_index"], p["phase"]
        x = self._offset(stage, phase, p["step"], p["total_steps"]) + p["step"]
        for name in CURVE_METRICS:
            self.ctx.metric(name, p[name], x, stage)
        # The recipe reports every ``progress_every_s``; writing each report at once
        # means every point up to a checkpoint is stored before the checkpoint is
        # taken, so a worker killed after it leaves no gap in the curves.
        done, total, eta = self._whole_job(i, p)
        self.ctx.progress(
            done,
            total,
            tokens_per_s=p["tokens_per_s"],
            eta_s=eta,
            phase=f"stage {i + 1} of {self.n} ({stage}): {phase_label(phase)}",
            force=True,
        )
        self.state["current"] = {
            k: p[k]
            for k in ("stage", "stage_index", "phase", "step", "total_steps", "loss", "kd_loss", "ce_loss", "lr")
        }
        if time.monotonic() - self._last_save >= jobs.PROGRESS_EVERY_S:
            self.save()

    def validation(self, p: dict) -> None:
        """A point of the stage's validation curves (``val_<metric>``), on the loss curves' step axis."""
        x = self._offset(p["stage"], p["phase"], p["step"], p["total_steps"]) + p["step"]
        for name, value in p["metrics"].items():
            self.ctx.metric(name if name.startswith("val_") else f"val_{name}", value, x, p["stage"])
        self.ctx.flush()

    def _offset(self, stage: str, phase: str, step: int, total: int) -> int:
        runs = self.state["curves"].setdefault(stage, [])
        # Extra epochs after a resume are a new run each time; train and patience happen once.
        key = (stage, phase, self.round if phase.startswith("extra") else 0)
        for run in runs:
            if (run["phase"], run["round"]) == key[1:]:
                if key not in self._seen_runs:
                    # This process resumed the run from a checkpoint: the points after
                    # it were lost with the dead worker's progress and are trained again.
                    self.ctx.flush()
                    MetricPoint.objects.filter(job_id=self.job.pk, stage=stage, step__gte=run["offset"] + step).delete()
                    self._seen_runs.add(key)
                return run["offset"]
        offset = runs[-1]["offset"] + runs[-1]["total"] if runs else 0
        runs.append({"phase": phase, "round": key[2], "offset": offset, "total": total})
        self._seen_runs.add(key)
        self.save()
        return offset

    def stage_end(self, info: dict) -> None:
        with self.ctx.fenced():  # a stage is registered once, by the attempt that holds the job
            version = registry.register_stage_version(self.job, self.config, info)
        self.state["stages"][str(info["stage_index"])] = {
            "name": info["stage"],
            "outcome": info["outcome"],
            "gate": info["gate"],
            "model_version": version.pk,
        }
        self.save()

    def reconcile(self, result) -> None:
        """Register stages whose end the callbacks missed (a worker killed between a
        stage's checkpoint and its callback finishes it as already done)."""
        for record in result.stages:
            entry = self.state["stages"].get(str(record["index"]))
            if entry is None or entry.get("gate") != record["gate"]:
                gate = record["gate"]
                outcome = "gated" if gate and not gate["passed"] else "passed"
                self.stage_end(
                    {
                        "stage": record["name"],
                        "stage_index": record["index"],
                        "outcome": outcome,
                        "gate": gate,
                        "model_dir": record["model_dir"],
                        "kd_mode": result.kd_mode,
                    }
                )


def run_distill_job(ctx: jobs.JobContext) -> jobs.JobOutcome:
    """The body of a distill job (idempotent: re-runs resume from the checkpoint)."""
    import torch

    from workers.distill import DistillError, DistillRecipe

    job = ctx.job
    project = job.project
    params = job.params
    try:
        student = ModelSpec.objects.get(pk=params["student_spec"])
    except ModelSpec.DoesNotExist:
        raise jobs.JobError("The student model spec was deleted after the job was launched.") from None
    teacher = ModelSpec.objects.filter(pk=params.get("teacher_spec")).first()
    ctx.progress(phase="loading the student and the snapshots", force=True)
    try:
        config = build_config(project, params, output_dir=output_dir(job), teacher=teacher, student=student)
    except DistillError as exc:
        raise jobs.JobError(str(exc)) from None
    run = DistillRun(ctx, config)
    recipe = DistillRecipe(
        config,
        on_progress=run.progress,
        on_stage_end=run.stage_end,
        on_validation=run.validation,
        on_warning=run.warning,
        should_stop=ctx.cancelled,
    )
    peak = PeakRSS()
    try:
        with peak:
            recipe.setup()
            run.kd_decided(recipe.kd_mode)
            result = recipe.train(pending_override(params, recipe.state["history"]))
    except DistillError as exc:
        raise jobs.JobError(str(exc)) from None
    except (torch.OutOfMemoryError, MemoryError):
        raise jobs.JobError(
            "Out of memory while loading or training the student: lower batch_size (raise grad_accum to keep the "
            "effective batch) or max_seq_len, or use a machine with more memory."
        ) from None
    finally:
        recipe.cleanup()
    run.reconcile(result)
    # This run's footprint (a resumed job's last run): student, optimizer, activations, data.
    run.state["memory"] = {"peak_rss_mb": round(peak.peak_mb, 1), "start_rss_mb": round(peak.start_mb, 1)}
    run.state.update(status=result.status, kd_mode=result.kd_mode, history=result.history, warnings=result.warnings)
    # What the budget planned per stage and what the run drew per tier (an experiment's check
    # that the hard tier was not starved).
    run.state.update(plan=result.plan, visits=result.visits)
    # What each on-policy stage's share did: samples, scored tokens, mean JSD, time in the teacher.
    run.state["on_policy"] = {s["name"]: s["on_policy"] for s in result.stages if s.get("on_policy")}
    if result.status == "gated":
        record = result.stages[-1]
        gate = result.gate
        stage_cfg = config.stages[record["index"]]
        run.state["gated"] = {"stage": record["name"], "stage_index": record["index"], "gate": gate}
        patience = stage_cfg.gate.patience if stage_cfg.gate else 0
        tail = (
            f" after {patience} extra epoch{'s' if patience != 1 else ''} of patience"
            if patience and record["phase"] != "train"
            else ""
        )
        message = (
            f"Stage {record['index'] + 1} of {run.n} ({record['name']}) did not pass its gate{tail}: "
            f"{describe_gate(gate)}. "
            "Resume it (lower the threshold, train extra epochs, or force it) or stop the job."
        )
        ctx.progress(
            phase=f"waiting at the gate of stage {record['index'] + 1} of {run.n} ({record['name']})", force=True
        )
        return jobs.JobOutcome(Job.Status.GATED, message, run.state)
    if result.status == "stopped":
        stage = config.stages[min(result.stage_index, run.n - 1)].name
        ctx.progress(phase=f"stopped in stage {stage!r}", force=True)
        return jobs.JobOutcome(
            Job.Status.CANCELLED, f"Stopped on request in stage {stage!r} at step {result.step}.", run.state
        )
    with ctx.fenced():
        final = registry.register_final_version(job, config, result)
    run.state["final_model_version"] = final.pk
    ctx.progress(phase="scoring the student on the dev set", force=True)
    dev = score_final_on_dev(job, final, run.warning, ctx.fenced)
    if dev is not None:
        run.state["dev"] = dev_summary(dev)
    ctx.progress(phase=f"{run.n} stage{'s' if run.n != 1 else ''} trained", force=True)
    message = (
        f"Trained {run.n} stage{'s' if run.n != 1 else ''} ({KD_MODES[result.kd_mode][0]}); final model "
        f"“{final.name}” registered."
    )
    message += dev_message(dev)
    evaluation = _launch_automatic_evaluation(job, final, teacher, ctx)
    if evaluation is not None:
        run.state["evaluation_job"] = evaluation.pk
        message += f" Evaluation job #{evaluation.pk} launched."
    return jobs.JobOutcome(Job.Status.SUCCEEDED, message, run.state)


# What scoring a trained student on the dev set may raise; none of it fails the trained job.
DEV_SCORE_ERRORS = (OSError, ValueError, RuntimeError, MemoryError, registry.ArtifactMissing)


def score_final_on_dev(job, version, warn, fence=nullcontext) -> dict | None:
    """The final student on the project's dev set (selection's score), stored on the version as
    ``metrics["dev"]`` (under ``fence``: the attempt's claim); None, with ``warn``, when it cannot
    be scored. A worker's run and a registered outside run both finish here."""
    from curation.services.training.evaluation import score_on_dev

    try:
        score = score_on_dev(job.project, version)
    except DEV_SCORE_ERRORS as exc:
        warn(f"No dev score: {exc}")
        return None
    if score is not None:
        with fence():
            version.metrics = {**(version.metrics or {}), "dev": score}
            version.save(update_fields=["metrics"])
    return score


def dev_summary(dev: dict) -> dict:
    """What the job's metrics keep of a dev score: all but the per-item scores (the version has them)."""
    return {k: v for k, v in dev.items() if k != "per_item"}


def dev_message(dev: dict | None) -> str:
    return f" Dev {dev['metric']}: {dev['value']:.3f} over {dev['n']} items." if dev else ""


def _launch_automatic_evaluation(job, version, teacher, ctx):
    from curation.services.training.evaluation import launch_evaluation

    existing = Job.objects.filter(project=job.project, kind=Job.Kind.EVALUATE, params__model_version=version.pk).first()
    if existing is not None:
        return existing
    if teacher is None:
        ctx.warn("No automatic evaluation: the teacher model spec was deleted.")
        return None
    try:
        return launch_evaluation(
            job.project, {"model_version": version.pk, "teacher_spec": teacher.pk}, by=job.created_by, auto=True
        )
    except Invalid as exc:
        ctx.warn(f"No automatic evaluation: {exc}")
        return None

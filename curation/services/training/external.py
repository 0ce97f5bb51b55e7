"""Distillation past one machine: a job's exact config as a download, and registering what a
run outside Celery (``python -m workers.distill run``, under ``accelerate launch``) wrote.

The run config is the job's own: the same ``build_config`` the worker calls and the same
records (data fraction, extra snapshots), written by ``workers.distill.runfile`` with the
soft targets in the run's own shards and the student's files when they are on disk.
Registering reads ``run.json`` and ``metrics.jsonl`` of the run's output directory and
records its versions exactly as the job body does (keyed by job and stage), its loss curves
as the job's metric points, and, for a completed run, scores its student on the dev set and
launches its evaluation.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from curation.models import Job, MetricPoint, ModelSpec
from curation.services.errors import NON_FIELD, Invalid
from curation.services.training import registry
from curation.services.training.distillation import CURVE_METRICS, KD_MODES, output_dir
from curation.services.training.records import StageData
from curation.services.training.request import build_config

ARCHIVE = "run-config.tar.gz"


def _distill_job(job: Job) -> None:
    if job.kind != Job.Kind.DISTILL:
        raise Invalid({NON_FIELD: [f"{job} is not a distillation job."]})


def run_config_archive(job: Job) -> Path:
    """``ARTIFACT_DIR/jobs/<id>/run-config.tar.gz``, built on first request (one builder at a time)."""
    from workers.distill import DistillError

    _distill_job(job)
    folder = output_dir(job)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / ARCHIVE
    with open(folder / (ARCHIVE + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if dest.exists():
            return dest
        try:
            _build_archive(job, dest)
        except DistillError as exc:
            raise Invalid({NON_FIELD: [f"Cannot export the run config: {exc}"]}) from None
    return dest


def _build_archive(job: Job, dest: Path) -> None:
    params = job.params
    student = ModelSpec.objects.filter(pk=params.get("student_spec")).first()
    if student is None:
        raise Invalid({NON_FIELD: ["The student model spec was deleted after the job was launched."]})
    teacher = ModelSpec.objects.filter(pk=params.get("teacher_spec")).first()
    config = build_config(job.project, params, output_dir="out", teacher=teacher, student=student)
    summary = config.summary()
    summary["output_dir"] = "out"
    data = StageData(job.project, params)
    pairs = [(data.train(i), data.validation(i) if s.gate else None) for i, s in enumerate(config.stages)]
    name = f"run-config-job{job.pk}"
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        root = Path(tmp) / name
        root.mkdir()
        local_student = Path(student.path)
        if local_student.is_dir():
            shutil.copytree(local_student, root / "student")
            summary["student"] = "student"
        summary["teacher_tokenizer"] = _portable_tokenizer(summary.get("teacher_tokenizer"))
        from workers.distill.runfile import write_run_dir

        write_run_dir(root, summary, pairs, job=job.pk, extra={"project": job.project.slug})
        partial = dest.with_name(dest.name + ".tmp")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(root, arcname=name)
        partial.replace(dest)


def _portable_tokenizer(value: str | None) -> str | None:
    """A local tokenizer path means nothing on another machine: send its vocabulary hash."""
    if not value or value.startswith("sha256:") or not Path(value).is_dir():
        return value
    from transformers import AutoTokenizer

    from workers.distill import vocab_hash

    try:
        return vocab_hash(AutoTokenizer.from_pretrained(value))
    except OSError:
        return value


# ---------------------------------------------------------------- registering
def _read_run(run_dir: Path) -> tuple[dict, list[dict]]:
    from workers.distill.runfile import METRICS_FILE, RESULT_FILE, RESULT_FORMAT

    try:
        run = json.loads((run_dir / RESULT_FILE).read_text())
    except FileNotFoundError:
        raise Invalid({"run_dir": [f"{run_dir} holds no {RESULT_FILE}: is it the run's output directory?"]}) from None
    except (OSError, ValueError) as exc:
        raise Invalid({"run_dir": [f"{run_dir / RESULT_FILE} cannot be read: {exc}"]}) from None
    if not isinstance(run, dict) or run.get("format") != RESULT_FORMAT or not isinstance(run.get("result"), dict):
        raise Invalid({"run_dir": [f"{RESULT_FILE} is not a run result ({RESULT_FORMAT!r} expected)."]})
    metrics = []
    path = run_dir / METRICS_FILE
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                metrics.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a killed process
    return run, metrics


def _into_store(job: Job, run_dir: Path) -> Path:
    """The run's directory under ARTIFACT_DIR (copied there when it is elsewhere)."""
    root = Path(settings.ARTIFACT_DIR).resolve()
    if root in run_dir.parents:
        return run_dir
    dest = output_dir(job) / f"external-{int(time.time())}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("checkpoints"))
    return dest


def _stage_dir(store: Path, path: str | None) -> str | None:
    """Where a stage's version is now: the recipe saves it as ``stages/<NN-name>`` of the output."""
    return str(store / "stages" / Path(path).name) if path else None


def register_external_run(job: Job, run_dir: str | Path, *, by=None, within_store: bool = False) -> Job:
    """Record the versions and curves of a run of ``job``'s config trained outside Celery.

    ``within_store``: the directory must lie under ARTIFACT_DIR (a request over the API names a
    directory on the shared store; the command line may name any, which is then copied there).
    """
    _distill_job(job)
    src = Path(run_dir).resolve()
    if within_store and Path(settings.ARTIFACT_DIR).resolve() not in src.parents:
        raise Invalid({"run_dir": ["Name a directory under the artifact store (ARTIFACT_DIR) that holds the run."]})
    if not src.is_dir():
        raise Invalid({"run_dir": [f"{run_dir} is not a directory."]})
    run, metrics = _read_run(src)
    if run.get("job") not in (None, job.pk):
        raise Invalid({"run_dir": [f"This run trained job #{run['job']}'s config, not job #{job.pk}'s."]})
    if job.status == Job.Status.RUNNING:
        raise Invalid({NON_FIELD: [f"{job} is running in a worker; stop it before registering an outside run."]})
    result = run["result"]
    store = _into_store(job, src)
    stages = [{**s, "model_dir": _stage_dir(store, s.get("model_dir"))} for s in result.get("stages", [])]
    for s in stages:
        if not s["model_dir"] or not Path(s["model_dir"]).is_dir():
            raise Invalid({"run_dir": [f"stage {s.get('name')!r}: its model directory is missing from the run."]})
    config = SimpleNamespace(stages=run["config"].get("stages", []), summary=lambda: run["config"])
    with transaction.atomic():
        state = dict(job.metrics or {})
        state.setdefault("stages", {})
        for s in stages:
            gate = s.get("gate")
            info = {
                "stage": s["name"],
                "stage_index": s["index"],
                "outcome": "gated" if gate and not gate.get("passed") else "passed",
                "gate": gate,
                "model_dir": s["model_dir"],
                "kd_mode": result.get("kd_mode", ""),
            }
            version = registry.register_stage_version(job, config, info)
            state["stages"][str(s["index"])] = {
                "name": s["name"],
                "outcome": info["outcome"],
                "gate": gate,
                "model_version": version.pk,
            }
        _replace_curves(job, metrics, state)
        kd = result.get("kd_mode", "")
        state.update(
            status=result["status"],
            kd_mode=kd,
            kd_note=KD_MODES[kd][1] if kd in KD_MODES else "",
            history=result.get("history", []),
            warnings=result.get("warnings", []),
            plan=result.get("plan", []),
            visits=result.get("visits", {}),
            external={
                "run_dir": str(store),
                "num_processes": run.get("num_processes"),
                "backend": run.get("backend", ""),
                "registered_by": getattr(by, "username", "") or "",
                "registered_at": time.time(),
            },
        )
        message = (
            f"Trained outside Celery on {run.get('num_processes')} process(es)"
            f"{' (' + run['backend'] + ')' if run.get('backend') else ''}; registered"
            f"{' by ' + by.username if getattr(by, 'username', '') else ''}."
        )
        # A queued job ends here either way, so a worker that receives it later skips it.
        fields = {
            "metrics": state,
            "status": Job.Status.CANCELLED,
            "finished_at": timezone.now(),
            "message": message[:-1] + f", {result['status']} at stage {result.get('stage_index', 0) + 1}: resume that "
            "run with the launcher (--gate-override for a gate) and register it again.",
        }
        if result["status"] == "completed":
            final_dir = str(store / "final")
            if not Path(final_dir).is_dir():
                raise Invalid({"run_dir": ["The run completed but its final model directory is missing."]})
            final = registry.register_final_version(
                job, config, SimpleNamespace(final_model_dir=final_dir, kd_mode=kd, stages=stages)
            )
            state["final_model_version"] = final.pk
            fields["status"] = Job.Status.SUCCEEDED
            fields["message"] = message[:-1] + f": final model “{final.name}”."
        Job.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    if result["status"] == "completed":
        _evaluate(job)
    return job


def _replace_curves(job: Job, metrics: list[dict], state: dict) -> None:
    """The run's progress reports as the job's curves (one continuous axis per stage)."""
    latest: dict[tuple, dict] = {}
    for m in metrics:
        if isinstance(m, dict) and {"stage", "phase", "step"} <= set(m):
            latest[(m["stage"], m["phase"], m["step"])] = m  # a resumed run re-trains past its checkpoint
    curves: dict[str, list[dict]] = {}
    points = []
    for (stage, phase, step), m in sorted(latest.items(), key=lambda kv: kv[1].get("at", 0)):
        runs = curves.setdefault(stage, [])
        run = next((r for r in runs if r["phase"] == phase), None)
        if run is None:
            offset = runs[-1]["offset"] + runs[-1]["total"] if runs else 0
            run = {"phase": phase, "round": 0, "offset": offset, "total": int(m.get("total_steps") or step)}
            runs.append(run)
        for name in CURVE_METRICS:
            if isinstance(m.get(name), (int, float)):
                points.append(
                    MetricPoint(job=job, stage=stage, step=run["offset"] + int(step), name=name, value=m[name])
                )
    MetricPoint.objects.filter(job=job).delete()
    MetricPoint.objects.bulk_create(points, batch_size=2000)
    state["curves"] = curves


def _evaluate(job: Job) -> None:
    """Score the final version on the dev set and launch its evaluation, as a worker's run does; say
    why not in the job's message."""
    from curation.services.training.distillation_job import (
        _launch_automatic_evaluation,
        dev_message,
        dev_summary,
        score_final_on_dev,
    )

    final = job.model_versions.filter(is_final=True).first()
    teacher = ModelSpec.objects.filter(pk=job.params.get("teacher_spec")).first()
    notes = _Notes()
    dev = score_final_on_dev(job, final, notes.warn) if final is not None else None
    if dev is not None:
        job.metrics["dev"] = dev_summary(dev)
        job.message += dev_message(dev)
    evaluation = _launch_automatic_evaluation(job, final, teacher, notes) if final is not None else None
    if evaluation is not None:
        job.metrics["evaluation_job"] = evaluation.pk
        job.message += f" Evaluation job #{evaluation.pk} launched."
    job.message = " ".join([job.message, *notes.messages])
    Job.objects.filter(pk=job.pk).update(message=job.message, metrics=job.metrics)


class _Notes:
    def __init__(self):
        self.messages: list[str] = []

    def warn(self, message: str) -> None:
        self.messages.append(message)

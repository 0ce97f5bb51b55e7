"""Staged distillation jobs: launch one from a validated request (``request``), resume it at a gate;
the body that runs the recipe is ``distillation_job``.

The job's output directory is ``ARTIFACT_DIR/jobs/<id>``: the recipe's checkpoints
live there, so re-running the job body (a restarted worker, a resume at a gate) with
the same params continues where the last checkpoint left off.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from curation.models import Job, Project
from curation.services import audit, jobs
from curation.services.errors import NON_FIELD, Invalid
from curation.services.inputs import parse_number
from curation.services.training.request import validate_distillation
from workers.distill.config import LOWER_IS_BETTER

log = logging.getLogger(__name__)

CURVE_METRICS = ("loss", "kd_loss", "ce_loss", "lr")


# ----------------------------------------------------------------- launch
def launch_distillation(project: Project, data: dict, by=None) -> Job:
    """Validate a launch request (``Invalid`` names the fields) and queue the job."""
    params, specs = validate_distillation(project, data)
    params["resumes"] = []
    return jobs.launch(project, Job.Kind.DISTILL, params, by=by, model_spec=specs["student"])


def output_dir(job: Job) -> Path:
    return Path(settings.ARTIFACT_DIR) / "jobs" / str(job.pk)


def resume_distillation(job: Job, *, by=None, threshold=None, extra_epochs=0, force=False, comment="") -> Job:
    """An engineer's decision on a gated job: queue it again with a gate override.

    The override is recorded in ``params["resumes"]`` (who, when, what) and applied by
    the next run of the job body; the recipe adds it to the run's history and model cards.
    """
    errors = Invalid()
    threshold = parse_number(threshold, "threshold", errors)
    extra_epochs = parse_number(extra_epochs, "extra_epochs", errors, kind=int, default=0, minimum=0, maximum=100)
    errors.raise_if_any()
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.kind != Job.Kind.DISTILL:
            raise Invalid({NON_FIELD: [f"{job} is not a distillation job."]})
        if job.status != Job.Status.GATED:
            raise Invalid({NON_FIELD: [f"{job} is {job.get_status_display().lower()}, not waiting at a gate."]})
        gated = (job.metrics or {}).get("gated") or {}
        params = dict(job.params)
        params["resumes"] = list(params.get("resumes", [])) + [
            {
                "threshold": threshold,
                "extra_epochs": extra_epochs,
                "force": bool(force),
                "comment": str(comment or "")[:500],
                "by": getattr(by, "username", None),
                "at": timezone.now().isoformat(timespec="seconds"),
                "stage": gated.get("stage"),
                "stage_index": gated.get("stage_index"),
                "configured_threshold": (gated.get("gate") or {}).get("threshold"),
            }
        ]
        job.params = params
        job.cancel_requested = False
        job.message = resume_summary(params["resumes"][-1])
        job.save(update_fields=["params", "cancel_requested", "message"])
        resume = params["resumes"][-1]
        audit.record(
            audit.Kind.JOB,
            "resume with force" if force else "resume",
            job,
            project=job.project,
            by=by,
            before={"status": Job.Status.GATED, "threshold": resume["configured_threshold"]},
            after={key: resume[key] for key in ("threshold", "extra_epochs", "force", "comment", "stage")},
        )
        jobs.requeue(job, "resuming after the gate")
    job.refresh_from_db()
    return job


def resume_summary(resume: dict) -> str:
    """``Resumed at the gate of stage 'easy' by alice: threshold 0.5 (was 0.9), 1 extra epoch.``"""
    parts = []
    if resume.get("threshold") is not None:
        was = resume.get("configured_threshold")
        parts.append(
            f"threshold {resume['threshold']:g}" + (f" (was {was:g})" if isinstance(was, (int, float)) else "")
        )
    if resume.get("extra_epochs"):
        n = resume["extra_epochs"]
        parts.append(f"{n} extra epoch{'s' if n != 1 else ''}")
    if resume.get("force"):
        parts.append("forced through the gate")
    what = ", ".join(parts) or "the same threshold"
    who = f" by {resume['by']}" if resume.get("by") else ""
    stage = f" of stage {resume['stage']!r}" if resume.get("stage") else ""
    comment = f" “{resume['comment']}”" if resume.get("comment") else ""
    return f"Resumed at the gate{stage}{who}: {what}.{comment}"


# ---------------------------------------------------------------- the body
def gate_sign(metric: str) -> str:
    """How a gate on ``metric`` compares with its threshold: "≤" (lower is better) or "≥"."""
    return "≤" if metric in LOWER_IS_BETTER else "≥"


def describe_gate(gate: dict) -> str:
    sign = gate_sign(gate.get("metric"))
    return f"{gate.get('metric')} = {gate.get('value'):.4g}, needs {sign} {gate.get('threshold'):.4g}"


KD_MODES = {
    "token": (
        "Token-level KD",
        "teacher and student share a tokenizer: the student learns the teacher's top-k distribution at every "
        "response token",
    ),
    "sequence": (
        "Sequence-level KD",
        "the student is trained with CE on the approved responses, without the teacher's per-token distribution",
    ),
    "label": (
        "Label-level KD",
        "the student matches the teacher's distribution over the project labels, plus CE on the approved labels",
    ),
}


def phase_label(phase: str) -> str:
    kind, _, n = phase.partition("-")
    return {"train": "training", "patience": f"patience epoch {n}", "extra": f"extra epoch {n} (after a resume)"}.get(
        kind, phase
    )

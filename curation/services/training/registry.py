"""The model registry: ModelVersion rows for what a distillation job saved, and archives.

The core saves every finished stage and the final student with ``save_pretrained``
(model + tokenizer) plus ``model_card.json``; this module records them. Rows are
keyed by (job, stage) so a re-run job body (a resume at a gate, a restarted worker)
updates its versions instead of adding more. Download archives (``.tar.gz`` next to
the model directory) are packed on first download and reused.
"""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction

from curation.models import Job, ModelSpec, ModelVersion, Snapshot

log = logging.getLogger(__name__)


class ArtifactMissing(Exception):
    """A version's files are gone (deleted by hand, or a different ARTIFACT_DIR)."""


def _card(model_dir) -> dict:
    from workers.distill import load_card

    try:
        return load_card(model_dir)
    except (OSError, ValueError):
        log.warning("no readable model card in %s", model_dir)
        return {}


def _snapshots_for(job: Job, upto: int | None) -> list[int]:
    stages = job.params.get("stages", [])
    chosen = stages if upto is None else stages[: upto + 1]
    ids = [i for s in chosen for i in [s.get("snapshot"), *s.get("extra_snapshots", [])] if i]
    return list(Snapshot.objects.filter(pk__in=ids).values_list("pk", flat=True))


def _specs(job: Job):
    params = job.params
    return (
        ModelSpec.objects.filter(pk=params.get("student_spec")).first(),
        ModelSpec.objects.filter(pk=params.get("teacher_spec")).first(),
    )


def _student_name(job: Job, student) -> str:
    return f"{student.name if student else 'student'} · job {job.pk}"


@transaction.atomic
def register_stage_version(job: Job, config, info: dict) -> ModelVersion:
    """Record the model the core saved at the end of stage ``info["stage_index"]``."""
    i = info["stage_index"]
    _drop_stale_archive(info["model_dir"])
    student, teacher = _specs(job)
    n = len(config.stages)
    parent = ModelVersion.objects.filter(job=job, stage_index=i - 1, is_final=False).first() if i else None
    card = _card(info["model_dir"])
    version, _ = ModelVersion.objects.update_or_create(
        job=job,
        stage=info["stage"],
        defaults={
            "project": job.project,
            "student_spec": student,
            "teacher_spec": teacher,
            "parent": parent,
            "name": f"{_student_name(job, student)} · stage {i + 1}/{n}"
            + ("" if info["stage"] == f"stage {i + 1}" else f" {info['stage']}"),
            "stage_index": i,
            "is_final": False,
            "kd_mode": info.get("kd_mode", ""),
            "artifact_path": str(info["model_dir"]),
            "config": card.get("config") or config.summary(),
            "metrics": {"gate": info.get("gate"), "outcome": info.get("outcome")},
            "card": card,
        },
    )
    version.snapshots.set(_snapshots_for(job, i))
    return version


@transaction.atomic
def register_final_version(job: Job, config, result) -> ModelVersion:
    """Record the final student of a completed job."""
    _drop_stale_archive(result.final_model_dir)
    student, teacher = _specs(job)
    last = ModelVersion.objects.filter(job=job, is_final=False).order_by("-stage_index").first()
    card = _card(result.final_model_dir)
    version, _ = ModelVersion.objects.update_or_create(
        job=job,
        stage="",
        defaults={
            "project": job.project,
            "student_spec": student,
            "teacher_spec": teacher,
            "parent": last,
            "name": f"{_student_name(job, student)} · final",
            "stage_index": None,
            "is_final": True,
            "kd_mode": result.kd_mode,
            "artifact_path": str(result.final_model_dir),
            "config": card.get("config") or config.summary(),
            "metrics": {"stages": {s["name"]: s["gate"] for s in result.stages}},
            "card": card,
        },
    )
    version.snapshots.set(_snapshots_for(job, None))
    return version


def _drop_stale_archive(model_dir_) -> None:
    """A stage saved again (extra epochs after a resume at its gate) outdates its archive."""
    src = Path(model_dir_)
    src.with_name(src.name + ".tar.gz").unlink(missing_ok=True)


def model_dir(version: ModelVersion) -> Path:
    """The version's directory, refused when it is missing or outside ARTIFACT_DIR."""
    path = Path(version.artifact_path).resolve()
    root = Path(settings.ARTIFACT_DIR).resolve()
    if root not in path.parents:
        raise ArtifactMissing(f"{version.name}: its files are not under the artifact store ({path})")
    if not path.is_dir():
        raise ArtifactMissing(f"{version.name}: its files are gone ({path})")
    return path


def archive_for(version: ModelVersion) -> Path:
    """The version's ``.tar.gz``, packed on first use (one packer at a time)."""
    from workers.distill import pack_archive

    src = model_dir(version)
    dest = src.with_name(src.name + ".tar.gz")
    if dest.exists():
        return dest
    with open(src.with_name(src.name + ".tar.gz.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not dest.exists():
            pack_archive(src, dest)
    return dest


def lineage(version: ModelVersion) -> list[ModelVersion]:
    """The chain of versions this one was trained from, oldest first (itself last)."""
    chain, seen, current = [], set(), version
    while current is not None and current.pk not in seen:
        chain.append(current)
        seen.add(current.pk)
        current = current.parent
    return list(reversed(chain))

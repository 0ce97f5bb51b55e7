"""A snapshot's manifest (what ``manifest.json`` and ``Snapshot.manifest`` say) and the build options
that shape its files (part of the content hash, ``snapshot_job.compute_content_hash``)."""

from __future__ import annotations

from django.utils import timezone

from curation.models import Snapshot
from curation.services import hygiene

FORMAT_VERSION = 1


# The manifest lists the evidence of at most this many left-out examples (the counts are complete).
DECONTAMINATION_EVIDENCE_MAX = 10_000


def options_of(snapshot: Snapshot) -> dict:
    """Build options that shape the files: part of the content hash."""
    project = snapshot.project
    options = {
        "format_version": FORMAT_VERSION,
        "task_type": project.task_type,
        "labels": list(project.labels or []) if project.is_classification else [],
        "include_soft_targets": snapshot.include_soft_targets,
        "system_prompt": snapshot.system_prompt,
    }
    # Only when set, so snapshots built without them keep the hashes they always had.
    if snapshot.one_per_cluster:
        options["one_per_cluster"] = True
    if snapshot.redact_pii:
        options["redact_pii"] = True
    if snapshot.content != Snapshot.Content.CURATED:  # curated snapshots keep the hashes they always had
        options["content"] = snapshot.content
    return options


def make_manifest(snapshot: Snapshot, counts: dict, files: dict) -> dict:
    manifest = {
        "format_version": FORMAT_VERSION,
        "snapshot": {"id": snapshot.pk, "name": snapshot.name, "project": snapshot.project.slug},
        "content_hash": snapshot.content_hash,
        "created_by": snapshot.created_by.username if snapshot.created_by else None,
        "created_at": snapshot.created_at.isoformat(),
        "built_at": timezone.now().isoformat(),
        "selection": {
            "stage": snapshot.stage.name if snapshot.stage else None,
            "filter": snapshot.filter,
            "status": "approved",
        },
        "split": {
            "seed": snapshot.seed,
            "validation_fraction": snapshot.validation_fraction,
            "rule": "validation when sha256(f'{seed}:{prompt_hash}')[:8] / 2**64 < validation_fraction",
        },
        "options": options_of(snapshot),
        "counts": counts,
        "excluded": snapshot.excluded,
        "decontamination": {
            "rule": "left out: gold prompts, prompts equal to one after normalisation, and their near "
            "(word-bigram Jaccard) and semantic (embedding cosine) duplicates at the project's thresholds",
            "thresholds": {
                k: v for k, v in hygiene.settings_of(snapshot.project).items() if "threshold" in k or k == "semantic"
            },
            "examples": snapshot.decontamination,
            "truncated": len(snapshot.decontamination) >= DECONTAMINATION_EVIDENCE_MAX,
        },
        "files": files,
    }
    if snapshot.content == Snapshot.Content.RAW:
        manifest["selection"].update(
            status="any", content="raw teacher output: the teacher's text, label, soft targets"
        )
    return manifest

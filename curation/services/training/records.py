"""What each stage of a distillation job trains on: snapshot rows as the core's training records.

A stage trains on the train split of its snapshot, plus the train splits of its
``extra_snapshots`` (one shuffled stage over several curriculum stages). A job-level data
option changes which rows, always deterministically from the job's ``seed``:

- ``data_fraction`` (0 < f <= 1): each stage keeps ``max(1, round(f * n))`` of its n train rows,
  those whose ``sha256(f"{seed}:{row key}")`` ranks lowest. The key is the row's content hash,
  so a row is in or out whatever snapshot (or database) it was read from, and a smaller
  fraction at the same seed keeps a subset of a larger one's rows.

The random-order control of a curriculum is the core's ``order="random"`` recipe option
(workers/distill/curriculum.py): same stage sizes and pacing, examples dealt at random.

Validation rows (what gates read) are never subsampled or dealt: a gate reads its stage's own
validation split, which the gold guard keeps free of gold prompts.
"""

from __future__ import annotations

import hashlib
import math

from django.conf import settings

from curation.models import Project, Snapshot, SnapshotRow

DATA_DEFAULTS = {"data_fraction": 1.0}


def _rank(seed: int, salt: str, key: str) -> str:
    return hashlib.sha256(f"{salt}{seed}:{key}".encode()).hexdigest()


def subsample(keyed: list[tuple[str, dict]], fraction: float, seed: int) -> list[tuple[str, dict]]:
    """The ``max(1, round(fraction * n))`` rows ranked lowest by ``sha256(seed:key)``, in their order."""
    if fraction >= 1.0 or not keyed:
        return keyed
    n = max(1, round(fraction * len(keyed)))
    chosen = sorted(range(len(keyed)), key=lambda i: (_rank(seed, "", keyed[i][0]), i))[:n]
    return [keyed[i] for i in sorted(chosen)]


class StageData:
    """The records of every stage of a job's params, loaded once, lazily (in the worker)."""

    def __init__(self, project: Project, params: dict):
        self.task, self.labels = project.task_type, list(project.labels or [])
        self.params = params
        self.seed = int(params.get("seed") or 0)
        self._train: list[list[dict]] | None = None

    def _sources(self, stage: dict) -> list[int]:
        return [stage["snapshot"], *stage.get("extra_snapshots", [])]

    def _keyed(self, stage: dict, split: str) -> list[tuple[str, dict]]:
        where = f"stage {stage['name']!r}"
        rows = []
        for snapshot_id in self._sources(stage):
            rows += keyed_records(snapshot_id, split, task=self.task, labels=self.labels, where=where)
        return rows

    def train(self, index: int) -> list[dict]:
        if self._train is None:
            fraction = float(self.params.get("data_fraction", DATA_DEFAULTS["data_fraction"]))
            train = SnapshotRow.Split.TRAIN
            stages = [subsample(self._keyed(s, train), fraction, self.seed) for s in self.params["stages"]]
            self._train = [[record for _, record in rows] for rows in stages]
        return self._train[index]

    def validation(self, index: int) -> list[dict]:
        return [record for _, record in self._keyed(self.params["stages"][index], SnapshotRow.Split.VALIDATION)]

    def loaders(self, index: int):
        return (lambda: self.train(index)), (lambda: self.validation(index))


def snapshot_records(snapshot_id: int, split: str, *, task: str, labels: list[str], where: str = "") -> list[dict]:
    """One split of a snapshot as the core's training records (see workers/distill/data.py)."""
    return [record for _, record in keyed_records(snapshot_id, split, task=task, labels=labels, where=where)]


def keyed_records(
    snapshot_id: int, split: str, *, task: str, labels: list[str], where: str = ""
) -> list[tuple[str, dict]]:
    """``snapshot_records`` with each record's key: its row's content hash (else snapshot:ordinal)."""
    from workers.distill import DistillError
    from workers.distill.runfile import soft_record
    from workers.softtargets import SoftTargetError, read_soft_targets

    snap = Snapshot.objects.filter(pk=snapshot_id).first()
    prefix = f"{where}: " if where else ""
    if snap is None:
        raise DistillError(
            f"{prefix}snapshot #{snapshot_id} no longer exists (deleted after the job was launched); launch "
            "the job again with a ready snapshot"
        )
    if snap.status != Snapshot.Status.READY:
        raise DistillError(f"{prefix}snapshot {snap.name!r} is {snap.status}, not ready")
    out = []
    for row in snap.rows.filter(split=split).order_by("ordinal").iterator(chunk_size=2000):
        key = row.row_hash or f"{snap.pk}:{row.ordinal}"
        prompt = row.prompt_messages or row.prompt_text
        if task == Project.TaskType.CLASSIFICATION:
            record = {
                "prompt": prompt,
                "label": row.label,
                "teacher_probs": _teacher_probs(row.label_distribution, labels, human_label=row.label),
                "tier": row.tier or None,
            }
            out.append((key, record))
            continue
        soft = None
        if row.soft_targets:
            try:
                st = read_soft_targets(settings.ARTIFACT_DIR, row.soft_targets)
            except SoftTargetError as exc:
                raise DistillError(f"{prefix}row {row.ordinal} of snapshot {snap.name!r}: {exc}") from exc
            soft = soft_record(st)
        out.append((key, {"prompt": prompt, "response": row.response, "tier": row.tier or None, "soft": soft}))
    return out


def _teacher_probs(distribution, labels, human_label=None):
    """``{label: p}`` in project-label order; None when there is none (CE only for that row).

    Also None when the example's label is not the teacher's top label: a reviewer changed
    it, and the student must learn the human's label (full CE weight, whatever alpha),
    not the distribution the reviewer overruled.
    """
    if not isinstance(distribution, dict):
        return None
    probs = [float(distribution.get(label, 0.0) or 0.0) for label in labels]
    if not all(math.isfinite(p) and p >= 0 for p in probs) or sum(probs) <= 0:
        return None
    if human_label is not None and human_label in labels and probs[labels.index(human_label)] < max(probs):
        return None
    return probs

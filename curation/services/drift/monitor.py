"""The drift check: windows of captured production requests against the latest training snapshot.

``check_drift(project)`` scores every full window of captures (``window_size`` requests, in
capture-id order; at most ``MAX_WINDOWS`` per call) that has no ``DriftReport`` yet, against
the project's latest ready curated snapshot (its prompts, deduplicated), with
``workers.drift``: embeddings (all-MiniLM-L6-v2, the decontamination model, loaded once per
process by ``workers.hygiene.semantic.embedder``), prompt lengths, label shares
(classification: the production model's answers that are project labels) and, when the
project has a trained student, its confidence. A flagged window marks its novel and
odd-length prompts ``Prompt.drifted`` (the review queue's "drifted" filter) and emits
``drift.detected``. The snapshot's embeddings are cached under ``ARTIFACT_DIR/drift/``.

Called by the periodic Celery task (``CELERY_BEAT_SCHEDULE``) and after a capture once a full
window is waiting (``after_capture``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction

from curation.models import CapturedRequest, DriftReport, ModelVersion, Project, Prompt, Snapshot
from curation.services import webhooks
from curation.services.drift.settings import settings_of, thresholds_of
from workers import drift as core

log = logging.getLogger(__name__)
CONFIDENCE_SAMPLE = 64
MIN_TRAINING = 10  # prompts a snapshot needs to be a reference
MAX_WINDOWS = 50  # per check; the next check goes on from there
TASK = "workers.tasks.drift.check"


def _plain(text: str, messages) -> str:
    if messages:
        return "\n".join(str(m.get("content", "")) for m in messages)
    return text or ""


def latest_snapshot(project) -> Snapshot | None:
    """The training set drift is measured against: the newest ready curated snapshot with rows."""
    return (
        Snapshot.objects.filter(
            project=project,
            status=Snapshot.Status.READY,
            content=Snapshot.Content.CURATED,
            row_count__gte=MIN_TRAINING,
        )
        .order_by("-created_at", "-id")
        .first()
    )


def latest_student(project) -> ModelVersion | None:
    version = ModelVersion.objects.filter(project=project, is_final=True).order_by("-created_at", "-id").first()
    return version if version and version.artifact_path and Path(version.artifact_path).exists() else None


class _Training:
    """A snapshot's prompts as the monitor sees them: texts, labels, embeddings (cached), the reference."""

    def __init__(self, project, snapshot: Snapshot, encoder):
        rows = {}
        for key, text, messages, label in snapshot.rows.order_by("ordinal").values_list(
            "prompt_hash", "prompt_text", "prompt_messages", "label"
        ):
            rows.setdefault(key, (_plain(text, messages), messages or text, label))
        self.texts = [r[0] for r in rows.values()]
        self.inputs = [r[1] for r in rows.values()]
        labels = [r[2] for r in rows.values()] if project.is_classification else None
        self.affixes = core.common_affixes(self.texts)
        vectors = self._vectors(snapshot, encoder)
        self.reference = core.build_reference(vectors, self.texts, labels, affixes=self.affixes, seed=snapshot.seed)

    def _vectors(self, snapshot, encoder) -> np.ndarray:
        path = Path(settings.ARTIFACT_DIR) / "drift" / f"{snapshot.content_hash or snapshot.pk}.npy"
        if path.exists():
            vectors = np.load(path)
            if len(vectors) == len(self.texts):
                return vectors
        vectors = encoder.encode(core.strip_affixes(self.texts, self.affixes))
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp.npy")
        np.save(partial, vectors)
        partial.replace(path)
        return vectors


def pending_captures(project, after: int | None = None):
    if after is None:
        last = DriftReport.objects.filter(project=project).order_by("-last_capture_id").first()
        after = last.last_capture_id if last else 0
    return CapturedRequest.objects.filter(project=project, id__gt=after).order_by("id")


def check_drift(project: Project, *, encoder=None) -> list[DriftReport]:
    """Score every full window not yet scored; the new reports (flagged or not)."""
    config = settings_of(project)
    size = int(config["window_size"])
    snapshot = latest_snapshot(project)
    if not config["enabled"] or snapshot is None:
        return []
    captures = list(
        pending_captures(project).values_list(
            "id", "captured_at", "answer", "prompt_id", "prompt__text", "prompt__messages"
        )[: size * MAX_WINDOWS]
    )
    windows = [captures[i : i + size] for i in range(0, len(captures) - size + 1, size)]
    if not windows:
        return []
    if encoder is None:
        from workers.hygiene.semantic import embedder

        encoder = embedder()
    try:
        training = _Training(project, snapshot, encoder)
    except ValueError as exc:  # fewer distinct prompts than a reference needs
        log.warning("drift: snapshot %s cannot be a reference: %s", snapshot.pk, exc)
        return []
    student = latest_student(project)
    reference_confidence = None
    if student is not None:
        sample = training.inputs[:: max(1, len(training.inputs) // CONFIDENCE_SAMPLE)][:CONFIDENCE_SAMPLE]
        reference_confidence = _confidences(project, student, sample)
        if reference_confidence is None:
            student = None
    reports = []
    for window in windows:
        report = _score(project, config, snapshot, training, student, reference_confidence, window, encoder)
        if report is not None:
            reports.append(report)
    return reports


def _confidences(project, student, inputs) -> list[float] | None:
    from workers.confidence import student_confidences

    try:
        return student_confidences(student.artifact_path, inputs, project.labels if project.is_classification else None)
    except Exception:  # a broken artifact must not stop the embedding and length signals
        log.exception("drift: student %s could not score prompts", student.pk)
        return None


def _score(project, config, snapshot, training, student, reference_confidence, window, encoder):
    texts = [_plain(text, messages) for _i, _t, _a, _p, text, messages in window]
    labels = None
    if project.is_classification:
        known = set(project.labels or [])
        labels = [answer.strip() if answer.strip() in known else None for _i, _t, answer, *_ in window]
        if sum(x is not None for x in labels) < len(labels) / 2:
            labels = None
    confidences = None
    if student is not None:
        step = max(1, len(window) // CONFIDENCE_SAMPLE)
        sample = [messages or text for *_, text, messages in window[::step]][:CONFIDENCE_SAMPLE]
        confidences = _confidences(project, student, sample)
    result = core.score_window(
        training.reference,
        encoder.encode(training.reference.content(texts)),
        texts,
        labels,
        confidences,
        reference_confidence if confidences is not None else None,
    )
    thresholds = thresholds_of(config)
    signals = core.flag(result.scores, thresholds)
    prompt_ids = [row[3] for row in window]
    drifted = sorted({pid for pid, novel, odd in zip(prompt_ids, result.novel, result.odd_length) if novel or odd})
    rounded = {k: round(v, 6) for k, v in result.scores.items()}
    try:
        with transaction.atomic():
            report = DriftReport.objects.create(
                project=project,
                snapshot=snapshot,
                model_version=student,
                first_capture_id=window[0][0],
                last_capture_id=window[-1][0],
                window_start=min(row[1] for row in window),
                window_end=max(row[1] for row in window),
                n=len(window),
                scores=rounded,
                p_values={k: float(f"{v:.4g}") for k, v in result.p_values.items()},
                thresholds={k: v for k, v in thresholds.items() if k in result.scores},
                details={k: round(v, 4) if isinstance(v, float) else v for k, v in result.details.items()},
                signals=signals,
                flagged=bool(signals),
                drifted_prompts=len(drifted) if signals else 0,
            )
            similarity = dict(zip(prompt_ids, result.similarity.tolist()))
            Prompt.objects.bulk_update(
                [Prompt(pk=pid, drift_similarity=round(v, 4)) for pid, v in similarity.items()],
                ["drift_similarity"],
                batch_size=500,
            )
            if signals:
                Prompt.objects.filter(pk__in=drifted).update(drifted=True)
                webhooks.emit(project, "drift.detected", {"drift_report": report_event(report)})
    except IntegrityError:  # another check scored this window first
        return None
    return report


def report_event(report: DriftReport) -> dict:
    """What ``drift.detected`` and the API say about a report."""
    return {
        "id": report.pk,
        "window_start": report.window_start.isoformat(),
        "window_end": report.window_end.isoformat(),
        "n": report.n,
        "scores": report.scores,
        "p_values": report.p_values,
        "thresholds": report.thresholds,
        "signals": report.signals,
        "flagged": report.flagged,
        "drifted_prompts": report.drifted_prompts,
        "snapshot": report.snapshot_id,
        "model_version": report.model_version_id,
    }


def after_capture(project) -> bool:
    """Queue a drift check (on commit) when a full window of captures is waiting; True if queued."""
    config = settings_of(project)
    if not config["enabled"] or pending_captures(project).count() < int(config["window_size"]):
        return False
    if latest_snapshot(project) is None:
        return False
    project_id = project.pk
    transaction.on_commit(lambda: _enqueue(project_id))
    return True


def _enqueue(project_id: int) -> None:
    """A broker that is down must not fail the capture: the periodic check catches up later."""
    from webapp.celery import app

    try:
        if TASK not in app.tasks:
            app.loader.import_default_modules()
        app.tasks[TASK].apply_async(args=[project_id])
    except Exception:
        log.exception("drift check of project %s could not be queued", project_id)

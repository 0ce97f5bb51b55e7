"""The body of a snapshot build (``kind=snapshot``): immutable, content-addressed, gold-guarded
sets of approved examples. ``build_snapshot``:

1. **Freeze**: the selected examples are copied into ``SnapshotRow`` in short
   transactions of ``FREEZE_BATCH`` candidates, resumable (``freeze_rows``). Rows that cannot be trained on
   are counted by reason instead: ``not_approved`` (``not_teacher`` for a raw snapshot, which
   takes the teacher's examples whatever their status, with the teacher's own text, label and
   soft targets), the gold guard's (``gold.gold_guarded``,
   the board's one definition: the prompt's stored hash is a gold item's) as
   ``gold_prompt`` (a gold item's own prompt), ``gold_duplicate`` (a prompt equal to
   one after normalisation), ``gold_near_duplicate`` / ``gold_semantic_duplicate`` (the
   data-hygiene check's flags, refreshed just before the freeze; each left-out example's
   evidence goes into ``Snapshot.decontamination`` and the manifest), ``empty_completion`` /
   ``no_label``, ``duplicate`` (the same completion for the same prompt twice) and, with
   ``one_per_cluster``, ``cluster_duplicate`` (a second example of a duplicate cluster).
   With ``redact_pii`` the prompts' personal data is replaced by typed placeholders (audited).
2. **Split**: a prompt goes to validation when ``sha256(seed, prompt hash)`` falls
   below the validation fraction (the prompt hash is ``normalize.split_key``). It
   depends on nothing but the seed and the prompt, so every sample of a prompt lands on
   the same side, and a prompt keeps its side in every later snapshot with the same seed
   (no leakage between versions).
3. **Hash**: each row's ``row_hash`` is the sha256 of exactly what the files say
   about it; the snapshot's ``content_hash`` is the sha256 of the build options and
   the row hashes in (split, row_hash) order. Same rows, same hash, whatever order
   the database returned them in and whenever it ran.
4. **Files** (``exports``) under ``ARTIFACT_DIR/snapshots/<hash>/``: a
   second snapshot with the same hash reuses them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, namedtuple
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from curation.models import Example, ExampleStatus, GoldItem, RedactionEvent, Snapshot, SnapshotRow
from curation.normalize import split_key
from curation.services import hygiene, jobs, webhooks
from curation.services.datasets.exports import BuildCancelled
from curation.services.datasets.manifest import DECONTAMINATION_EVIDENCE_MAX, make_manifest, options_of
from curation.services.datasets.snapshots import as_querydict
from curation.services.errors import Invalid
from curation.services.gold import exact_gold_guarded, gold_guarded, training_eligible
from curation.services.review import filtered_examples

FREEZE_BATCH = settings.SNAPSHOT_FREEZE_BATCH


EXCLUSION_REASONS = (
    "not_approved",
    "not_teacher",
    "gold_prompt",
    "gold_duplicate",
    "gold_near_duplicate",
    "gold_semantic_duplicate",
    "empty_completion",
    "no_label",
    "duplicate",
    "cluster_duplicate",
)


def selection(snapshot: Snapshot):
    """Every example the snapshot's stage or filter names, whatever its status."""
    project = snapshot.project
    if snapshot.filter:
        query = as_querydict(snapshot.filter)
        qs, _ = filtered_examples(project, query)
        return qs
    if snapshot.stage_id is None:
        raise Invalid({"stage": ["The stage this snapshot was taken from no longer exists."]})
    return Example.objects.filter(project=project, stage_id=snapshot.stage_id)


def split_of(seed: int, prompt_hash: str, fraction: float) -> str:
    digest = hashlib.sha256(f"{seed}:{prompt_hash}".encode()).digest()
    unit = int.from_bytes(digest[:8], "big") / 2**64
    return SnapshotRow.Split.VALIDATION if unit < fraction else SnapshotRow.Split.TRAIN


def row_record(row: SnapshotRow, *, with_soft_targets: bool) -> dict:
    """Everything the files say about a row: what its ``row_hash`` covers."""
    record = {
        "example_id": row.example_id,
        "prompt": row.prompt_text,
        "prompt_messages": row.prompt_messages,
        "completion": row.response,
        "label": row.label,
        "split": row.split,
        "stage": row.stage,
        "tier": row.tier or None,
        "source": row.source,
        "grade": row.grade,
        "edited": row.edited,
        "label_distribution": row.label_distribution,
    }
    if with_soft_targets:
        record["soft_targets"] = row.soft_targets
    return record


def hash_record(record: dict) -> str:
    raw = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


_FIELDS = {
    "id": "id",
    "version": "version",
    "prompt_id": "prompt_id",
    "text": "prompt__text",
    "messages": "prompt__messages",
    "response": "shown_response",
    "label": "label",
    "tier": "tier__name",
    "stage": "stage__name",
    "source": "source",
    "grade": "grade",
    "edited": "edited",
    "soft_targets": "soft_targets",
    "distribution": "sample__label_distribution",
    "predicted": "sample__predicted_label",
    "teacher_text": "sample__text",
    "teacher_soft_targets": "sample__soft_targets",
    "cluster": "prompt__cluster_id",
    "pii_spans": "prompt__pii_spans",
    "pii_decisions": "prompt__pii_decisions",
}


_Candidate = namedtuple("_Candidate", _FIELDS)


class _Freezer:
    """Turns candidate examples (approved, in (prompt, id) order) into frozen rows, or reasons to leave them out."""

    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        self.raw = snapshot.content == Snapshot.Content.RAW
        self.classification = snapshot.project.is_classification
        self.labels = list(snapshot.project.labels or [])
        self.excluded: Counter = Counter()
        self._prompt, self._completions = None, set()
        self._clusters: set[int] = set()
        self.redactions: list[RedactionEvent] = []

    def recall(self, state: dict) -> None:
        """What the rows already frozen (by earlier chunks of this build, committed before its worker
        died) mean for the rest: the counts so far, the last prompt's completions (the duplicate rule) and
        the clusters already represented (``one_per_cluster``). Nothing is frozen yet on a fresh build."""
        self.excluded.update(state["excluded"])
        frozen = SnapshotRow.objects.filter(snapshot=self.snapshot)
        if state["after"]:
            self._prompt = state["after"][0]
            self._completions = set(frozen.filter(example__prompt_id=self._prompt).values_list("response", flat=True))
        if self.snapshot.one_per_cluster:
            self._clusters = set(
                frozen.filter(example__prompt__cluster_id__isnull=False).values_list(
                    "example__prompt__cluster_id", flat=True
                )
            )

    def completion(self, c) -> tuple[str, str | None]:
        """The row's completion, and the reason it cannot be trained on (None: it can).

        Curated: the reviewers' label or edited text wins. Raw: the teacher's own label or text."""
        if self.classification:
            completion = (c.predicted if self.raw else c.label or c.predicted) or ""
            if not completion or (self.labels and completion not in self.labels):
                return completion, "no_label"
            return completion, None
        text = (c.teacher_text or "") if self.raw else c.response
        return text, (None if text.strip() else "empty_completion")

    def row(self, c, ordinal: int) -> SnapshotRow | None:
        completion, reason = self.completion(c)
        if reason is None:
            # Candidates come in prompt order, so one prompt's completions are all seen together.
            if c.prompt_id != self._prompt:
                self._prompt, self._completions = c.prompt_id, set()
            if completion in self._completions:
                reason = "duplicate"
            self._completions.add(completion)
        if reason is None and self.snapshot.one_per_cluster and c.cluster is not None:
            if c.cluster in self._clusters:
                reason = "cluster_duplicate"
            self._clusters.add(c.cluster)
        if reason is not None:
            self.excluded[reason] += 1
            return None
        snap = self.snapshot
        prompt_hash = split_key(c.text, c.messages)  # the original prompt's: redaction moves no prompt across
        text, messages = c.text, c.messages
        if snap.redact_pii:
            text, messages = hygiene.redact_for_snapshot(
                snap.project, snap.pk, c.prompt_id, text, messages, c.pii_spans, c.pii_decisions, self.redactions
            )
        row = SnapshotRow(
            snapshot=snap,
            ordinal=ordinal,
            example_id=c.id,
            example_version=c.version,
            prompt_hash=prompt_hash,
            prompt_text=_display_text(text, messages),
            prompt_messages=messages or None,
            response=completion,
            label=completion if self.classification else "",
            tier=c.tier or "",
            stage=c.stage,
            source=c.source,
            grade=None if self.raw else c.grade,
            edited=False if self.raw else c.edited,
            split=split_of(snap.seed, prompt_hash, snap.validation_fraction),
            soft_targets=(c.teacher_soft_targets if self.raw else c.soft_targets) or "",
            label_distribution=_label_distribution(c.distribution, self.labels) if self.classification else None,
        )
        row.row_hash = hash_record(row_record(row, with_soft_targets=snap.include_soft_targets))
        return row


def freeze_rows(
    snapshot: Snapshot, progress: Callable | None = None, cancelled: Callable | None = None, fenced=None
) -> Counter:
    """Copy the snapshot's trainable examples into SnapshotRow; returns {reason: count} of those left out.

    Chunked: each ``FREEZE_BATCH`` candidates are written in one short transaction together
    with ``snapshot.freeze_state`` (how many candidates are done, the last (prompt, example),
    the counts so far), so no transaction lasts the build, and a build resumed after its
    worker died goes on from the last committed chunk (``_Freezer.recall`` reads back what its
    rows mean for the rest). ``fenced`` (the job's ``ctx.fenced``)
    makes each chunk commit only while the job's claim stands. The price: the chunks are not
    one consistent view; an example changed during the build is frozen as it was when its
    chunk was read (its row records that version)."""
    freezer = _Freezer(snapshot)
    fenced = fenced or transaction.atomic
    # The near-duplicate flags follow the gold set as it is now (the board reads the same flags).
    hygiene.ensure_current(snapshot.project)
    chosen = selection(snapshot)
    if freezer.raw:
        # The teacher's examples whatever their status; rows without a teacher sample
        # (imported or written by people) are not the teacher's output.
        kept, left_out = chosen.filter(sample__isnull=False), "not_teacher"
    else:
        kept, left_out = chosen.filter(status=ExampleStatus.APPROVED), "not_approved"
    # The gold guard is the board's, in SQL: what it keeps out never reaches the freezer.
    eligible = training_eligible(kept)
    state = Snapshot.objects.values_list("freeze_state", flat=True).get(pk=snapshot.pk) or {}
    if not state:
        total, n_approved = chosen.count(), kept.count()
        guarded = gold_guarded(kept)
        own = guarded.filter(prompt_id__in=GoldItem.objects.filter(project=snapshot.project).values("prompt_id"))
        n_own = own.count()
        n_exact = exact_gold_guarded(kept).count()
        near = guarded.exclude(pk__in=exact_gold_guarded(kept).values("pk"))
        excluded = {
            left_out: total - n_approved,
            "gold_prompt": n_own,
            "gold_duplicate": n_exact - n_own,
            "gold_near_duplicate": near.filter(prompt__near_gold_kind=hygiene.NEAR).count(),
            "gold_semantic_duplicate": near.filter(prompt__near_gold_kind=hygiene.SEMANTIC).count(),
        }
        state = {"consumed": 0, "after": None, "total": total, "skipped": total - n_approved, "excluded": excluded}
        evidence = hygiene.examples_evidence(guarded, snapshot.project, DECONTAMINATION_EVIDENCE_MAX)
        with fenced():
            SnapshotRow.objects.filter(snapshot=snapshot).delete()  # a build that never committed a chunk
            RedactionEvent.objects.filter(snapshot_id=snapshot.pk).delete()  # its audit rows go with its rows
            Snapshot.objects.filter(pk=snapshot.pk).update(freeze_state=state, decontamination=evidence)
    snapshot.decontamination = Snapshot.objects.values_list("decontamination", flat=True).get(pk=snapshot.pk)
    freezer.recall(state)
    if progress:
        progress(state["skipped"] + state["consumed"], state["total"], phase="freezing rows")
    candidates = eligible.annotate(shown_response=Example.response_text_sql()).order_by("prompt_id", "id")
    while True:
        chunk = candidates
        if state["after"]:
            prompt_id, example_id = state["after"]
            chunk = chunk.filter(Q(prompt_id__gt=prompt_id) | Q(prompt_id=prompt_id, id__gt=example_id))
        values = list(chunk.values_list(*_FIELDS.values())[:FREEZE_BATCH])
        if not values:
            break
        rows = []
        for offset, value in enumerate(values):
            row = freezer.row(_Candidate._make(value), state["consumed"] + offset)
            if row is not None:
                rows.append(row)
        last = _Candidate._make(values[-1])
        state = dict(
            state,
            consumed=state["consumed"] + len(values),
            after=[last.prompt_id, last.id],
            excluded={k: v for k, v in freezer.excluded.items() if v},
        )
        with fenced():
            SnapshotRow.objects.bulk_create(rows, batch_size=FREEZE_BATCH)
            RedactionEvent.objects.bulk_create(freezer.redactions, batch_size=FREEZE_BATCH)
            Snapshot.objects.filter(pk=snapshot.pk).update(freeze_state=state)
        freezer.redactions = []
        if progress:
            progress(state["skipped"] + state["consumed"], state["total"])
        if cancelled and cancelled():
            raise BuildCancelled()
    return Counter({k: v for k, v in freezer.excluded.items() if v})


def _display_text(text: str, messages) -> str:
    if messages:
        return "\n".join(f"{m.get('role')}: {m.get('content')}" for m in messages)
    return text


def _label_distribution(distribution, labels: list[str]):
    """The teacher's {label: p} over the project's labels (None when missing)."""
    if not isinstance(distribution, dict) or not labels:
        return None
    return {label: float(distribution.get(label) or 0.0) for label in labels}


def compute_content_hash(snapshot: Snapshot) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(options_of(snapshot), sort_keys=True, ensure_ascii=False).encode() + b"\n")
    hashes = (
        SnapshotRow.objects.filter(snapshot=snapshot)
        .order_by("split", "row_hash")
        .values_list("split", "row_hash")
        .iterator(chunk_size=20_000)
    )
    for split, row_hash in hashes:
        digest.update(f"{split} {row_hash}\n".encode())
    return digest.hexdigest()


def _counts(snapshot: Snapshot) -> dict:
    rows = SnapshotRow.objects.filter(snapshot=snapshot)

    def by(field):
        return {(k or "(none)"): n for k, n in rows.values_list(field).annotate(n=Count("id")).order_by(field)}

    soft = rows.exclude(soft_targets="").count()
    return {
        "rows": rows.count(),
        "by_split": by("split"),
        "by_tier": by("tier"),
        "by_stage": by("stage"),
        "by_source": by("source"),
        "with_soft_targets": soft,
    }


def build_snapshot(
    snapshot: Snapshot, progress: Callable | None = None, cancelled: Callable | None = None, fenced=None
) -> Snapshot:
    """Freeze, hash and write the files of ``snapshot``; idempotent (a ready snapshot only gets missing files)."""
    from curation.services.datasets import exports

    def report(done=None, total=None, *, phase=None):
        if progress:
            progress(done, total, phase=phase)

    fenced = fenced or transaction.atomic
    snapshot = Snapshot.objects.select_related("project", "stage", "created_by").get(pk=snapshot.pk)
    newly_ready = snapshot.status != Snapshot.Status.READY
    if newly_ready:
        excluded = freeze_rows(snapshot, progress, cancelled, fenced)
        report(phase="hashing")
        counts = _counts(snapshot)
        content_hash = compute_content_hash(snapshot)
        with fenced():
            Snapshot.objects.filter(pk=snapshot.pk).update(
                content_hash=content_hash,
                excluded=dict(sorted(excluded.items())),
                row_count=counts["rows"],
                train_count=counts["by_split"].get("train", 0),
                validation_count=counts["by_split"].get("validation", 0),
            )
        snapshot.refresh_from_db()
    else:
        counts = snapshot.manifest.get("counts") or _counts(snapshot)
    report(0, snapshot.row_count, phase="writing files")
    files = exports.write_files(snapshot, progress=lambda done: report(done, snapshot.row_count), cancelled=cancelled)
    snapshot.files = {name: info["path"] for name, info in files.items()}
    snapshot.manifest = make_manifest(snapshot, counts, files)
    snapshot.status, snapshot.message, snapshot.finished_at = Snapshot.Status.READY, "", timezone.now()
    with fenced():
        snapshot.save(update_fields=["files", "manifest", "status", "message", "finished_at"])
    if newly_ready:
        webhooks.emit(snapshot.project_id, "snapshot.ready", {"snapshot": snapshot_event(snapshot)})
    return snapshot


def snapshot_event(snapshot: Snapshot) -> dict:
    return {
        "id": snapshot.pk,
        "name": snapshot.name,
        "content_hash": snapshot.content_hash,
        "rows": snapshot.row_count,
        "train": snapshot.train_count,
        "validation": snapshot.validation_count,
    }


def fail_snapshot(snapshot: Snapshot, message: str) -> None:
    Snapshot.objects.filter(pk=snapshot.pk).exclude(status=Snapshot.Status.READY).update(
        status=Snapshot.Status.FAILED, message=message[:5000], finished_at=timezone.now()
    )


def summary(snapshot: Snapshot) -> str:
    excluded = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in snapshot.excluded.items()) or "none"
    return (
        f"{snapshot.row_count:,} rows ({snapshot.train_count:,} train, {snapshot.validation_count:,} validation); "
        f"left out: {excluded}. Hash {snapshot.content_hash[:12]}."
    )


def run_build_job(ctx) -> jobs.JobOutcome:
    """The ``snapshot`` job body (workers.tasks.snapshots.build)."""
    snapshot_id = ctx.params.get("snapshot_id")
    snapshot = Snapshot.objects.filter(pk=snapshot_id, project_id=ctx.job.project_id).first()
    if snapshot is None:
        raise jobs.JobError(f"Snapshot {snapshot_id} no longer exists.")
    try:
        snapshot = build_snapshot(snapshot, progress=ctx.progress, cancelled=ctx.cancelled, fenced=ctx.fenced)
    except jobs.ClaimLost:
        raise  # another attempt holds the job and builds this snapshot: leave it alone
    except BuildCancelled:
        SnapshotRow.objects.filter(snapshot=snapshot).delete()  # the chunks it had committed
        fail_snapshot(snapshot, "The build was cancelled.")
        return jobs.JobOutcome(jobs.Status.CANCELLED, "Cancelled; the snapshot was not built.")
    except Invalid as exc:
        fail_snapshot(snapshot, str(exc))
        raise jobs.JobError(str(exc)) from None
    except Exception as exc:
        fail_snapshot(snapshot, f"The build failed ({type(exc).__name__}: {exc}).")
        raise
    ctx.progress(snapshot.row_count, snapshot.row_count, phase="ready", force=True)
    return jobs.JobOutcome(
        message=summary(snapshot), metrics={"rows": snapshot.row_count, "excluded": snapshot.excluded}
    )

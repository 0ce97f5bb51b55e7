"""A distillation launch request: the settings and their defaults, a student's recipe
(``ModelSpec.defaults["distill"]``), validation, and the core's config it turns into.

A launch request (form or API) is a plain dict::

    {"student_spec": 3, "teacher_spec": 1,
     "stages": [{"snapshot": 10, "name": "easy", "epochs": 2, "lr": 5e-4,
                 "temperature": 2.0, "alpha": 0.5, "divergence": "forward_kl",
                 "jsd_beta": 0.5, "replay_fraction": 0.0, "warmup_steps": 0,
                 "gate": {"metric": "teacher_agreement", "threshold": 0.6, "patience": 1}},
                {"snapshot": 11, "name": "hard", "steps": 400, "replay_fraction": 0.2}],
     "batch_size": 8, "grad_accum": 1, "max_seq_len": 512, "mixed_precision": "no",
     "seed": 0, "checkpoint_every": 200}

``validate_distillation`` checks it against the project (specs, ready snapshots with
rows) and then builds the core's ``DistillConfig``, so every message the core would
raise at run time (``DistillError``) is shown at launch, attached to the field it
names. Errors are ``{"stages.1.gate.threshold": ["..."]}``; ``__all__`` for the rest.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from django.conf import settings

from curation.models import ModelSpec, Project, Snapshot, SnapshotRow

GATE_METRICS = ("val_kd_loss", "teacher_agreement", "accuracy")
LOWER_IS_BETTER = {"val_kd_loss"}
DIVERGENCES = ("forward_kl", "reverse_kl", "jsd")
PRECISIONS = ("no", "bf16", "fp16")
MAX_STAGES = 20

# Defaults of a stage and of the job: the core's dataclass defaults, except two. The
# core checkpoints only at stage ends by default; a job on a shared GPU should lose at
# most a few minutes when its worker dies. And progress (a curve point) every second
# rather than every two, so a short stage still draws a curve.
STAGE_DEFAULTS = {
    "lr": 5e-5,
    "warmup_steps": 0,
    "temperature": 1.0,
    "alpha": 0.5,
    "divergence": "forward_kl",
    "jsd_beta": 0.5,
    "replay_fraction": 0.0,
}
JOB_DEFAULTS = {
    "batch_size": 8,
    "grad_accum": 1,
    "max_seq_len": 512,
    "mixed_precision": "no",
    "seed": 0,
    "checkpoint_every": 200,
    "progress_every_s": 1.0,
}


# A student spec may carry the recipe that works for it: ``defaults["distill"]`` holds job
# settings and, under "stage", settings for every stage row (``replay_fraction`` only for
# the stages after the first). The launch form pre-fills them when it picks that student.
DISTILL_JOB_KEYS = ("batch_size", "grad_accum", "max_seq_len", "mixed_precision", "seed", "checkpoint_every")
DISTILL_STAGE_KEYS = ("steps", "epochs", *STAGE_DEFAULTS)


def check_distill_defaults(value) -> list[str]:
    """Problems with a spec's ``defaults["distill"]`` (an empty list when it is usable)."""
    if not isinstance(value, dict):
        return ['"distill" must be an object of distillation settings']
    errors = FieldErrors()
    for key in sorted(set(value) - {*DISTILL_JOB_KEYS, "stage"}):
        errors.add(key, f"unknown setting; known: {', '.join(DISTILL_JOB_KEYS)}, stage")
    for key in DISTILL_JOB_KEYS:
        if key == "mixed_precision":
            _choice(value.get(key), key, PRECISIONS, errors, None)
        elif key in value:
            parse_number(value[key], key, errors, kind=int, minimum=0 if key in ("seed", "checkpoint_every") else 1)
    stage = value.get("stage", {})
    if not isinstance(stage, dict):
        errors.add("stage", "must be an object of stage settings")
        stage = {}
    for key in sorted(set(stage) - set(DISTILL_STAGE_KEYS)):
        errors.add(f"stage.{key}", f"unknown stage setting; known: {', '.join(DISTILL_STAGE_KEYS)}")
    for key in DISTILL_STAGE_KEYS:
        if key == "divergence":
            _choice(stage.get(key), f"stage.{key}", DIVERGENCES, errors, None)
        elif key in stage:
            kind = int if key in ("steps", "warmup_steps") else float
            parse_number(stage[key], f"stage.{key}", errors, kind=kind, minimum=0)
    return [f"distill.{field}: {message}" for field, messages in errors.items() for message in messages]


def distill_defaults(spec: ModelSpec | None) -> dict:
    """The student spec's distillation recipe (``defaults["distill"]``), or {} when it has none or it is unusable."""
    value = ((spec.defaults or {}) if spec is not None else {}).get("distill")
    if value is None or check_distill_defaults(value):
        return {}
    return value


class LaunchInvalid(Exception):
    """A launch (or resume) request that cannot run; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v) for k, v in errors.items()))


class FieldErrors(dict):
    """Errors by field name, as ``LaunchInvalid`` carries them: ``{"stages.0.lr": ["..."]}``."""

    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


# ------------------------------------------------------------------ parsing
def parse_number(raw, field, errors, *, kind=float, default=None, minimum=None, maximum=None, required=False):
    name = field.rsplit(".", 1)[-1] if not field.endswith("gate.threshold") else "gate threshold"
    if raw is None or raw == "":
        if required:
            errors.add(field, "This field is required.")
        return default
    if isinstance(raw, bool):
        errors.add(field, f"{name} must be a number, got {raw!r}")
        return default
    try:
        value = kind(raw) if kind is float else _whole(raw)
    except (TypeError, ValueError):
        errors.add(field, f"{name} must be {'a whole number' if kind is int else 'a number'}, got {raw!r}")
        return default
    if kind is float and not math.isfinite(value):
        errors.add(field, f"{name} must be a finite number, got {raw!r}")
        return default
    if minimum is not None and value < minimum:
        errors.add(field, f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        errors.add(field, f"{name} must be at most {maximum}, got {value}")
    return value


def _whole(raw) -> int:
    if isinstance(raw, float):
        if not raw.is_integer():
            raise ValueError
        return int(raw)
    return int(str(raw).strip())


def _choice(raw, field, choices, errors, default):
    if raw is None or raw == "":
        return default
    if raw not in choices:
        errors.add(field, f"{raw!r} is not supported; choose one of {', '.join(choices)}")
        return default
    return raw


def _db_id(raw) -> int:
    """``raw`` as a primary key the database can hold, else -1 (matches nothing, never overflows)."""
    text = str(raw)
    return int(text) if text.isascii() and text.isdigit() and int(text) < 2**63 else -1


def _spec(project, raw, field, role, errors, *, required=True):
    if raw in (None, ""):
        if required:
            errors.add(field, f"Choose the {role} model.")
        return None
    spec = ModelSpec.objects.filter(project=project, pk=_db_id(raw)).first()
    if spec is None:
        errors.add(field, f"no model spec #{raw} in this project")
        return None
    if spec.role != role:
        errors.add(field, f"{spec.name!r} is registered as a {spec.role}, not a {role}")
    return spec


STAGE_NAME = re.compile(r"[\w .()+-]{1,50}")


def _stage_names(snapshots: list[Snapshot | None], given: list[str]) -> list[str]:
    """Given names, else the snapshot's curriculum stage or name, else "stage N"; made unique."""
    names, seen = [], set()
    for i, (snap, name) in enumerate(zip(snapshots, given)):
        if name:
            names.append(name)
            seen.add(name)
            continue
        base = ((snap.stage.name if snap.stage_id else snap.name) if snap is not None else "") or f"stage {i + 1}"
        base = re.sub(r"[^\w .()+-]", "-", base)[:45].strip() or f"stage {i + 1}"
        candidate, n = base, 2
        while candidate in seen or candidate in given:
            candidate, n = f"{base} ({n})", n + 1
        names.append(candidate)
        seen.add(candidate)
    return names


def _row_counts(snapshot_ids) -> dict[tuple[int, str], int]:
    from django.db.models import Count

    rows = (
        SnapshotRow.objects.filter(snapshot_id__in=snapshot_ids).values("snapshot_id", "split").annotate(n=Count("id"))
    )
    return {(r["snapshot_id"], r["split"]): r["n"] for r in rows}


def validate_distillation(project: Project, data: dict) -> tuple[dict, dict]:
    """The job params for a launch request, and the specs; raises ``LaunchInvalid``."""
    errors = FieldErrors()
    if not isinstance(data, dict):
        raise LaunchInvalid({"__all__": ["The request must be a JSON object."]})
    known = {"student_spec", "teacher_spec", "stages", *JOB_DEFAULTS}
    for key in sorted(set(data) - known):
        errors.add(key, "unknown setting")
    student = _spec(project, data.get("student_spec"), "student_spec", ModelSpec.Role.STUDENT, errors)
    teacher = _spec(project, data.get("teacher_spec"), "teacher_spec", ModelSpec.Role.TEACHER, errors)
    if student is not None and student.backend != ModelSpec.Backend.TRANSFORMERS:
        errors.add(
            "student_spec",
            f"{student.name!r} is served over HTTP; a student must be a local transformers model to be trained",
        )
    params = {
        "student_spec": student.pk if student else None,
        "teacher_spec": teacher.pk if teacher else None,
        "batch_size": parse_number(
            data.get("batch_size"), "batch_size", errors, kind=int, default=JOB_DEFAULTS["batch_size"], minimum=1
        ),
        "grad_accum": parse_number(data.get("grad_accum"), "grad_accum", errors, kind=int, default=1, minimum=1),
        "max_seq_len": parse_number(
            data.get("max_seq_len"), "max_seq_len", errors, kind=int, default=JOB_DEFAULTS["max_seq_len"], minimum=8
        ),
        "mixed_precision": _choice(data.get("mixed_precision"), "mixed_precision", PRECISIONS, errors, "no"),
        "seed": parse_number(data.get("seed"), "seed", errors, kind=int, default=0, minimum=0),
        "checkpoint_every": parse_number(
            data.get("checkpoint_every"),
            "checkpoint_every",
            errors,
            kind=int,
            default=JOB_DEFAULTS["checkpoint_every"],
            minimum=0,
        ),
        "progress_every_s": parse_number(
            data.get("progress_every_s"),
            "progress_every_s",
            errors,
            default=JOB_DEFAULTS["progress_every_s"],
            minimum=0,
        ),
    }
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        errors.add("stages", "Add at least one stage.")
        raw_stages = []
    if len(raw_stages) > MAX_STAGES:
        errors.add("stages", f"at most {MAX_STAGES} stages")
        raw_stages = raw_stages[:MAX_STAGES]
    snapshot_ids = [s.get("snapshot") for s in raw_stages if isinstance(s, dict)]
    snapshots = {
        s.pk: s
        for s in Snapshot.objects.filter(project=project, pk__in=[_db_id(i) for i in snapshot_ids]).select_related(
            "stage"
        )
    }
    counts = _row_counts(list(snapshots))
    stages, stage_snaps = [], []
    for i, raw in enumerate(raw_stages):
        where = f"stages.{i}"
        if not isinstance(raw, dict):
            errors.add(where, "each stage must be an object")
            stage_snaps.append(None)
            stages.append({})
            continue
        stage_known = {"snapshot", "name", "steps", "epochs", "gate", *STAGE_DEFAULTS}
        for key in sorted(set(raw) - stage_known):
            errors.add(f"{where}.{key}", "unknown stage setting")
        snap = snapshots.get(_db_id(raw.get("snapshot", "")))
        if raw.get("snapshot") in (None, ""):
            errors.add(f"{where}.snapshot", "Choose the snapshot this stage trains on.")
        elif snap is None:
            errors.add(f"{where}.snapshot", f"no snapshot #{raw.get('snapshot')} in this project")
        elif snap.status != Snapshot.Status.READY:
            errors.add(f"{where}.snapshot", f"snapshot {snap.name!r} is {snap.get_status_display().lower()}, not ready")
        elif not counts.get((snap.pk, SnapshotRow.Split.TRAIN)):
            errors.add(f"{where}.snapshot", f"snapshot {snap.name!r} has no training rows")
        stage_snaps.append(snap)
        stage = {
            "snapshot": snap.pk if snap else None,
            "snapshot_hash": snap.content_hash if snap else "",
            "name": str(raw.get("name") or "").strip()[:50],
            "steps": parse_number(raw.get("steps"), f"{where}.steps", errors, kind=int),
            "epochs": parse_number(raw.get("epochs"), f"{where}.epochs", errors),
        }
        for key, default in STAGE_DEFAULTS.items():
            if key == "divergence":
                stage[key] = _choice(raw.get(key), f"{where}.{key}", DIVERGENCES, errors, default)
            elif key == "warmup_steps":
                stage[key] = parse_number(raw.get(key), f"{where}.{key}", errors, kind=int, default=default)
            else:
                stage[key] = parse_number(raw.get(key), f"{where}.{key}", errors, default=default)
        gate = raw.get("gate")
        if gate in (None, {}, ""):
            stage["gate"] = None
        elif not isinstance(gate, dict):
            errors.add(f"{where}.gate", "a gate is an object {metric, threshold, patience}")
            stage["gate"] = None
        else:
            stage["gate"] = {
                "metric": _choice(gate.get("metric"), f"{where}.gate.metric", GATE_METRICS, errors, None),
                "threshold": parse_number(gate.get("threshold"), f"{where}.gate.threshold", errors, required=True),
                "patience": parse_number(gate.get("patience"), f"{where}.gate.patience", errors, kind=int, default=0),
            }
            if stage["gate"]["metric"] is None and f"{where}.gate.metric" not in errors:
                errors.add(f"{where}.gate.metric", f"Choose the gate's metric: {', '.join(GATE_METRICS)}.")
            if snap is not None and not counts.get((snap.pk, SnapshotRow.Split.VALIDATION)):
                errors.add(
                    f"{where}.gate.metric",
                    f"a gate evaluates the snapshot's validation rows, and {snap.name!r} has none; "
                    "build it with a validation fraction, or remove the gate",
                )
        stages.append(stage)
    names = _stage_names(stage_snaps, [s.get("name", "") for s in stages])
    for i, (stage, name) in enumerate(zip(stages, names)):
        # The name becomes a directory name under the job's output: keep it plain.
        if not STAGE_NAME.fullmatch(name):
            errors.add(f"stages.{i}.name", f"{name!r}: use letters, digits, spaces and - _ . ( ) + only")
        stage["name"] = name
    params["stages"] = stages
    if errors:
        raise LaunchInvalid(dict(errors))
    # Everything the core would refuse at run time, refused now with its own words.
    from workers.distill import DistillError

    try:
        build_config(
            project, params, output_dir=Path(settings.ARTIFACT_DIR) / "jobs" / "new", teacher=teacher, student=student
        )
    except DistillError as exc:
        raise LaunchInvalid({_field_of(str(exc), stages): [str(exc)]}) from None
    return params, {"student": student, "teacher": teacher}


_STAGE_FIELD_WORDS = [
    ("steps or epochs", "steps"),
    ("epochs", "epochs"),
    ("steps", "steps"),
    ("learning rate", "lr"),
    ("warmup_steps", "warmup_steps"),
    ("temperature", "temperature"),
    ("jsd_beta", "jsd_beta"),
    ("alpha", "alpha"),
    ("divergence", "divergence"),
    ("replay_fraction", "replay_fraction"),
    ("gate metric", "gate.metric"),
    ("gate threshold", "gate.threshold"),
    ("gate patience", "gate.patience"),
    ("gate", "gate.metric"),
    ("name", "name"),
]
_JOB_FIELDS = ("batch_size", "grad_accum", "max_seq_len", "checkpoint_every", "mixed_precision")


def _field_of(message: str, stages: list[dict]) -> str:
    """The form field a ``DistillError`` message is about (``__all__`` when unsure)."""
    match = re.match(r"stage (['\"])(.*?)\1[:,]", message)
    index = next((i for i, s in enumerate(stages) if match and s.get("name") == match.group(2)), None)
    if message.startswith("stage names must be unique"):
        seen = set()
        for i, s in enumerate(stages):
            if s["name"] in seen:
                return f"stages.{i}.name"
            seen.add(s["name"])
    if index is not None:
        rest = message[match.end() :]
        for word, field in _STAGE_FIELD_WORDS:
            if word in rest:
                return f"stages.{index}.{field}"
        return f"stages.{index}"
    for field in _JOB_FIELDS:
        if field in message:
            return field
    return "__all__"


# ------------------------------------------------------------- the config
def teacher_tokenizer_of(spec: ModelSpec | None) -> str | None:
    """What the core compares with the student's tokenizer: a path, a hub name or a
    ``sha256:`` vocabulary hash (``defaults["vocab_hash"]`` of an HTTP-served teacher);
    None when unknown, which makes the job train sequence-level KD."""
    if spec is None:
        return None
    if spec.tokenizer_path:
        return spec.tokenizer_path
    vocab = (spec.defaults or {}).get("vocab_hash")
    if isinstance(vocab, str) and vocab.startswith("sha256:"):
        return vocab
    return spec.path if spec.backend == ModelSpec.Backend.TRANSFORMERS else None


def build_config(project: Project, params: dict, *, output_dir, teacher=None, student=None):
    """The core's ``DistillConfig`` for these params; records load lazily (in the worker)."""
    from workers.distill import DistillConfig, GateConfig, StageConfig

    student = student or ModelSpec.objects.get(pk=params["student_spec"])
    if teacher is None and params.get("teacher_spec"):
        teacher = ModelSpec.objects.filter(pk=params["teacher_spec"]).first()
    task, labels = project.task_type, list(project.labels or [])
    stages = []
    for s in params["stages"]:
        gate = GateConfig(**s["gate"]) if s.get("gate") else None
        where = f"stage {s['name']!r}"
        stages.append(
            StageConfig(
                name=s["name"],
                records=_loader(s["snapshot"], SnapshotRow.Split.TRAIN, task, labels, where),
                val_records=_loader(s["snapshot"], SnapshotRow.Split.VALIDATION, task, labels, where) if gate else None,
                steps=s.get("steps"),
                epochs=s.get("epochs"),
                **{k: s.get(k, d) for k, d in STAGE_DEFAULTS.items()},
                gate=gate,
                snapshot=s.get("snapshot_hash") or None,
            )
        )
    return DistillConfig(
        student=student.path,
        stages=stages,
        output_dir=str(output_dir),
        task=task,
        labels=labels if task == Project.TaskType.CLASSIFICATION else [],
        teacher_tokenizer=teacher_tokenizer_of(teacher),
        **{k: params.get(k, d) for k, d in JOB_DEFAULTS.items()},
    )


def _loader(snapshot_id, split, task, labels, where):
    return lambda: snapshot_records(snapshot_id, split, task=task, labels=labels, where=where)


def snapshot_records(snapshot_id: int, split: str, *, task: str, labels: list[str], where: str = "") -> list[dict]:
    """One split of a snapshot as the core's training records (see workers/distill/data.py)."""
    from workers.distill import DistillError
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
        prompt = row.prompt_messages or row.prompt_text
        if task == Project.TaskType.CLASSIFICATION:
            out.append(
                {
                    "prompt": prompt,
                    "label": row.label,
                    "teacher_probs": _teacher_probs(row.label_distribution, labels, human_label=row.label),
                    "tier": row.tier or None,
                }
            )
            continue
        soft = None
        if row.soft_targets:
            try:
                st = read_soft_targets(settings.ARTIFACT_DIR, row.soft_targets)
            except SoftTargetError as exc:
                raise DistillError(f"{prefix}row {row.ordinal} of snapshot {snap.name!r}: {exc}") from exc
            soft = {
                "response_ids": st.token_ids,
                "topk_ids": st.topk_ids,
                "topk_logprobs": st.topk_logprobs,
                "tail_logprob": st.tail_logprob,
            }
        out.append({"prompt": prompt, "response": row.response, "tier": row.tier or None, "soft": soft})
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

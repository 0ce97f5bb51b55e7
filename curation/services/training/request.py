"""A distillation launch request: the settings and their defaults, a student's recipe
(``ModelSpec.defaults["distill"]``), validation, and the core's config it turns into.

A launch request (form or API) is a plain dict::

    {"student_spec": 3, "teacher_spec": 1,
     "stages": [{"snapshot": 10, "name": "easy", "epochs": 2, "lr": 5e-4,
                 "temperature": 2.0, "alpha": 0.5, "divergence": "forward_kl",
                 "jsd_beta": 0.5, "replay_fraction": 0.0, "warmup_steps": 0,
                 "gate": {"metric": "teacher_agreement", "threshold": 0.6, "patience": 1}},
                {"snapshot": 11, "name": "hard", "steps": 400, "replay_fraction": 0.2,
                 "on_policy": {"fraction": 0.5, "temperature": 1.0, "max_new_tokens": 64, "beta": 0.5}}],
     "batch_size": 8, "grad_accum": 1, "max_seq_len": 512, "mixed_precision": "no",
     "seed": 0, "checkpoint_every": 200}

``validate_distillation`` checks it against the project (specs, ready snapshots with
rows) and then builds the core's ``DistillConfig``, so every message the core would
raise at run time (``DistillError``) is shown at launch, attached to the field it
names (``DistillError.field``). Errors are ``{"stages.1.gate.threshold": ["..."]}``; ``__all__`` for the rest.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from django.conf import settings
from django.db import models

from curation.models import ModelSpec, Project, Snapshot, SnapshotRow
from curation.services.errors import NON_FIELD, Invalid
from curation.services.inputs import by_id, parse_choice, parse_id, parse_number
from curation.services.recipes import (
    CURRICULUM_CHOICES,
    CURRICULUM_RANGES,
    JOB_DEFAULTS,
    STAGE_DEFAULTS,
)
from curation.services.training.onpolicy import check_on_policy, core_teacher, parse_on_policy
from curation.services.training.records import DATA_DEFAULTS, StageData
from workers.distill.config import GATE_METRICS, PRECISIONS
from workers.distill.losses import DIVERGENCES

MAX_STAGES = 20


# ------------------------------------------------------------------ parsing
def _spec(project, raw, field, role, errors, *, required=True):
    if raw in (None, ""):
        if required:
            errors.add(field, f"Choose the {role} model.")
        return None
    spec = by_id(ModelSpec.objects.filter(project=project), raw)
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


def _snapshot_problem(snap: Snapshot | None, raw_id, counts) -> str | None:
    if snap is None:
        return f"no snapshot #{raw_id} in this project"
    if snap.status != Snapshot.Status.READY:
        return f"snapshot {snap.name!r} is {snap.get_status_display().lower()}, not ready"
    if not counts.get((snap.pk, SnapshotRow.Split.TRAIN)):
        return f"snapshot {snap.name!r} has no training rows"
    return None


def _extra_snapshots(raw, field, snapshots, counts, errors) -> list[Snapshot]:
    """A stage's ``extra_snapshots``: more ready snapshots whose rows the stage also trains on."""
    if raw in (None, [], ""):
        return []
    if not isinstance(raw, list):
        errors.add(field, "a list of snapshot ids")
        return []
    out = []
    for raw_id in raw:
        snap = snapshots.get(parse_id(raw_id))
        problem = _snapshot_problem(snap, raw_id, counts)
        if problem:
            errors.add(field, problem)
        else:
            out.append(snap)
    return out


def validate_distillation(project: Project, data: dict) -> tuple[dict, dict]:
    """The job params for a launch request, and the specs; raises ``Invalid``."""
    errors = Invalid()
    if not isinstance(data, dict):
        raise Invalid({NON_FIELD: ["The request must be a JSON object."]})
    known = {"student_spec", "teacher_spec", "stages", *JOB_DEFAULTS, *DATA_DEFAULTS}
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
        "mixed_precision": parse_choice(data.get("mixed_precision"), "mixed_precision", PRECISIONS, errors, "no"),
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
    params["data_fraction"] = parse_number(
        data.get("data_fraction"), "data_fraction", errors, default=DATA_DEFAULTS["data_fraction"], maximum=1.0
    )
    if params["data_fraction"] is not None and not params["data_fraction"] > 0:
        errors.add("data_fraction", "must be more than 0 (the share of each stage's training rows to train on)")
    for key, choices in CURRICULUM_CHOICES.items():
        params[key] = parse_choice(data.get(key), key, choices, errors, JOB_DEFAULTS[key])
    for key, (low, high) in CURRICULUM_RANGES.items():
        params[key] = parse_number(data.get(key), key, errors, default=JOB_DEFAULTS[key], minimum=low, maximum=high)
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        errors.add("stages", "Add at least one stage.")
        raw_stages = []
    if len(raw_stages) > MAX_STAGES:
        errors.add("stages", f"at most {MAX_STAGES} stages")
        raw_stages = raw_stages[:MAX_STAGES]
    snapshot_ids = [s.get("snapshot") for s in raw_stages if isinstance(s, dict)]
    snapshot_ids += [
        i
        for s in raw_stages
        if isinstance(s, dict) and isinstance(s.get("extra_snapshots"), list)
        for i in s["extra_snapshots"]
    ]
    snapshots = {
        s.pk: s
        for s in Snapshot.objects.filter(
            project=project, pk__in=[i for i in map(parse_id, snapshot_ids) if i]
        ).select_related("stage")
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
        stage_known = {"snapshot", "extra_snapshots", "name", "steps", "epochs", "gate", "on_policy", *STAGE_DEFAULTS}
        for key in sorted(set(raw) - stage_known):
            errors.add(f"{where}.{key}", "unknown stage setting")
        snap = snapshots.get(parse_id(raw.get("snapshot")))
        if raw.get("snapshot") in (None, ""):
            errors.add(f"{where}.snapshot", "Choose the snapshot this stage trains on.")
        elif problem := _snapshot_problem(snap, raw.get("snapshot"), counts):
            errors.add(f"{where}.snapshot", problem)
        stage_snaps.append(snap)
        extras = _extra_snapshots(raw.get("extra_snapshots"), f"{where}.extra_snapshots", snapshots, counts, errors)
        stage = {
            "snapshot": snap.pk if snap else None,
            "snapshot_hash": snap.content_hash if snap else "",
            **(
                {"extra_snapshots": [x.pk for x in extras], "extra_hashes": [x.content_hash for x in extras]}
                if extras
                else {}
            ),
            "name": str(raw.get("name") or "").strip()[:50],
            "steps": parse_number(raw.get("steps"), f"{where}.steps", errors, kind=int),
            "epochs": parse_number(raw.get("epochs"), f"{where}.epochs", errors),
        }
        for key, default in STAGE_DEFAULTS.items():
            if key == "divergence":
                stage[key] = parse_choice(raw.get(key), f"{where}.{key}", DIVERGENCES, errors, default)
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
                "metric": parse_choice(gate.get("metric"), f"{where}.gate.metric", GATE_METRICS, errors, None),
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
        if (on_policy := parse_on_policy(raw.get("on_policy"), f"{where}.on_policy", errors)) is not None:
            stage["on_policy"] = on_policy
        stages.append(stage)
    _refuse_gold_rows(project, stage_snaps, errors)
    _check_sampled_targets(stage_snaps, stages, errors)
    names = _stage_names(stage_snaps, [s.get("name", "") for s in stages])
    for i, (stage, name) in enumerate(zip(stages, names)):
        # The name becomes a directory name under the job's output: keep it plain.
        if not STAGE_NAME.fullmatch(name):
            errors.add(f"stages.{i}.name", f"{name!r}: use letters, digits, spaces and - _ . ( ) + only")
        stage["name"] = name
    params["stages"] = stages
    tokenizer = teacher_tokenizer_of(teacher)
    if (frozen := check_on_policy(project, stages, teacher, student, errors, teacher_tokenizer=tokenizer)) is not None:
        params["on_policy_teacher"] = frozen
    errors.raise_if_any()
    # Everything the core would refuse at run time, refused now with its own words, under
    # the field the core names.
    from workers.distill import DistillError

    try:
        config = build_config(
            project, params, output_dir=Path(settings.ARTIFACT_DIR) / "jobs" / "new", teacher=teacher, student=student
        )
        _check_budget(config, [counts.get((s.pk, SnapshotRow.Split.TRAIN), 0) for s in stage_snaps])
    except DistillError as exc:
        field = "teacher_spec" if exc.field == "teacher" else exc.field
        raise Invalid({field or NON_FIELD: [str(exc)]}) from None
    return params, {"student": student, "teacher": teacher}


def _refuse_gold_rows(project: Project, snapshots: list[Snapshot | None], errors: Invalid) -> None:
    """Gold is a test set: a stage may neither train nor gate on a gold prompt.

    A snapshot never holds one when it is built (the gold guard), but a prompt added to
    the gold set afterwards stays in the snapshots built before: its validation rows would
    then choose (gate, early stopping) on gold, and its train rows would train on it.
    """
    from curation.models import GoldItem

    ids = [s.pk for s in snapshots if s is not None]
    if not ids:
        return
    gold = GoldItem.objects.filter(project=project).values("content_hash")
    # A row's prompt_hash is its split key (a one-turn chat keeps its pre-folding hash), so the
    # prompt's own content_hash, when the example is still there, is checked too.
    rows = SnapshotRow.objects.filter(snapshot_id__in=ids).filter(
        models.Q(prompt_hash__in=gold) | models.Q(example__prompt__content_hash__in=gold)
    )
    found = {r["snapshot_id"]: r["n"] for r in rows.values("snapshot_id").annotate(n=models.Count("id"))}
    for i, snap in enumerate(snapshots):
        if snap is not None and found.get(snap.pk):
            errors.add(
                f"stages.{i}.snapshot",
                f"snapshot {snap.name!r} holds {found[snap.pk]} row(s) whose prompt is now in the gold set (added "
                "after the snapshot was built); gold is a test set, never trained or selected on: build a new "
                "snapshot of this stage",
            )


def soft_target_kinds(snap: Snapshot) -> set[str]:
    """What the snapshot's soft targets are, "topk" and/or "sampled" (one shard header per file)."""
    from workers.softtargets import SoftTargetError, shard_kind

    pointers = SnapshotRow.objects.filter(snapshot=snap).exclude(soft_targets="").values_list("soft_targets", flat=True)
    kinds = set()
    for shard in {p.partition("#")[0]: p for p in pointers}.values():
        try:
            kinds.add(shard_kind(settings.ARTIFACT_DIR, shard))
        except SoftTargetError:
            continue  # a missing shard is the run's own clear error (it names the row)
    return kinds


def _check_sampled_targets(snapshots: list[Snapshot | None], stages: list[dict], errors: Invalid) -> None:
    """A stage on sampled (RS-KD) soft targets trains with their unbiased estimator: forward KL at
    temperature 1, on one kind of soft targets (what the core refuses at run time, refused here)."""
    for i, (snap, stage) in enumerate(zip(snapshots, stages)):
        kinds = soft_target_kinds(snap) if snap is not None else set()
        if "sampled" not in kinds:
            continue
        if len(kinds) > 1:
            errors.add(f"stages.{i}.snapshot", f"snapshot {snap.name!r} mixes sampled and top-k soft targets")
        if stage.get("temperature") not in (None, 1, 1.0):
            errors.add(f"stages.{i}.temperature", "sampled soft targets train at temperature 1 (the unbiased estimate)")
        if stage.get("divergence") not in (None, "forward_kl"):
            errors.add(f"stages.{i}.divergence", "sampled soft targets train forward KL (the unbiased estimate)")


def _check_budget(config, train_rows: list[int]) -> None:
    """The step budget's plan from the snapshots' row counts, so a budget the data cannot
    honour (a replay_share or hard_weight too large) is refused at launch, not at run time."""
    from workers.distill.curriculum import plan_tier_visits

    if config.budget != "tier_visits" or len(train_rows) < 2 or not all(train_rows):
        return
    per_step = config.batch_size * config.grad_accum
    total = 0
    for stage, n in zip(config.stages, train_rows):
        earlier = sum(train_rows[: config.stages.index(stage)])
        pool = earlier if config.pacing == "cumulative" else round(stage.replay_fraction * earlier)
        items = n + (pool if stage is not config.stages[0] else 0)
        per_epoch = math.ceil(math.ceil(items / config.batch_size) / config.grad_accum)
        total += stage.steps if stage.steps is not None else max(1, math.ceil(stage.epochs * per_epoch))
    groups = []
    for j, stage in enumerate(config.stages):
        earlier = sum(train_rows[:j])
        share = 1.0 if config.pacing == "cumulative" else stage.replay_fraction
        groups.append({g: round(share * train_rows[g]) for g in range(j)} if j and earlier else {})
    plan_tier_visits(
        train_rows,
        groups,
        total_steps=total,
        draws_per_step=per_step,
        replay_share=config.replay_share,
        hard_weight=config.hard_weight,
    )


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
    from workers.distill import DistillConfig, DistillError

    student = student or ModelSpec.objects.get(pk=params["student_spec"])
    if teacher is None and params.get("teacher_spec"):
        teacher = ModelSpec.objects.filter(pk=params["teacher_spec"]).first()
    task, labels = project.task_type, list(project.labels or [])
    data = StageData(project, params)
    stages = []
    for i, s in enumerate(params["stages"]):
        try:
            stages.append(_stage_config(s, data.loaders(i)))
        except DistillError as exc:
            raise exc.within(f"stages.{i}") from exc
    return DistillConfig(
        student=student.path,
        stages=stages,
        output_dir=str(output_dir),
        task=task,
        labels=labels if task == Project.TaskType.CLASSIFICATION else [],
        teacher_tokenizer=teacher_tokenizer_of(teacher),
        teacher=core_teacher(params),
        **{k: params.get(k, d) for k, d in JOB_DEFAULTS.items()},
    )


def _stage_config(s: dict, loaders):
    from workers.distill import DistillError, GateConfig, StageConfig

    try:
        gate = GateConfig(**s["gate"]) if s.get("gate") else None
    except DistillError as exc:
        raise exc.within("gate") from exc
    train, validation = loaders
    hashes = [s.get("snapshot_hash") or "", *s.get("extra_hashes", [])]
    return StageConfig(
        name=s["name"],
        records=train,
        val_records=validation if gate else None,
        steps=s.get("steps"),
        epochs=s.get("epochs"),
        **{k: s.get(k, d) for k, d in STAGE_DEFAULTS.items()},
        gate=gate,
        snapshot="+".join(h for h in hashes if h) or None,
        on_policy=s.get("on_policy"),
    )

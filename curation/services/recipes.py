"""A distillation recipe's settings and their defaults, and the check of the recipe a student spec
carries (``ModelSpec.defaults["distill"]``).

A student spec may carry the recipe that works for it: ``defaults["distill"]`` holds job
settings and, under "stage", settings for every stage row (``replay_fraction`` only for the
stages after the first). The launch form pre-fills them when it picks that student."""

from __future__ import annotations

from dataclasses import fields

from curation.models import ModelSpec
from curation.services.errors import Invalid
from curation.services.inputs import parse_choice, parse_number
from workers.distill.config import PRECISIONS, DistillConfig, StageConfig
from workers.distill.losses import DIVERGENCES


def _core_defaults(config, names) -> dict:
    return {f.name: f.default for f in fields(config) if f.name in names}


# Defaults of a stage and of the job: the core's dataclass defaults, except two. The
# core checkpoints only at stage ends by default; a job on a shared GPU should lose at
# most a few minutes when its worker dies. And progress (a curve point) every second
# rather than every two, so a short stage still draws a curve.
STAGE_DEFAULTS = _core_defaults(
    StageConfig, ("lr", "warmup_steps", "temperature", "alpha", "divergence", "jsd_beta", "replay_fraction")
)
JOB_DEFAULTS = {
    **_core_defaults(DistillConfig, ("batch_size", "grad_accum", "max_seq_len", "mixed_precision", "seed")),
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
    errors = Invalid()
    for key in sorted(set(value) - {*DISTILL_JOB_KEYS, "stage"}):
        errors.add(key, f"unknown setting; known: {', '.join(DISTILL_JOB_KEYS)}, stage")
    for key in DISTILL_JOB_KEYS:
        if key == "mixed_precision":
            parse_choice(value.get(key), key, PRECISIONS, errors, None)
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
            parse_choice(stage.get(key), f"stage.{key}", DIVERGENCES, errors, None)
        elif key in stage:
            kind = int if key in ("steps", "warmup_steps") else float
            parse_number(stage[key], f"stage.{key}", errors, kind=kind, minimum=0)
    return [f"distill.{field}: {message}" for field, message in errors.flat()]


def distill_defaults(spec: ModelSpec | None) -> dict:
    """The student spec's distillation recipe (``defaults["distill"]``), or {} when it has none or it is unusable."""
    value = ((spec.defaults or {}) if spec is not None else {}).get("distill")
    if value is None or check_distill_defaults(value):
        return {}
    return value

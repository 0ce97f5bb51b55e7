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
from workers.distill.curriculum import BUDGETS, LR_SCHEDULES, PACINGS, TEMPERATURE_SCHEDULES
from workers.distill.curriculum import ORDERS as CURRICULUM_ORDERS
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


# The curriculum's recipe options (workers/distill/curriculum.py explains each). The
# product's defaults differ from the core's in one place, the budget: "tier_visits" keeps
# the total of the stages' steps and gives every stage's records the visits a shuffled run
# of that many steps gives them, so the hard stage is never starved (with "given" and 30%
# replay it got 37.5% fewer visits than shuffled, issue #14). The rest were chosen on
# validation data with `bench/distill.py --select` (README, "What the curriculum is worth").
CURRICULUM_CHOICES = {
    "order": CURRICULUM_ORDERS,
    "pacing": PACINGS,
    "budget": BUDGETS,
    "lr_schedule": LR_SCHEDULES,
    "temperature_schedule": TEMPERATURE_SCHEDULES,
}
CURRICULUM_DEFAULTS = {
    "order": "curriculum",
    "pacing": "replay",
    "budget": "tier_visits",
    "replay_share": 0.2,
    "hard_weight": 1.0,
    "lr_schedule": "per_stage",
    "ce_warmup_fraction": 0.0,
    "temperature_schedule": "constant",
}
# (field, minimum, maximum) of the numeric options; the core refuses the open ends.
CURRICULUM_RANGES = {"replay_share": (0.0, 0.95), "hard_weight": (1.0, 10.0), "ce_warmup_fraction": (0.0, 0.95)}


JOB_DEFAULTS = {
    **_core_defaults(DistillConfig, ("batch_size", "grad_accum", "max_seq_len", "mixed_precision", "seed")),
    "checkpoint_every": 200,
    "progress_every_s": 1.0,
    **CURRICULUM_DEFAULTS,
}


# A student spec may carry the recipe that works for it: ``defaults["distill"]`` holds job
# settings and, under "stage", settings for every stage row (``replay_fraction`` only for
# the stages after the first). The launch form pre-fills them when it picks that student.
DISTILL_JOB_KEYS = (
    "batch_size",
    "grad_accum",
    "max_seq_len",
    "mixed_precision",
    "seed",
    "checkpoint_every",
    *CURRICULUM_DEFAULTS,
)


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
        elif key in CURRICULUM_CHOICES:
            parse_choice(value.get(key), key, CURRICULUM_CHOICES[key], errors, None)
        elif key in CURRICULUM_RANGES:
            low, high = CURRICULUM_RANGES[key]
            parse_number(value.get(key), key, errors, minimum=low, maximum=high)
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

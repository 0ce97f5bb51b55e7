"""Configuration of a staged distillation job, validated when it is built.

Every setting the trainer cannot honour is refused here with a ``DistillError`` that
names the field, so a launch form can show the message as it is.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from workers.distill.curriculum import BUDGETS, LR_SCHEDULES, ORDERS, PACINGS, TEMPERATURE_SCHEDULES
from workers.distill.errors import DistillError
from workers.distill.losses import DIVERGENCES

GATE_METRICS = ("val_kd_loss", "teacher_agreement", "accuracy")
LOWER_IS_BETTER = {"val_kd_loss"}
TASKS = ("generation", "classification")
PRECISIONS = ("no", "bf16", "fp16")

Records = Sequence[dict] | Callable[[], Sequence[dict]]


@dataclass
class GateConfig:
    """Pass when ``metric`` is <= threshold (val_kd_loss) or >= threshold (the others)."""

    metric: str
    threshold: float
    patience: int = 0  # extra epochs tried before the job stops as "gated"

    def __post_init__(self):
        if self.metric not in GATE_METRICS:
            raise DistillError(
                f"gate metric {self.metric!r} is not supported; choose one of {', '.join(GATE_METRICS)}", "metric"
            )
        if not isinstance(self.threshold, (int, float)) or not math.isfinite(self.threshold):
            raise DistillError(f"gate threshold must be a finite number, got {self.threshold!r}", "threshold")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise DistillError(
                f"gate patience must be a whole number of extra epochs >= 0, got {self.patience!r}", "patience"
            )

    def passes(self, value: float, threshold: float | None = None) -> bool:
        limit = self.threshold if threshold is None else threshold
        if value is None or not math.isfinite(value):
            return False
        return value <= limit if self.metric in LOWER_IS_BETTER else value >= limit


@dataclass
class OnPolicyConfig:
    """An on-policy (GKD) share of a stage: on ``fraction`` of its micro-batches the student samples
    completions of the batch's prompts (``temperature``, up to ``max_new_tokens``), the teacher
    scores them (its top-``top_k`` + tail), and the loss is generalized JSD(``beta``) on them
    (0: forward KL, 1: reverse KL; see losses.generalized_jsd). Needs ``DistillConfig.teacher``."""

    fraction: float = 0.5
    temperature: float = 1.0
    max_new_tokens: int = 64
    beta: float = 0.5
    top_k: int = 20

    def __post_init__(self):
        def number(value) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        if not number(self.fraction) or not 0.0 < self.fraction <= 1.0:
            raise DistillError(
                f"on-policy fraction (the share of micro-batches the student samples) must be above 0 and at most "
                f"1, got {self.fraction!r}",
                "fraction",
            )
        if not number(self.temperature) or not 0.0 < self.temperature <= 10.0:
            raise DistillError(
                f"on-policy sampling temperature must be above 0 and at most 10, got {self.temperature!r}",
                "temperature",
            )
        if not isinstance(self.max_new_tokens, int) or not 1 <= self.max_new_tokens <= 4096:
            raise DistillError(
                f"on-policy max_new_tokens must be a whole number from 1 to 4096, got {self.max_new_tokens!r}",
                "max_new_tokens",
            )
        if not number(self.beta) or not 0.0 <= self.beta <= 1.0:
            raise DistillError(
                f"on-policy beta must be between 0 (forward KL) and 1 (reverse KL), got {self.beta!r}", "beta"
            )
        if not isinstance(self.top_k, int) or not 1 <= self.top_k <= 1000:
            raise DistillError(f"on-policy top_k must be a whole number from 1 to 1000, got {self.top_k!r}", "top_k")


@dataclass
class StageConfig:
    """One curriculum stage. Exactly one of ``steps`` / ``epochs``.

    ``records`` / ``val_records``: lists of training-record dicts (see data.py) or
    zero-argument callables returning them (loaded lazily, at setup).
    ``replay_fraction``: this share of all earlier stages' records, sampled with the
    job seed, is mixed into this stage's training set.
    """

    name: str
    records: Records
    val_records: Records | None = None
    steps: int | None = None
    epochs: float | None = None
    lr: float = 5e-5
    warmup_steps: int = 0
    temperature: float = 1.0
    alpha: float = 0.5
    divergence: str = "forward_kl"
    jsd_beta: float = 0.5
    replay_fraction: float = 0.0
    gate: GateConfig | None = None
    snapshot: str | None = None  # content hash of the snapshot the records came from
    on_policy: OnPolicyConfig | None = None

    def __post_init__(self):
        where = f"stage {self.name!r}"
        if not self.name or not isinstance(self.name, str):
            raise DistillError("every stage needs a name", "name")
        if isinstance(self.gate, dict):
            try:
                self.gate = GateConfig(**self.gate)
            except DistillError as exc:
                raise exc.within("gate") from exc
        if isinstance(self.on_policy, dict):
            try:
                self.on_policy = OnPolicyConfig(**self.on_policy)
            except TypeError as exc:
                raise DistillError(f"{where}: invalid on_policy settings: {exc}", "on_policy") from exc
            except DistillError as exc:
                raise exc.within("on_policy") from exc
        if (self.steps is None) == (self.epochs is None):
            raise DistillError(f"{where}: give exactly one of steps or epochs", "steps")
        if self.steps is not None and (not isinstance(self.steps, int) or self.steps < 1):
            raise DistillError(f"{where}: steps must be a positive whole number, got {self.steps!r}", "steps")
        if self.epochs is not None and not self.epochs > 0:
            raise DistillError(f"{where}: epochs must be > 0, got {self.epochs!r}", "epochs")
        if not self.lr > 0:
            raise DistillError(f"{where}: learning rate must be > 0, got {self.lr!r}", "lr")
        if self.warmup_steps < 0:
            raise DistillError(f"{where}: warmup_steps must be >= 0", "warmup_steps")
        if not self.temperature > 0:
            raise DistillError(f"{where}: temperature must be > 0, got {self.temperature!r}", "temperature")
        if not 0.0 <= self.alpha <= 1.0:
            raise DistillError(f"{where}: alpha must be between 0 and 1, got {self.alpha!r}", "alpha")
        if self.divergence not in DIVERGENCES:
            raise DistillError(
                f"{where}: divergence {self.divergence!r} is not supported; choose one of {', '.join(DIVERGENCES)}",
                "divergence",
            )
        if self.divergence == "jsd" and not 0.0 < self.jsd_beta < 1.0:
            raise DistillError(f"{where}: jsd_beta must be strictly between 0 and 1, got {self.jsd_beta!r}", "jsd_beta")
        if not 0.0 <= self.replay_fraction <= 1.0:
            raise DistillError(
                f"{where}: replay_fraction must be between 0 and 1, got {self.replay_fraction!r}", "replay_fraction"
            )
        if self.gate is not None and self.val_records is None:
            raise DistillError(f"{where}: a gate needs val_records to evaluate", "gate.metric")
        if isinstance(self.records, Sequence) and len(self.records) == 0:
            raise DistillError(f"{where}: no training records (is the snapshot empty?)")


@dataclass
class DistillConfig:
    """A whole job. ``student``: local path or hub name; ``teacher_tokenizer``: path or
    hub name of the teacher's tokenizer, or ``"sha256:<vocab_hash>"`` (see
    ``data.vocab_hash``); None means unknown, which forces sequence-level KD.
    ``teacher``: the teacher on-policy stages call during training, as ``load_teacher`` takes it
    (an HTTP teacher's key by the name of its environment variable, ``api_key_env``, never the key)."""

    student: str
    stages: list[StageConfig]
    output_dir: str
    task: str = "generation"
    labels: list[str] = field(default_factory=list)
    teacher_tokenizer: str | None = None
    teacher: dict | None = None
    batch_size: int = 8
    grad_accum: int = 1
    mixed_precision: str = "no"
    seed: int = 0
    checkpoint_every: int = 0  # optimizer steps; 0 = only at stage ends
    max_seq_len: int = 512
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    progress_every_s: float = 2.0
    # Validation passes per training phase (train, patience, extra epochs) for the curves,
    # the last one at the phase's end (the gate's); 0: only the gate's. Evaluation only: the
    # trained weights do not depend on it.
    val_points: int = 4
    snapshots: dict[str, str] = field(default_factory=dict)  # name -> hash, for the model card
    # The curriculum's recipe options (see workers/distill/curriculum.py).
    order: str = "curriculum"
    pacing: str = "replay"
    budget: str = "given"
    replay_share: float = 0.2
    hard_weight: float = 1.0
    lr_schedule: str = "per_stage"
    ce_warmup_fraction: float = 0.0
    temperature_schedule: str = "constant"

    def __post_init__(self):
        # Paths arrive as Path objects from Python callers and as strings from JSON.
        self.student = str(self.student) if self.student else self.student
        self.output_dir = str(self.output_dir) if self.output_dir else self.output_dir
        if self.teacher_tokenizer is not None:
            self.teacher_tokenizer = str(self.teacher_tokenizer)
        self.stages = [_stage(i, s) for i, s in enumerate(self.stages)]
        if not self.student:
            raise DistillError("no student model given")
        if not self.output_dir:
            raise DistillError("no output_dir given")
        if not self.stages:
            raise DistillError("a job needs at least one stage", "stages")
        names = [s.name for s in self.stages]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise DistillError(f"stage names must be unique, got {names}", f"stages.{i}.name")
        if self.task not in TASKS:
            raise DistillError(f"task {self.task!r} is not supported; choose one of {', '.join(TASKS)}")
        if self.task == "classification":
            if len(self.labels) < 2:
                raise DistillError("a classification job needs at least two labels")
            if len(set(self.labels)) != len(self.labels):
                raise DistillError("classification labels must be unique")
        for name in ("batch_size", "grad_accum", "max_seq_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise DistillError(f"{name} must be a positive whole number, got {value!r}", name)
        if self.max_seq_len < 8:
            raise DistillError("max_seq_len must be at least 8 tokens", "max_seq_len")
        if not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 0:
            raise DistillError(
                "checkpoint_every must be a whole number of steps >= 0 (0: stage ends only)", "checkpoint_every"
            )
        if not isinstance(self.val_points, int) or isinstance(self.val_points, bool) or not 0 <= self.val_points <= 100:
            raise DistillError(
                f"val_points must be a whole number from 0 to 100, got {self.val_points!r}", "val_points"
            )
        if self.mixed_precision not in PRECISIONS:
            raise DistillError(
                f"mixed_precision {self.mixed_precision!r} is not supported; choose one of {', '.join(PRECISIONS)}",
                "mixed_precision",
            )
        check_precision_supported(self.mixed_precision)
        self._check_curriculum()
        self._check_on_policy()

    def _check_on_policy(self) -> None:
        for i, stage in enumerate(self.stages):
            if stage.on_policy is None:
                continue
            if self.task != "generation":
                raise DistillError(
                    f"stage {stage.name!r}: on-policy distillation has the student write text for the teacher to "
                    "score; a classification job predicts labels, so it has no on-policy stage",
                    f"stages.{i}.on_policy",
                )
            if not self.teacher:
                raise DistillError(
                    f"stage {stage.name!r} is on-policy: the teacher scores the student's samples during training, "
                    "so the job needs the teacher's spec",
                    "teacher",
                )
        if self.teacher is not None and "api_key" in self.teacher:
            raise DistillError("the teacher spec names its API key's environment variable (api_key_env), never the key")

    def _check_curriculum(self) -> None:
        for name, choices in (
            ("order", ORDERS),
            ("pacing", PACINGS),
            ("budget", BUDGETS),
            ("lr_schedule", LR_SCHEDULES),
            ("temperature_schedule", TEMPERATURE_SCHEDULES),
        ):
            if getattr(self, name) not in choices:
                raise DistillError(
                    f"{name} {getattr(self, name)!r} is not supported; choose one of {', '.join(choices)}", name
                )
        if not 0.0 <= self.replay_share < 1.0:
            raise DistillError(
                f"replay_share must be at least 0 and below 1, got {self.replay_share!r}", "replay_share"
            )
        if not 1.0 <= self.hard_weight <= 10.0:
            raise DistillError(f"hard_weight must be between 1 and 10, got {self.hard_weight!r}", "hard_weight")
        if not 0.0 <= self.ce_warmup_fraction < 1.0:
            raise DistillError(
                f"ce_warmup_fraction must be at least 0 and below 1, got {self.ce_warmup_fraction!r}",
                "ce_warmup_fraction",
            )
        if self.pacing == "cumulative":
            for stage in self.stages[1:]:
                if stage.replay_fraction not in (0.0, 1.0):
                    raise DistillError(
                        f"stage {stage.name!r}: replay_fraction {stage.replay_fraction} contradicts cumulative "
                        "pacing (every stage keeps all earlier data); leave it at 0 or choose replay pacing"
                    )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DistillConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise DistillError(f"unknown config keys: {', '.join(sorted(unknown))}")
        stage_known = {f.name for f in fields(StageConfig)}
        for stage in data.get("stages", []):
            if isinstance(stage, dict) and set(stage) - stage_known:
                raise DistillError(f"unknown stage keys: {', '.join(sorted(set(stage) - stage_known))}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise DistillError(f"invalid config: {exc}") from exc

    def summary(self) -> dict[str, Any]:
        """JSON-safe config without the records themselves (checkpoints, model cards)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "stages"}
        out["stages"] = []
        for stage in self.stages:
            s = {f.name: getattr(stage, f.name) for f in fields(stage) if f.name not in ("records", "val_records")}
            s["gate"] = asdict(stage.gate) if stage.gate else None
            s["on_policy"] = asdict(stage.on_policy) if stage.on_policy else None
            out["stages"].append(s)
        return json.loads(json.dumps(out, default=str))


def _stage(index: int, stage) -> StageConfig:
    if not isinstance(stage, dict):
        return stage
    try:
        return StageConfig(**stage)
    except DistillError as exc:
        raise exc.within(f"stages.{index}") from exc


def check_precision_supported(mixed_precision: str) -> None:
    import torch

    if mixed_precision == "fp16" and not torch.cuda.is_available():
        raise DistillError(
            "mixed_precision 'fp16' needs a CUDA GPU; use 'bf16' or 'no' on this machine", "mixed_precision"
        )
    if mixed_precision == "bf16" and torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
        raise DistillError("this GPU does not support bf16; use 'fp16' or 'no'", "mixed_precision")


def records_digest(records: Sequence[dict]) -> str:
    """A cheap content hash of training records (text fields only), for drift warnings."""
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps([r.get("prompt"), r.get("response"), r.get("label"), r.get("tier")], default=str).encode())
    return h.hexdigest()[:16]


def config_drift(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two ``summary()`` dicts (plus digests)."""
    diffs = []
    for key in sorted(set(old) | set(new)):
        if key == "stages":
            continue
        if old.get(key) != new.get(key):
            diffs.append(f"{key}: {old.get(key)!r} -> {new.get(key)!r}")
    old_stages, new_stages = old.get("stages", []), new.get("stages", [])
    if len(old_stages) != len(new_stages):
        diffs.append(f"number of stages: {len(old_stages)} -> {len(new_stages)}")
    for a, b in zip(old_stages, new_stages):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                diffs.append(f"stage {b.get('name')!r} {key}: {a.get(key)!r} -> {b.get(key)!r}")
    return diffs

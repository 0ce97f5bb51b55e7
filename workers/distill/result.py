"""What a distillation run returns to the job layer (JSON-safe via ``to_dict``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DistillResult:
    status: str  # completed | gated | stopped
    kd_mode: str  # token | sequence | label
    stages: list[dict]
    final_model_dir: str | None
    gate: dict | None  # the failing gate when status == "gated"
    warnings: list[str]
    history: list[dict]
    stage_index: int
    step: int
    visits: dict[str, int] = field(default_factory=dict)  # training draws per tier ("none": untiered)
    plan: list[dict] = field(default_factory=list)  # per stage: train steps, own and replay draws

    def to_dict(self) -> dict:
        return dict(vars(self))

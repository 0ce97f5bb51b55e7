"""Staged distillation core (pure torch/transformers/accelerate; no Django).

Entry points for the job layer: ``run_distillation(config, ...)`` or the
``DistillRecipe`` class, ``DistillConfig`` / ``StageConfig`` / ``GateConfig``,
``GateOverride`` for a gated job, ``DistillError`` for anything a user can cause, and
the registry helpers ``save_model_version`` / ``load_card`` / ``pack_archive``.
"""

from workers.distill.config import DistillConfig, GateConfig, StageConfig
from workers.distill.data import tokenizers_compatible, vocab_hash
from workers.distill.errors import DistillError
from workers.distill.gates import GateOverride, GateResult
from workers.distill.recipe import DistillRecipe, run_distillation
from workers.distill.registry import load_card, pack_archive, save_model_version
from workers.distill.result import DistillResult

__all__ = [
    "DistillConfig",
    "DistillError",
    "DistillRecipe",
    "DistillResult",
    "GateConfig",
    "GateOverride",
    "GateResult",
    "StageConfig",
    "load_card",
    "pack_archive",
    "run_distillation",
    "save_model_version",
    "tokenizers_compatible",
    "vocab_hash",
]

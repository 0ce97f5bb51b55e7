"""Training: staged distillation (the request in ``request``, launch and gate decisions in
``distillation``, the body in ``distillation_job``), the model registry, and evaluation on the
gold set (``evaluation`` / ``evaluation_job``), and runs outside Celery (``external``: a job's
run config to download, registering what such a run wrote). Outside code imports this package only.
"""

from curation.services.training.distillation import (
    KD_MODES,
    gate_sign,
    launch_distillation,
    output_dir,
    phase_label,
    resume_distillation,
)
from curation.services.training.distillation_job import run_distill_job
from curation.services.training.evaluation import gold_problems, launch_evaluation
from curation.services.training.evaluation_job import run_evaluation_job
from curation.services.training.external import register_external_run, run_config_archive
from curation.services.training.records import snapshot_records
from curation.services.training.registry import ArtifactMissing, archive_for, lineage, model_dir
from curation.services.training.request import validate_distillation

__all__ = [
    "KD_MODES",
    "ArtifactMissing",
    "archive_for",
    "gate_sign",
    "gold_problems",
    "launch_distillation",
    "launch_evaluation",
    "lineage",
    "model_dir",
    "output_dir",
    "phase_label",
    "register_external_run",
    "resume_distillation",
    "run_config_archive",
    "run_distill_job",
    "run_evaluation_job",
    "snapshot_records",
    "validate_distillation",
]

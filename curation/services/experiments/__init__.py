"""Experiments: does curation, KD, the curriculum pay, on this project's own data, with error bars?

An experiment trains a matrix of arms (``arms``) x seeds, each run an ordinary distillation job,
evaluates every student once on the gold set and answers three questions with paired
differences and 95% intervals (``results``). Launch rules in ``experiments``, the preparation
job's body in ``experiment_job``, where the runs stand in ``progress``. Outside code imports this
package only.
"""

from curation.services.experiments.arms import ARMS, FRACTION_ARMS, arm_request
from curation.services.experiments.experiment_job import run_experiment_job
from curation.services.experiments.experiments import (
    DEFAULT_SEEDS,
    GOLD_RULE,
    MAX_SEEDS,
    cancel_experiment,
    launch_experiment,
    validate_experiment,
)
from curation.services.experiments.progress import STATES, Board, RunView, refresh
from curation.services.experiments.results import compute_results, questions

__all__ = [
    "ARMS",
    "DEFAULT_SEEDS",
    "FRACTION_ARMS",
    "GOLD_RULE",
    "MAX_SEEDS",
    "STATES",
    "Board",
    "RunView",
    "arm_request",
    "cancel_experiment",
    "compute_results",
    "launch_experiment",
    "questions",
    "refresh",
    "run_experiment_job",
    "validate_experiment",
]

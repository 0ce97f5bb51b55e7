"""The teacher: generation and score jobs (launch rules in ``generation`` and ``scoring``; the bodies
the worker runs in ``generation_job``, ``scoring_job`` and ``run``), the prompt filter, the
writer of samples and soft targets (``output``), difficulty tiers and the token heatmap.
Outside code imports this package only.
"""

from curation.services.teacher.generation import launch_generation, retry
from curation.services.teacher.generation_job import run_generation
from curation.services.teacher.heatmap import heatmap_for, load_tokenizer, shade_of
from curation.services.teacher.output import SampleWriter
from curation.services.teacher.prompt_filter import (
    SCOPES,
    PromptFilter,
    count_matching,
    filter_of,
    freeze,
    frozen_prompts,
    id_ranges,
    matching_prompts,
    parse_filter,
    parse_ids,
)
from curation.services.teacher.scoring import TARGETS, count_targets, launch_scoring
from curation.services.teacher.scoring_job import ScoreWriter, run_scoring
from curation.services.teacher.tiering import job_tier_counts

__all__ = [
    "SCOPES",
    "TARGETS",
    "PromptFilter",
    "SampleWriter",
    "ScoreWriter",
    "count_matching",
    "count_targets",
    "filter_of",
    "freeze",
    "frozen_prompts",
    "heatmap_for",
    "id_ranges",
    "job_tier_counts",
    "launch_generation",
    "launch_scoring",
    "load_tokenizer",
    "matching_prompts",
    "parse_filter",
    "parse_ids",
    "retry",
    "run_generation",
    "run_scoring",
    "shade_of",
]

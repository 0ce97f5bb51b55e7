"""A project's data-hygiene settings (``Project.hygiene``): defaults, reading and checking.

- ``near_threshold``: Jaccard similarity of word bigrams at or above which a prompt is a
  near-duplicate of a gold item (0.5: the benchmark's planted kinds sit at 0.55-1.0, its hard
  negatives mostly below 0.35; see bench/decontam.py).
- ``semantic``: also compare sentence embeddings (all-MiniLM-L6-v2); off by default because it
  costs a forward pass per prompt. ``semantic_threshold``: cosine similarity (0.9).
- ``clusters``: keep duplicate clusters of the pool up to date; ``cluster_threshold``: Jaccard (0.7).
- ``pii_detect``: look for personal data on import; ``redact_teacher``: send typed placeholders
  instead of detected values to an OpenAI-compatible teacher (on by default: nothing leaves for
  a remote server that a detector flagged); ``redact_snapshots``: write placeholders into snapshots.
"""

from __future__ import annotations

from curation.services.errors import Invalid
from curation.services.inputs import check_known, parse_number, parse_switch

DEFAULTS = {
    "near_threshold": 0.5,
    "semantic": False,
    "semantic_threshold": 0.9,
    "clusters": True,
    "cluster_threshold": 0.7,
    "pii_detect": True,
    "redact_teacher": True,
    "redact_snapshots": False,
}
THRESHOLDS = ("near_threshold", "semantic_threshold", "cluster_threshold")
SWITCHES = ("semantic", "clusters", "pii_detect", "redact_teacher", "redact_snapshots")


def settings_of(project) -> dict:
    """The project's settings with defaults filled in."""
    return {**DEFAULTS, **{k: v for k, v in (project.hygiene or {}).items() if k in DEFAULTS}}


def check_settings(data: dict) -> dict:
    """``data`` (form or JSON values) as settings; ``Invalid`` naming each bad field."""
    errors = Invalid()
    check_known(data, DEFAULTS, errors)
    out = {}
    for name in THRESHOLDS:
        if name in data:
            value = parse_number(data[name], name, errors, minimum=0.05, maximum=1.0, required=True)
            if value is not None:
                out[name] = value
    for name in SWITCHES:
        if name in data:
            value = parse_switch(data[name], name, errors)
            if value is not None:
                out[name] = value
    errors.raise_if_any()
    return out

"""A project's drift-monitoring settings (``Project.drift``): defaults, reading and checking.

Thresholds are per signal (see ``workers.drift``); a window is flagged when any score reaches
its threshold. The defaults come from ``bench/drift.py``'s calibration on 40 clean demo windows
of 100 prompts (each signal's ``1 - 5% / 3`` quantile: 0.064, 0.202, 0.13), rounded up; the
confidence threshold is not calibrated there (the benchmark trains no student). Other traffic
calls for its own calibration: run the benchmark's ``calibrate`` on clean windows of your own.

- ``embedding_threshold``: drop of the mean nearest-neighbour cosine similarity to the training
  set, from held-out training prompts to the window's prompts.
- ``length_threshold``: Kolmogorov-Smirnov statistic between window and training prompt lengths.
- ``label_threshold``: total variation distance between label shares (classification, from the
  production model's answers).
- ``confidence_threshold``: drop of the student's mean confidence (0..1) from training prompts.
- ``window_size``: captured requests per window; a check scores every full window not yet scored
  (windows are always full, so a threshold means the same thing in every window).
- ``enabled``: the periodic check and the capture trigger run for this project.
"""

from __future__ import annotations

from curation.services.errors import Invalid
from curation.services.inputs import check_known, parse_number, parse_switch

DEFAULTS = {
    "enabled": True,
    "window_size": 100,
    "embedding_threshold": 0.07,
    "length_threshold": 0.21,
    "label_threshold": 0.14,
    "confidence_threshold": 0.1,
}
THRESHOLDS = {
    "embedding_threshold": "embedding",
    "length_threshold": "length",
    "label_threshold": "label",
    "confidence_threshold": "confidence",
}
MAX_WINDOW = 5000


def settings_of(project) -> dict:
    """The project's settings with defaults filled in."""
    return {**DEFAULTS, **{k: v for k, v in (project.drift or {}).items() if k in DEFAULTS}}


def thresholds_of(config: dict) -> dict[str, float]:
    """Signal name -> threshold, as ``workers.drift.flag`` takes them."""
    return {signal: float(config[name]) for name, signal in THRESHOLDS.items()}


def check_settings(data: dict) -> dict:
    """``data`` (form or JSON values) as settings; ``Invalid`` naming each bad field."""
    errors = Invalid()
    check_known(data, DEFAULTS, errors)
    out = {}
    for name in THRESHOLDS:
        if name in data:
            value = parse_number(data[name], name, errors, minimum=0.001, maximum=1.0, required=True)
            if value is not None:
                out[name] = value
    if "window_size" in data:
        value = parse_number(
            data["window_size"], "window_size", errors, kind=int, minimum=20, maximum=MAX_WINDOW, required=True
        )
        if value is not None:
            out["window_size"] = value
    if "enabled" in data:
        value = parse_switch(data["enabled"], "enabled", errors)
        if value is not None:
            out["enabled"] = value
    errors.raise_if_any()
    return out

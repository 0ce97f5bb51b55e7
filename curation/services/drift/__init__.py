"""Drift monitoring: recent production prompts against the latest training snapshot.

``check_drift`` (the periodic task and the capture trigger, ``after_capture``) writes one
``DriftReport`` per window of captured requests and flags the drifted prompts for the review
queue; ``settings`` holds the per-project thresholds and window size. The ML side is
``workers.drift`` (scores, flags, calibration) and ``workers.confidence``. Outside code imports
this package only.
"""

from curation.services.drift.monitor import after_capture, check_drift, latest_snapshot, report_event
from curation.services.drift.settings import DEFAULTS, check_settings, settings_of, thresholds_of


def update_settings(project, data: dict) -> dict:
    """Store checked settings; later windows use them (reports keep the thresholds they were judged by)."""
    changes = check_settings(data)
    project.drift = {**(project.drift or {}), **changes}
    project.save(update_fields=["drift"])
    return settings_of(project)


__all__ = [
    "DEFAULTS",
    "after_capture",
    "check_drift",
    "check_settings",
    "latest_snapshot",
    "report_event",
    "settings_of",
    "thresholds_of",
    "update_settings",
]

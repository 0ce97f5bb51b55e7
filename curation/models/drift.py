"""Drift reports: production prompts compared with the latest training snapshot, window by window."""

from django.db import models

from .artifacts import ModelVersion, Snapshot
from .project import Project


class DriftReport(models.Model):
    """One window of captured production requests scored against a training snapshot.

    ``scores``/``p_values``/``thresholds`` are keyed by signal (embedding, length, label,
    confidence; see ``workers.drift``); ``signals`` names those that reached their threshold.
    Windows follow each other by capture id: ``last_capture_id`` is where the next one starts.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="drift_reports")
    snapshot = models.ForeignKey(Snapshot, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    first_capture_id = models.BigIntegerField()
    last_capture_id = models.BigIntegerField()
    window_start = models.DateTimeField(help_text="Earliest capture time in the window.")
    window_end = models.DateTimeField(help_text="Latest capture time in the window.")
    n = models.PositiveIntegerField(help_text="Captured requests in the window.")
    scores = models.JSONField(default=dict)
    p_values = models.JSONField(default=dict)
    thresholds = models.JSONField(default=dict)
    details = models.JSONField(default=dict, blank=True)
    signals = models.JSONField(default=list, help_text="Signals at or above their threshold.")
    flagged = models.BooleanField(default=False)
    drifted_prompts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Two checks racing over the same captures write one report.
            models.UniqueConstraint(fields=["project", "last_capture_id"], name="drift_unique_window")
        ]

    def __str__(self):
        return f"drift window {self.first_capture_id}-{self.last_capture_id} of project {self.project_id}"

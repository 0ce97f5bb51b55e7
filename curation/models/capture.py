"""Production requests sent to ``POST /api/v1/projects/<slug>/capture``."""

from django.db import models

from .data import Prompt
from .project import Project


class CapturedRequest(models.Model):
    """One production request, kept once per client id; its prompt is deduplicated into the pool."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="captured_requests")
    client_id = models.CharField(max_length=100, help_text="The caller's id for the request: resending it is a no-op.")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="captures")
    answer = models.TextField(blank=True, help_text="What the production model answered, if sent.")
    model_name = models.CharField(max_length=200, blank=True)
    captured_at = models.DateTimeField(help_text="When the request happened (the caller's timestamp).")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "client_id"], name="capture_unique_client_id")]
        # Drift windows read a project's recent captures.
        indexes = [models.Index(fields=["project", "captured_at"], name="capture_project_time")]

    def __str__(self):
        return f"capture {self.client_id} of project {self.project_id}"

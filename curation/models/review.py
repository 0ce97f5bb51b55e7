import uuid

from django.conf import settings
from django.db import models

from .project import Project


class BulkAction(models.Model):
    """One "apply to every example matching this filter"; its Verdict rows share its id as ``bulk_id``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="bulk_actions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=20)
    target = models.CharField(max_length=50, blank=True, help_text="The tier or stage name, for those actions.")
    filter = models.JSONField(default=dict, blank=True, help_text="The queue filter it was applied to.")
    count = models.PositiveIntegerField()
    seconds = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the action is undone (``review.undo_bulk``): the undo is a BulkAction of its
    # own (action "undo", ``undoes`` pointing here) whose Verdict rows share its id.
    undone_at = models.DateTimeField(null=True, blank=True)
    undoes = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="undone_by")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.action} x{self.count}"

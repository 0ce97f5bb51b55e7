"""Webhook subscriptions of a project and the log of what was sent to them."""

import base64
import secrets

from django.conf import settings
from django.db import models

from .project import Project


class WebhookEndpoint(models.Model):
    """A URL that receives a project's events, signed per Standard Webhooks with ``secret``.

    The secret is kept in clear (signing needs it) but shown to people only once, when the
    endpoint is created. Unsubscribing deletes the endpoint, its pending deliveries with it.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list, help_text="Event types this URL receives.")
    secret = models.CharField(max_length=100)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.url

    @staticmethod
    def new_secret() -> str:
        """``whsec_`` + base64 of 24 random bytes: the format Standard Webhooks libraries read."""
        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()

    @property
    def secret_hint(self) -> str:
        return self.secret[:10] + "…"


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one endpoint; ``attempts_log`` has every try's response code."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Gave up"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=50)
    # The Standard Webhooks message id: the same on every retry, so receivers can deduplicate.
    message_id = models.CharField(max_length=40, unique=True)
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    attempts_log = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.event} -> {self.endpoint_id} ({self.status})"

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from .project import Project


class AppendOnly(Exception):
    """An audit entry was about to be changed or deleted."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("Audit entries are append-only.")

    def delete(self):
        raise AppendOnly("Audit entries are append-only.")


class AuditEntry(models.Model):
    """One change that matters, recorded once: who, when, what, before and after.

    Per-example decisions keep their own append-only rows (``Verdict``, one per example,
    and ``BulkAction`` for "apply to every match"), and so do redactions of personal data
    (``RedactionEvent``); the audit log reads those where they are and this table holds
    every other kind, so each fact has one home.

    Append-only: ``save`` refuses to change a stored row, ``delete`` refuses, and on
    PostgreSQL a trigger (migration 0019_audit) refuses UPDATE and DELETE from any client.
    The project and the actor are kept as plain ids (no database constraint, never
    nulled), so deleting a user or a project changes no entry; ``actor_name`` keeps the
    name the person had then.
    """

    class Kind(models.TextChoices):
        MEMBERSHIP = "membership", "Membership"
        ROLE = "role", "Role"
        TOKEN = "token", "API token"
        SETTINGS = "settings", "Settings"
        GOLD = "gold", "Gold item"
        SNAPSHOT = "snapshot", "Snapshot"
        JOB = "job", "Job"
        MODEL = "model", "Model spec, version or report"
        DATA = "data", "Prompt, sample or example (admin)"

    project = models.ForeignKey(
        Project,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        help_text="Empty for changes outside a project (API tokens belong to a person).",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        help_text="Empty for the system (a worker, a command without a user).",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    action = models.CharField(max_length=30)
    target = models.CharField(max_length=200, help_text="What changed, in words: 'job #12', 'alice'.")
    target_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The audit page: a project's entries, newest first, optionally of one kind or person.
            models.Index(fields=["project", "created_at"], name="audit_project_time"),
            models.Index(fields=["project", "kind", "created_at"], name="audit_project_kind_time"),
            models.Index(fields=["project", "actor", "created_at"], name="audit_project_actor_time"),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.actor_name or 'system'} {self.action} {self.target}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise AppendOnly("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Audit entries are append-only.")

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from .data import ModelSpec
from .project import Project


class Job(models.Model):
    class Kind(models.TextChoices):
        GENERATE = "generate", "Teacher generation"
        SCORE = "score", "Teacher scoring"
        DISTILL = "distill", "Staged distillation"
        EVALUATE = "evaluate", "Evaluation"
        SNAPSHOT = "snapshot", "Snapshot build"
        EXPERIMENT = "experiment", "Experiment preparation"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        GATED = "gated", "Waiting at a gate"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    model_spec = models.ForeignKey(ModelSpec, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    tokens_per_s = models.FloatField(null=True, blank=True)
    eta_s = models.FloatField(null=True, blank=True)
    phase = models.CharField(max_length=100, blank=True, help_text="What the job is doing now (e.g. the stage).")
    message = models.TextField(blank=True, help_text="The outcome or the error, for humans.")
    errors = models.JSONField(default=list, blank=True, help_text="Per-item errors (the job goes on).")
    metrics = models.JSONField(default=dict, blank=True)
    celery_id = models.CharField(max_length=100, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="node@host:pid of the process running it.")
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    claim_token = models.CharField(
        max_length=32, blank=True, help_text="The running attempt's fencing token; every worker write must match it."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="job_status_heartbeat")]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_active(self):
        return self.status in self.ACTIVE

    @property
    def percent(self):
        if not self.progress_total:
            return 0
        return min(100, round(100 * self.progress_done / self.progress_total))

    def is_stale(self, now=None):
        """Running, but no heartbeat for JOB_STALE_AFTER_S: its worker is gone."""
        now = now or timezone.now()
        beat = self.heartbeat_at or self.started_at or self.created_at
        return self.status == self.Status.RUNNING and now - beat > timedelta(seconds=settings.JOB_STALE_AFTER_S)


class JobAttempt(models.Model):
    """One claim of a job by a worker: the job's run history, and what fences a stale attempt out."""

    class Outcome(models.TextChoices):
        RUNNING = "", "Running"
        TAKEN_OVER = "taken over", "Taken over (its worker stopped beating)"
        FENCED = "fenced", "Stopped: another attempt holds the claim"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField()
    worker = models.CharField(max_length=200)
    token = models.CharField(max_length=32)
    claimed_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, blank=True, help_text="A job status, or taken over / fenced.")

    class Meta:
        ordering = ["job", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="job_attempt_number")]

    def __str__(self):
        return f"attempt {self.number} of job {self.job_id} on {self.worker}"


class MetricPoint(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="metric_points")
    stage = models.CharField(max_length=50, blank=True)
    step = models.PositiveIntegerField()
    name = models.CharField(max_length=50)
    value = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["job", "name", "step"], name="metric_job_name_step")]

    def __str__(self):
        return f"{self.name}@{self.step} of job {self.job_id}"

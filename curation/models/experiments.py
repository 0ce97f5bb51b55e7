from django.conf import settings
from django.db import models

from .artifacts import EvalReport, ModelVersion, Snapshot
from .jobs import Job
from .project import Project


class Experiment(models.Model):
    """A matrix of distillation runs (arms x seeds) whose students are compared on the gold set.

    Each run is an ordinary distillation job; the experiment's own job (kind ``experiment``)
    only prepares the data the arms need (the raw snapshot) and launches the runs.
    """

    class Status(models.TextChoices):
        PREPARING = "preparing", "Preparing"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.PREPARING, Status.RUNNING)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=200)
    params = models.JSONField(default=dict, blank=True, help_text="The validated request: recipe, snapshots, arms.")
    arms = models.JSONField(default=list, blank=True)
    seeds = models.PositiveSmallIntegerField(default=3)
    snapshots = models.ManyToManyField(Snapshot, blank=True, related_name="experiments")
    raw_snapshot = models.ForeignKey(
        Snapshot,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The teacher's output as it came (the raw arm's data), built by the experiment's job.",
    )
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="experiments", help_text="Preparation."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PREPARING)
    message = models.TextField(blank=True)
    results = models.JSONField(default=dict, blank=True, help_text="Paired differences with 95% intervals.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.name

    @property
    def is_active(self):
        return self.status in self.ACTIVE


class ExperimentRun(models.Model):
    """One arm at one seed: a distillation job, its final model and its evaluation on the gold set."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="runs")
    arm = models.CharField(max_length=30)
    seed_index = models.PositiveSmallIntegerField()
    seed = models.PositiveIntegerField(help_text="The distillation job's seed (shared by every arm at this index).")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="experiment_runs")
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    eval_report = models.ForeignKey(EvalReport, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(blank=True, help_text="Why the run could not be launched.")

    class Meta:
        ordering = ["experiment", "seed_index", "id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "arm", "seed_index"], name="experimentrun_unique_arm_seed")
        ]

    def __str__(self):
        return f"{self.arm} (seed {self.seed}) of {self.experiment}"

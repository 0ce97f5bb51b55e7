from django.conf import settings
from django.db import models

from .data import Example, ModelSpec
from .jobs import Job
from .project import Project, Stage


class Snapshot(models.Model):
    """An immutable, content-addressed set of approved examples: what jobs train on."""

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Content(models.TextChoices):
        CURATED = "curated", "Curated (approved examples, reviewers' edits and labels)"
        RAW = "raw", "Raw teacher output (every teacher example as the teacher wrote it, whatever its status)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="snapshots")
    name = models.CharField(max_length=200)
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="snapshots")
    filter = models.JSONField(default=dict, blank=True, help_text="The queue filter it was built from.")
    seed = models.IntegerField(default=0)
    validation_fraction = models.FloatField(default=0.1)
    include_soft_targets = models.BooleanField(
        default=False, help_text="Parquet files inline the teacher's top-k soft targets (label distribution: always)."
    )
    system_prompt = models.TextField(blank=True, help_text="Chat format: a system turn for prompts that have none.")
    content = models.CharField(
        max_length=10,
        choices=Content.choices,
        default=Content.CURATED,
        help_text="Raw: what a user would train on without review (the experiments' raw arm).",
    )
    row_count = models.PositiveIntegerField(default=0)
    train_count = models.PositiveIntegerField(default=0)
    validation_count = models.PositiveIntegerField(default=0)
    excluded = models.JSONField(default=dict, blank=True, help_text="{reason: count} of rows left out.")
    freeze_state = models.JSONField(
        default=dict, blank=True, help_text="Where a chunked freeze stopped: the build resumes from there."
    )
    manifest = models.JSONField(default=dict, blank=True)
    files = models.JSONField(default=dict, blank=True, help_text="{format: path under ARTIFACT_DIR}")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BUILDING)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="snapshots")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    message = models.TextField(blank=True, help_text="Why the build failed, for people.")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.name


class SnapshotRow(models.Model):
    """A frozen copy of one example as it was when the snapshot was taken."""

    class Split(models.TextChoices):
        TRAIN = "train", "Train"
        VALIDATION = "validation", "Validation"

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="rows")
    ordinal = models.PositiveIntegerField(
        help_text="Order in which the row was frozen; files follow (split, row_hash)."
    )
    # A frozen copy keeps the example's id even if the example is deleted later:
    # the files, and the hash over them, must never change.
    example = models.ForeignKey(Example, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    example_version = models.PositiveIntegerField(null=True, blank=True, help_text="The example's version when frozen.")
    row_hash = models.CharField(max_length=64, default="", help_text="sha256 of the row as written to the files.")
    prompt_hash = models.CharField(max_length=64, default="", help_text="Normalised prompt hash: the split key.")
    prompt_text = models.TextField(blank=True)
    prompt_messages = models.JSONField(null=True, blank=True)
    response = models.TextField(blank=True)
    label = models.CharField(max_length=100, blank=True)
    tier = models.CharField(max_length=50, blank=True)
    stage = models.CharField(max_length=50, blank=True)
    source = models.CharField(max_length=20, blank=True)
    grade = models.PositiveSmallIntegerField(null=True, blank=True)
    edited = models.BooleanField(default=False)
    split = models.CharField(max_length=20, choices=Split.choices, default=Split.TRAIN)
    soft_targets = models.CharField(max_length=300, blank=True)
    label_distribution = models.JSONField(null=True, blank=True, help_text="Classification: the teacher's {label: p}.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["snapshot", "ordinal"], name="snapshotrow_unique_ordinal")]
        # Exports read a snapshot's rows split by split in row-hash order (files, downloads, the hash).
        indexes = [models.Index(fields=["snapshot", "split", "row_hash"], name="snaprow_split_hash")]

    def __str__(self):
        return f"row {self.example_id} of snapshot {self.snapshot_id}"


class ModelVersion(models.Model):
    """A trained student (a finished stage or job), saved with save_pretrained."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="model_versions")
    student_spec = models.ForeignKey(ModelSpec, null=True, blank=True, on_delete=models.SET_NULL)
    teacher_spec = models.ForeignKey(
        ModelSpec, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Distilled from."
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The version training started from (the previous stage); none: the student spec's weights.",
    )
    name = models.CharField(max_length=200)
    stage = models.CharField(max_length=50, blank=True, help_text="The stage it finished; blank for a final model.")
    stage_index = models.PositiveSmallIntegerField(null=True, blank=True)
    is_final = models.BooleanField(default=False)
    kd_mode = models.CharField(max_length=20, blank=True, help_text="token, sequence or label.")
    artifact_path = models.CharField(max_length=500)
    snapshots = models.ManyToManyField(Snapshot, blank=True, related_name="model_versions")
    config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    card = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A re-run job body (resume, redelivery) updates its versions instead of adding more.
            models.UniqueConstraint(
                fields=["job", "stage"], condition=models.Q(job__isnull=False), name="modelversion_unique_job_stage"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def gate(self) -> dict | None:
        return (self.metrics or {}).get("gate")

    @property
    def parameters(self) -> int | None:
        return (self.card or {}).get("parameters")


class EvalReport(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="eval_reports")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="eval_reports")
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="eval_reports"
    )
    teacher_spec = models.ForeignKey(ModelSpec, null=True, blank=True, on_delete=models.SET_NULL)
    metrics = models.JSONField(default=dict, blank=True, help_text="Student and teacher headline metrics.")
    by_tier = models.JSONField(default=dict, blank=True)
    speed = models.JSONField(default=dict, blank=True)
    reliability = models.JSONField(default=dict, blank=True, help_text="Calibration bins (classification).")
    quality_retained = models.FloatField(null=True, blank=True)
    speedup = models.FloatField(null=True, blank=True)
    per_item = models.JSONField(
        default=dict,
        blank=True,
        help_text="{gold_ids, metric, student, teacher}: each gold item's score (1 right, 0 wrong), for paired tests.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One report per evaluation job: a redelivered job does not write a second one.
            models.UniqueConstraint(
                fields=["job"], condition=models.Q(job__isnull=False), name="evalreport_unique_job"
            ),
        ]

    def __str__(self):
        return f"Evaluation report #{self.pk}"

    # What the product promises of a distillation (the demo's and the README's targets): a
    # teacher worth distilling (classification: its gold accuracy), a student that keeps
    # almost all of it, and a real speed-up. A report marks every one it misses.
    TEACHER_ACCURACY_TARGET = 0.90
    QUALITY_RETAINED_TARGET = 0.97
    SPEEDUP_TARGET = 5.0

    @property
    def is_untiered(self) -> bool:
        """True when no gold item carried a tier: the by-tier view would be one bar."""
        tiers = set((self.by_tier or {}).get("teacher", {})) | set((self.by_tier or {}).get("student", {}))
        return tiers <= {"untiered"}

    def targets(self) -> list[dict]:
        """Each target with its value, whether it was met, and what to do when it was not."""
        metrics = self.metrics or {}
        out = []
        teacher_accuracy = (metrics.get("teacher") or {}).get("accuracy")
        if metrics.get("task") == "classification" and teacher_accuracy is not None:
            out.append(
                {
                    "name": "teacher accuracy on gold",
                    "value": teacher_accuracy,
                    "target": self.TEACHER_ACCURACY_TARGET,
                    "kind": "pct",
                    "met": teacher_accuracy >= self.TEACHER_ACCURACY_TARGET,
                    "advice": "The teacher misses its target: every student distilled from it learns its mistakes. "
                    "Improve the teacher (more training, a stronger model) or correct its labels in review "
                    "before distilling again.",
                }
            )
        if self.quality_retained is not None:
            out.append(
                {
                    "name": "quality retained",
                    "value": self.quality_retained,
                    "target": self.QUALITY_RETAINED_TARGET,
                    "kind": "pct",
                    "met": self.quality_retained >= self.QUALITY_RETAINED_TARGET,
                    "ci95": metrics.get("quality_retained_ci95"),
                    "advice": "The student keeps too little of the teacher's quality: train longer, curate the "
                    "stages the student gets wrong, or use a larger student.",
                }
            )
        if self.speedup is not None:
            out.append(
                {
                    "name": "speed-up",
                    "value": self.speedup,
                    "target": self.SPEEDUP_TARGET,
                    "kind": "times",
                    "met": self.speedup >= self.SPEEDUP_TARGET,
                    "advice": "The student is not fast enough to be worth it: distil into a smaller student.",
                }
            )
        return out

    def missed_targets(self) -> list[dict]:
        return [t for t in self.targets() if not t["met"]]

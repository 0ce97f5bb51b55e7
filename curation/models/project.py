from django.conf import settings
from django.db import models, transaction
from django.urls import reverse

DEFAULT_TIERS = ["easy", "medium", "hard"]
DEFAULT_STAGES = ["stage 1", "stage 2", "stage 3"]
POOL_STAGE = "pool"


class Role(models.TextChoices):
    READER = "reader", "Reader"
    REVIEWER = "reviewer", "Reviewer"
    ENGINEER = "engineer", "Engineer"


# Each role can do everything the roles before it can.
ROLE_RANK = {Role.READER: 0, Role.REVIEWER: 1, Role.ENGINEER: 2}


class Project(models.Model):
    class TaskType(models.TextChoices):
        GENERATION = "generation", "Generation"
        CLASSIFICATION = "classification", "Classification"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    task_type = models.CharField(max_length=20, choices=TaskType.choices, default=TaskType.GENERATION)
    labels = models.JSONField(default=list, blank=True, help_text="Classification labels, in order.")
    guidelines = models.TextField(blank=True, help_text="Markdown shown to reviewers beside every example.")
    checks = models.JSONField(default=list, blank=True, help_text="Automatic checks run on every teacher sample.")
    tier_quantiles = models.JSONField(
        default=list, blank=True, help_text="Difficulty cut points for auto-tiering; empty = equal-sized tiers."
    )
    require_second_approval = models.BooleanField(
        default=False, help_text="An example counts as approved only after a second reviewer approves it too."
    )
    # The judge of generated answers (workers/judge.py): any model spec of the project (empty:
    # the evaluated teacher), the rubric it reads and the grades it answers with.
    judge_spec = models.ForeignKey(
        "curation.ModelSpec", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    judge_rubric = models.TextField(blank=True, help_text="What the judge grades and what each grade means.")
    judge_grades = models.JSONField(default=list, blank=True, help_text="The judge's grades (numbers); empty: 1-5.")
    hygiene = models.JSONField(
        default=dict,
        blank=True,
        help_text="Data hygiene settings (thresholds, PII options); missing keys take the defaults of "
        "curation.services.hygiene.settings.",
    )
    hygiene_state = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="What the last contamination check covered: {max_prompt_id, gold} (see hygiene.ensure_current).",
    )
    drift = models.JSONField(
        default=dict,
        blank=True,
        help_text="Drift monitoring settings (thresholds, window); missing keys take the defaults of "
        "curation.services.drift.settings.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("project-dashboard", args=[self.slug])

    @property
    def is_classification(self):
        return self.task_type == self.TaskType.CLASSIFICATION

    @classmethod
    @transaction.atomic
    def create_with_defaults(cls, **fields):
        """A project with the default tiers (easy/medium/hard) and stages (pool + 3)."""
        project = cls.objects.create(**fields)
        Tier.objects.bulk_create(Tier(project=project, name=n, order=i) for i, n in enumerate(DEFAULT_TIERS))
        stages = [Stage(project=project, name=POOL_STAGE, order=0, is_pool=True)]
        stages += [Stage(project=project, name=n, order=i + 1) for i, n in enumerate(DEFAULT_STAGES)]
        Stage.objects.bulk_create(stages)
        return project

    @property
    def pool(self):
        return self.stages.get(is_pool=True)

    def role_of(self, user):
        """The user's role here, or None for an outsider. Superusers act as engineers."""
        if not user.is_authenticated:
            return None
        if user.is_superuser:
            return Role.ENGINEER
        membership = self.memberships.filter(user=user).only("role").first()
        return membership.role if membership else None


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "project"], name="membership_unique_user_project")]

    def __str__(self):
        return f"{self.user} is {self.role} of {self.project}"


class Tier(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tiers")
    name = models.CharField(max_length=50)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["project", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="tier_unique_name")]

    def __str__(self):
        return self.name


class Stage(models.Model):
    """A curriculum stage; the one with ``is_pool`` holds examples not yet placed."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=50)
    order = models.PositiveIntegerField(default=0)
    is_pool = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    # Whether ``review.stage_ready`` was sent for the stage's current state (every example decided);
    # cleared when a pending example enters it, so the event goes out once per transition.
    review_ready = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["project", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="stage_unique_name"),
            models.UniqueConstraint(fields=["project"], condition=models.Q(is_pool=True), name="stage_one_pool"),
        ]

    def __str__(self):
        return self.name

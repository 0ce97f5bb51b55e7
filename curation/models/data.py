from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Coalesce, NullIf

from curation.normalize import content_hash

from .fields import EnumCharField
from .project import Project, Stage, Tier


class Prompt(models.Model):
    class Source(models.TextChoices):
        IMPORTED = "imported", "Imported"
        SYNTHETIC = "synthetic", "Synthetic"
        HUMAN = "human", "Human"
        RETRIEVAL = "retrieval", "Retrieval"
        PRODUCTION = "production", "Production (captured)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    text = models.TextField(blank=True)
    messages = models.JSONField(null=True, blank=True, help_text="Chat prompt: a list of {role, content}.")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.IMPORTED)
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(
        max_length=64, editable=False, help_text="sha256 of the normalised prompt: the dedup key and the gold guard's."
    )
    # Prompts stored before one-turn chats were folded into plain text (migration 0011) may
    # equal an older prompt of their project after normalisation: such a twin shares its
    # hash (so the gold guard holds for both) and names the older one here. No new twins
    # arise: every path dedups on the hash, and the admin refuses an edit that makes one.
    twin_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        help_text="The older prompt this one equals after normalisation (kept apart by migration 0011).",
    )
    # Data hygiene (curation.services.hygiene), written by its checks, never by people directly.
    # A near-duplicate of a gold item (not equal after normalisation: that is the hash's job) and
    # the evidence: which kind of similarity and how much.
    near_gold = models.ForeignKey(
        "GoldItem", null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    near_gold_kind = models.CharField(
        max_length=10, blank=True, editable=False, help_text="near (Jaccard) or semantic (cosine)."
    )
    near_gold_similarity = models.FloatField(null=True, blank=True, editable=False)
    # Duplicate clusters in the pool: the cluster's smallest prompt id, and how many prompts it holds.
    cluster_id = models.BigIntegerField(null=True, blank=True, editable=False)
    cluster_size = models.PositiveIntegerField(default=1, editable=False)
    has_pii = models.BooleanField(default=False, editable=False)
    pii_spans = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="Detected personal data: [{part, start, end, entity, score}], no values.",
    )
    pii_decisions = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="Reviewers' decisions on spans: [{part, start, end, entity, is_pii}].",
    )
    # Drift monitoring (curation.services.drift): the cosine similarity of the prompt's nearest
    # training prompt when a drift window scored it, and whether it was novel in a flagged window.
    drift_similarity = models.FloatField(null=True, blank=True, editable=False)
    drifted = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "content_hash"], condition=models.Q(twin_of=None), name="prompt_unique_content"
            )
        ]
        indexes = [
            # The gold guard's near-duplicate side and the Gold page's list: the few flagged prompts.
            models.Index(
                fields=["project", "near_gold"], condition=models.Q(near_gold__isnull=False), name="prompt_near_gold"
            ),
            # The queue's "drifted" filter: the few prompts a flagged drift window marked.
            models.Index(fields=["project"], condition=models.Q(drifted=True), name="prompt_drifted"),
            # "Show this cluster" and "one per cluster" on the queue.
            models.Index(
                fields=["project", "cluster_id"], condition=models.Q(cluster_size__gt=1), name="prompt_cluster"
            ),
        ]

    def __str__(self):
        return self.display_text[:80]

    def save(self, *args, **kwargs):
        """The hash follows the text on every save (an edit in the admin too), and gold items follow the hash."""
        key = content_hash(self.text, self.messages)
        changed = key != self.content_hash
        if changed and self.content_hash and self.twin_of_id:
            self.twin_of = None  # no longer equal to the prompt it was a twin of
        self.content_hash = key
        update_fields = kwargs.get("update_fields")
        if changed and update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "content_hash", "twin_of"}
        adding = self._state.adding
        super().save(*args, **kwargs)
        if changed and not adding:
            GoldItem.objects.filter(prompt=self).exclude(content_hash=key).update(content_hash=key)

    def clean(self):
        """An edit that makes this prompt equal to another of its project (after normalisation) is refused."""
        key = content_hash(self.text, self.messages)
        same = Prompt.objects.filter(project_id=self.project_id, content_hash=key, twin_of=None).exclude(pk=self.pk)
        if self.project_id is not None and key != self.content_hash and same.exists():
            raise ValidationError(
                f"This prompt would equal prompt {same.first().pk} of its project after normalisation; "
                "change that one instead."
            )

    @property
    def display_text(self):
        if self.messages:
            return "\n".join(f"{m.get('role')}: {m.get('content')}" for m in self.messages)
        return self.text

    @property
    def model_input(self):
        """What the ML core renders: the text, or the chat messages."""
        return self.messages or self.text


class ModelSpec(models.Model):
    """A teacher or student model: a transformers path/hub name or an OpenAI-compatible server."""

    class Role(models.TextChoices):
        TEACHER = "teacher", "Teacher"
        STUDENT = "student", "Student"

    class Backend(models.TextChoices):
        TRANSFORMERS = "transformers", "transformers (local path or hub name)"
        OPENAI = "openai", "OpenAI-compatible server (vLLM, ...)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_specs")
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.TEACHER)
    backend = models.CharField(max_length=20, choices=Backend.choices, default=Backend.TRANSFORMERS)
    path = models.CharField(max_length=500, help_text="Local path or hub name; for openai, the served model name.")
    revision = models.CharField(max_length=100, blank=True)
    base_url = models.CharField(max_length=500, blank=True, help_text="openai backend: e.g. http://vllm:8000/v1")
    api_key_env = models.CharField(
        max_length=100, blank=True, help_text="Name of the environment variable holding the API key (never the key)."
    )
    tokenizer_path = models.CharField(max_length=500, blank=True)
    defaults = models.JSONField(default=dict, blank=True, help_text="Default generation parameters.")
    pricing = models.JSONField(
        default=dict,
        blank=True,
        help_text='What a request costs, for the routing simulation: {"per_1k_input": .., "per_1k_output": ..} '
        '(per 1,000 tokens) and/or {"per_hour": ..} (a machine serving it, charged for its busy time).',
    )
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text="Backend options: transformers {device, dtype, max_batch_size, max_batch_tokens}; "
        "openai {endpoint, timeout, concurrency, batch_size, token_ids_in_response, max_logprobs}.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="modelspec_unique_name")]

    def __str__(self):
        return self.name


class TeacherSample(models.Model):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="samples")
    job = models.ForeignKey("curation.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="samples")
    model_spec = models.ForeignKey(ModelSpec, null=True, blank=True, on_delete=models.SET_NULL)
    sample_index = models.PositiveIntegerField(
        default=0,
        help_text="Generation: 0..n-1. Score jobs: the scored example's id, or 0 for a gold reference.",
    )
    scored = models.BooleanField(default=False, help_text="Teacher-forced text (a score job), not generated.")
    text = models.TextField(blank=True)
    token_count = models.PositiveIntegerField(default=0)
    finish_reason = models.CharField(max_length=20, blank=True)
    mean_logprob = models.FloatField(null=True, blank=True)
    mean_entropy = models.FloatField(null=True, blank=True)
    min_margin = models.FloatField(null=True, blank=True)
    check_results = models.JSONField(default=list, blank=True)
    checks_passed = models.BooleanField(default=True)
    soft_targets = models.CharField(max_length=300, blank=True, help_text="Pointer into the soft-target shards.")
    label_distribution = models.JSONField(null=True, blank=True)
    predicted_label = models.CharField(max_length=100, blank=True)
    label_margin = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Makes generation idempotent: a resumed job only fills what is missing.
            models.UniqueConstraint(fields=["prompt", "job", "sample_index"], name="sample_unique_prompt_job_index")
        ]

    def __str__(self):
        return f"sample {self.sample_index} of prompt {self.prompt_id}"


class ExampleStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Example(models.Model):
    """The unit of curation: a prompt and one candidate response."""

    Status = ExampleStatus

    # No single-column indexes on project, tier, stage or the users: the queue's composite
    # indexes start with project, and every index costs each bulk update of 100,000 rows.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="examples", db_index=False)
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="examples")
    # RESTRICT: an unedited example's response is its sample's text, so a sample goes only
    # together with its example (a prompt's or project's deletion).
    sample = models.OneToOneField(
        TeacherSample, null=True, blank=True, on_delete=models.RESTRICT, related_name="example"
    )
    # The row's own text: an edit, or the response of an example without a teacher sample.
    # Blank while the response is its sample's text (held once, in TeacherSample.text), which
    # keeps the row narrow for the status changes that rewrite it. Read ``response_text``
    # (or ``Example.response_text_sql()`` in a query), not this field, for what reviewers see.
    response = models.TextField(blank=True)
    # Blank until a human edits: the row then keeps the teacher's text here. Unedited rows
    # hold their text once, which keeps the row narrow for the status changes that rewrite it.
    original_response = models.TextField(
        blank=True, help_text="The teacher's text, kept here once a human edits the response; blank until then."
    )
    edited = models.BooleanField(default=False)
    label = models.CharField(max_length=100, blank=True)
    status = EnumCharField(
        max_length=20, choices=ExampleStatus.choices, default=ExampleStatus.PENDING, enum_type="example_status"
    )
    approvals = models.PositiveSmallIntegerField(default=0)
    conflict = models.BooleanField(default=False, help_text="Second-pass reviewers disagreed.")
    tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="examples", db_index=False
    )
    tier_locked = models.BooleanField(default=False, help_text="A human set the tier; auto-tiering keeps it.")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="examples", db_index=False)
    grade = models.PositiveSmallIntegerField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1, help_text="Optimistic lock: bumped on every change.")
    source = models.CharField(max_length=20, default="imported")
    # Copied from the teacher sample so the review queue is one indexed table query.
    difficulty = models.FloatField(null=True, blank=True)
    mean_logprob = models.FloatField(null=True, blank=True)
    mean_entropy = models.FloatField(null=True, blank=True)
    min_margin = models.FloatField(null=True, blank=True)
    token_count = models.PositiveIntegerField(default=0)
    soft_targets = models.CharField(
        max_length=300,
        blank=True,
        help_text="Soft targets of the current response (the sample's, or a score job's after an edit); blank: none.",
    )
    checks_failed = models.BooleanField(default=False)
    failed_checks = models.JSONField(default=list, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    leased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Review-queue filters, each ending in id for keyset pagination.
        indexes = [
            models.Index(fields=["project", "status", "id"], name="ex_status_id"),
            models.Index(fields=["project", "stage", "status", "id"], name="ex_stage_status_id"),
            models.Index(fields=["project", "tier", "status", "id"], name="ex_tier_status_id"),
            models.Index(fields=["project", "status", "difficulty", "id"], name="ex_status_difficulty_id"),
            models.Index(fields=["project", "status", "mean_logprob", "id"], name="ex_status_confidence_id"),
            # Only the failing rows: "checks=failed" is the selective side of that filter.
            models.Index(fields=["project", "id"], condition=models.Q(checks_failed=True), name="ex_checks_id"),
            # "Next for me" releases a reviewer's leases; only leased rows are in it.
            models.Index(fields=["leased_by"], condition=models.Q(leased_by__isnull=False), name="ex_leased_by"),
            # Individually reviewed rows only (bulk decisions leave reviewed_by alone).
            models.Index(
                fields=["project", "reviewed_by", "reviewed_at"],
                condition=models.Q(reviewed_by__isnull=False),
                name="ex_reviewer_day",
            ),
        ]

    def __str__(self):
        return f"Example {self.pk} ({self.status})"

    @property
    def response_text(self) -> str:
        """The response as reviewers see it and snapshots train on: the row's own text, else its sample's."""
        if self.response or not self.sample_id:
            return self.response
        return self.sample.text

    @staticmethod
    def response_text_sql():
        """``response_text`` as a query expression (joins the teacher sample)."""
        return Coalesce(NullIf(F("response"), Value("")), F("sample__text"), Value(""), output_field=models.TextField())

    def set_response_text(self, text: str) -> None:
        """Make ``text`` the response: held in the row unless it is the sample's own text."""
        self.response = "" if (self.sample_id and text == self.sample.text) else text

    @property
    def teacher_response(self) -> str:
        """The teacher's (or the import's) text, whether or not a human has edited it since."""
        return self.original_response if self.edited else self.response_text


class Verdict(models.Model):
    """Append-only audit row for every human decision, single or bulk."""

    class Action(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"
        EDIT = "edit", "Edit"
        GRADE = "grade", "Grade"
        TIER = "tier", "Set tier"
        STAGE = "stage", "Move to stage"
        GOLD = "gold", "Add to gold"
        COMMENT = "comment", "Comment"
        LABEL = "label", "Set label"
        UNDO = "undo", "Undo"

    # Indexed through verdict_reviewer_day (project first) and verdict_example_id (example first).
    # No database-level foreign keys, as usual for an audit table (Django's own cascades,
    # SET_NULL included, still run): every row is written in the transaction that changed
    # its example, with the example's id taken from that very change, and checking three
    # keys per row at COMMIT was a fifth of a 100,000-row bulk action. Nothing reads verdicts
    # by user alone (reviewer statistics go through verdict_reviewer_day), so ``user`` has no
    # index of its own either: only deleting a user (SET_NULL) scans the table.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="verdicts", db_index=False, db_constraint=False
    )
    example = models.ForeignKey(
        Example, on_delete=models.CASCADE, related_name="verdicts", db_index=False, db_constraint=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="verdicts",
        db_constraint=False,
        db_index=False,
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    changes = models.JSONField(default=dict, blank=True, help_text="{field: [before, after]}")
    comment = models.TextField(blank=True)
    bulk_id = models.UUIDField(null=True, blank=True, help_text="Shared by every row of one bulk action.")
    version = models.PositiveIntegerField(null=True, blank=True, help_text="The example's version after this change.")
    # Not indexed alone: nothing reads verdicts by date across projects, and a bulk action
    # writes 100,000 rows at once.
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["example", "id"], name="verdict_example_id"),
            # Reviews per reviewer per day leave bulk actions out (stats.reviewed_per_day), so
            # a bulk action's rows need no entry here.
            models.Index(
                fields=["project", "user", "created_at"],
                name="verdict_reviewer_day",
                condition=models.Q(bulk_id__isnull=True),
            ),
            # Inter-reviewer agreement: each reviewer's own approve/reject decisions per example.
            models.Index(
                fields=["project", "example", "user", "id"],
                name="verdict_decision",
                condition=models.Q(action__in=["approve", "reject"], bulk_id__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.action} on example {self.example_id} (v{self.version})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Verdicts are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Verdicts are append-only.")


class GoldItem(models.Model):
    """A hand-made evaluation item; its prompt (and any normalised duplicate) is never trained on.

    ``purpose`` splits the expert-labelled items in two: the *test* set (gold proper), scored once
    per trained student for the report, and the *dev* set, which selection reads (a distilled
    student's dev score, the routing threshold) and no report quotes as the student's quality.
    The guard keeps both out of training."""

    class Purpose(models.TextChoices):
        TEST = "test", "test (gold: the report's score)"
        DEV = "dev", "dev (selection: choosing among students)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="gold_items")
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="gold_items")
    content_hash = models.CharField(max_length=64, editable=False, help_text="Its prompt's hash: the guard's key.")
    reference = models.TextField(blank=True)
    label = models.CharField(max_length=100, blank=True)
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    confirmed = models.BooleanField(default=False, help_text="Imported candidates wait for an expert to confirm.")
    purpose = models.CharField(max_length=4, choices=Purpose.choices, default=Purpose.TEST)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "content_hash"], name="gold_unique_content")]

    def __str__(self):
        return f"gold item {self.pk} (prompt {self.prompt_id})"

    def save(self, *args, **kwargs):
        self.content_hash = self.prompt.content_hash
        super().save(*args, **kwargs)

    def clean(self):
        """One gold item per prompt (after normalisation)."""
        if self.prompt_id is None:
            return
        same = GoldItem.objects.filter(project_id=self.project_id, content_hash=self.prompt.content_hash)
        if same.exclude(pk=self.pk).exists():
            raise ValidationError({"prompt": "This prompt (or one equal to it after normalisation) is already gold."})


class RedactionEvent(models.Model):
    """Audit trail of personal data: who (or which job) redacted or judged what kind of entity, where.

    Never the value: the entity type, the prompt and the span's offsets are enough to find it.
    """

    class Action(models.TextChoices):
        REDACT = "redact", "Redacted"
        MARK_PII = "mark_pii", "Marked as PII"
        MARK_NOT_PII = "mark_not_pii", "Marked as not PII"

    class Where(models.TextChoices):
        TEACHER = "teacher_request", "Teacher request"
        SNAPSHOT = "snapshot", "Snapshot"
        REVIEW = "review", "Review"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="redactions")
    prompt = models.ForeignKey(
        Prompt, null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False, db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    where = models.CharField(max_length=20, choices=Where.choices)
    entity = models.CharField(max_length=40)
    part = models.IntegerField(default=-1, help_text="-1: the prompt's text; else the chat message's index.")
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    job_id = models.BigIntegerField(null=True, blank=True)
    snapshot_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "id"], name="redaction_project_id"),
            # The audit log (services/audit.entries): a project's redactions newest first.
            models.Index(fields=["project", "created_at"], name="redaction_project_time"),
        ]

    def __str__(self):
        return f"{self.action} {self.entity} in prompt {self.prompt_id} ({self.where})"

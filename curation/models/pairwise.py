from django.conf import settings
from django.db import models

from .artifacts import EvalReport
from .data import GoldItem, Prompt
from .project import Project


class PairComparison(models.Model):
    """A blind side-by-side review: per gold prompt, answer A against answer B.

    A is the student of ``report_a``; B is that report's teacher, or the student of
    ``report_b`` (model version A against version B on the same gold items).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pair_comparisons")
    report_a = models.ForeignKey(EvalReport, on_delete=models.CASCADE, related_name="+")
    report_b = models.ForeignKey(EvalReport, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    label_a = models.CharField(max_length=200, help_text="What A is (never shown while reviewing).")
    label_b = models.CharField(max_length=200, help_text="What B is (never shown while reviewing).")
    second_pass = models.BooleanField(default=False, help_text="Each pair needs verdicts from two reviewers.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"Blind comparison #{self.pk}"

    @property
    def verdicts_needed(self) -> int:
        return 2 if self.second_pass else 1


class PairItem(models.Model):
    comparison = models.ForeignKey(PairComparison, on_delete=models.CASCADE, related_name="items")
    gold_item = models.ForeignKey(GoldItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    tier = models.CharField(max_length=100, blank=True)
    answer_a = models.TextField(blank=True)
    answer_b = models.TextField(blank=True)
    # Drawn at random per pair when the comparison is made: which answer the reviewer sees on the left.
    a_on_left = models.BooleanField()
    verdicts = models.PositiveSmallIntegerField(default=0)
    done = models.BooleanField(default=False)
    leased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        # "next pair for me": the open pairs of a comparison, in id order
        indexes = [models.Index(fields=["comparison", "done", "id"], name="pair_open")]

    def __str__(self):
        return f"Pair #{self.pk}"

    def sides(self) -> tuple[str, str]:
        """(left answer, right answer) as the reviewer sees them."""
        return (self.answer_a, self.answer_b) if self.a_on_left else (self.answer_b, self.answer_a)


class PairVerdict(models.Model):
    class Outcome(models.TextChoices):
        A_BETTER = "a", "A better"
        B_BETTER = "b", "B better"
        TIE = "tie", "Tie"
        BOTH_BAD = "both_bad", "Both bad"

    item = models.ForeignKey(PairItem, on_delete=models.CASCADE, related_name="pair_verdicts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    chose = models.CharField(max_length=10, help_text="What the reviewer pressed: left, right, tie or both_bad.")
    a_on_left = models.BooleanField()
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["item", "user"], name="pairverdict_one_per_reviewer")]

    def __str__(self):
        return f"{self.get_outcome_display()} on pair #{self.item_id}"

"""The distillation launch form: job settings plus one formset row per stage.

The forms only parse the page's inputs; ``services.distill_request.validate_distillation``
does the checking (the API goes through it too), and its errors, named like
``stages.1.gate.threshold``, are put back on the fields with ``curation.forms.add_errors``.
"""

from django import forms

from curation.models import ModelSpec, Snapshot, SnapshotRow
from curation.services.recipes import (
    CURRICULUM_DEFAULTS,
    DISTILL_JOB_KEYS,
    JOB_DEFAULTS,
    STAGE_DEFAULTS,
    distill_defaults,
)
from workers.distill.config import GATE_METRICS, PRECISIONS
from workers.distill.losses import DIVERGENCES

NUMBER = {"step": "any"}


def _num(**attrs):
    return forms.NumberInput(attrs={**NUMBER, **attrs})


class SpecChoice(forms.ModelChoiceField):
    def label_from_instance(self, spec):
        return f"{spec.name} ({spec.path})"


class SnapshotChoice(forms.ModelChoiceField):
    def label_from_instance(self, snap):
        stage = f" · {snap.stage.name}" if snap.stage_id else ""
        return f"{snap.name}{stage} · {snap.train_count} train / {snap.validation_count} val · {snap.content_hash[:8]}"


def offer_specs(form, project) -> None:
    """The project's students and teachers in ``student_spec`` / ``teacher_spec``, the only one preselected."""
    specs = ModelSpec.objects.filter(project=project).order_by("name")
    for name, role in (("student_spec", ModelSpec.Role.STUDENT), ("teacher_spec", ModelSpec.Role.TEACHER)):
        field = form.fields[name]
        field.queryset = specs.filter(role=role)
        only = list(field.queryset[:2])
        if len(only) == 1:
            field.initial = only[0].pk


class DistillLaunchForm(forms.Form):
    student_spec = SpecChoice(
        queryset=ModelSpec.objects.none(), help_text="The small model to train (a transformers path)."
    )
    teacher_spec = SpecChoice(
        queryset=ModelSpec.objects.none(),
        help_text=(
            "Its tokenizer decides token-level KD (shared vocabulary) or sequence-level KD; the "
            "evaluation compares with it."
        ),
    )
    batch_size = forms.IntegerField(initial=JOB_DEFAULTS["batch_size"], widget=_num(min=1, step=1))
    grad_accum = forms.IntegerField(
        initial=JOB_DEFAULTS["grad_accum"], label="Gradient accumulation", widget=_num(min=1, step=1)
    )
    max_seq_len = forms.IntegerField(
        initial=JOB_DEFAULTS["max_seq_len"], label="Max sequence length", widget=_num(min=8, step=1)
    )
    mixed_precision = forms.ChoiceField(choices=[(p, p) for p in PRECISIONS], initial="no")
    seed = forms.IntegerField(initial=JOB_DEFAULTS["seed"], widget=_num(min=0, step=1))
    checkpoint_every = forms.IntegerField(
        initial=JOB_DEFAULTS["checkpoint_every"],
        widget=_num(min=0, step=1),
        help_text="Optimizer steps between checkpoints (0: stage ends only).",
    )

    # The curriculum's recipe (workers/distill/curriculum.py): its own card on the page.
    order = forms.ChoiceField(
        required=False,
        choices=[
            ("curriculum", "the stages as given"),
            ("random", "random order (control: same stage sizes, examples dealt at random)"),
        ],
        initial=JOB_DEFAULTS["order"],
        help_text="Random order measures what the order itself is worth: same sizes, pacing and budget.",
    )
    pacing = forms.ChoiceField(
        required=False,
        choices=[("replay", "replay a share of earlier stages"), ("cumulative", "cumulative: keep all earlier data")],
        initial=JOB_DEFAULTS["pacing"],
        help_text="What each later stage may revisit: its replay fraction of earlier examples, or all of them.",
    )
    budget = forms.ChoiceField(
        required=False,
        choices=[
            ("tier_visits", "every stage gets a shuffled run's visits"),
            ("given", "each stage's own steps or epochs"),
        ],
        initial=JOB_DEFAULTS["budget"],
        help_text=(
            "With “every stage gets a shuffled run's visits” the total of the stages' steps is kept and re-split, "
            "so the last (hardest) stage's examples are visited at least as often as in one shuffled stage; "
            "with replay, the given steps dilute them."
        ),
    )
    replay_share = forms.FloatField(
        required=False,
        initial=JOB_DEFAULTS["replay_share"],
        widget=_num(min=0, max=0.95),
        help_text="With the shuffled-visits budget: the share of each later stage's batches spent on earlier data.",
    )
    hard_weight = forms.FloatField(
        required=False,
        initial=JOB_DEFAULTS["hard_weight"],
        widget=_num(min=1, max=10),
        label="Hard-stage weight",
        help_text="With the shuffled-visits budget: the last stage's examples get this many times a shuffled run's "
        "visits (the others fewer, same total).",
    )
    lr_schedule = forms.ChoiceField(
        required=False,
        choices=[("per_stage", "per stage (fresh warmup and decay)"), ("global", "one schedule across stages")],
        initial=JOB_DEFAULTS["lr_schedule"],
        label="Learning-rate schedule",
        help_text="One schedule uses the first stage's learning rate and warmup for the whole run.",
    )
    ce_warmup_fraction = forms.FloatField(
        required=False,
        initial=JOB_DEFAULTS["ce_warmup_fraction"],
        widget=_num(min=0, max=0.95),
        label="CE warm start",
        help_text="This share of the run's first steps trains on CE only (α 0), then each stage's α.",
    )
    temperature_schedule = forms.ChoiceField(
        required=False,
        choices=[("constant", "each stage's T"), ("anneal", "anneal from each stage's T to 1")],
        initial=JOB_DEFAULTS["temperature_schedule"],
    )

    JOB_FIELDS = (
        "batch_size",
        "grad_accum",
        "max_seq_len",
        "mixed_precision",
        "seed",
        "checkpoint_every",
        *CURRICULUM_DEFAULTS,
    )

    def curriculum_fields(self):
        return [self[name] for name in CURRICULUM_DEFAULTS]

    def training_fields(self):
        return [self[name] for name in self.JOB_FIELDS if name not in CURRICULUM_DEFAULTS]

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        offer_specs(self, project)
        # The one student's recipe (its spec's defaults["distill"]) pre-fills the job settings.
        recipe = distill_defaults(default_student(project))
        for key in DISTILL_JOB_KEYS:
            if key in recipe:
                self.fields[key].initial = recipe[key]


TEMPERATURE_HELP = (
    "Generation: keep T at 1 unless the teacher stored a wide top-k. Soft targets keep the teacher's top-k "
    "tokens and one bucket for the rest; tempering those k + 1 buckets is not tempering the teacher's real "
    "distribution (at T 4, k 20 and a 3,000-token vocabulary the gradient's cosine with the true one is 0.54), "
    "and the job warns when it trains so. Classification label distributions are exact at any T."
)


ON_POLICY_HELP = (
    "Generation only: on this share of the stage's batches the student writes its own answers and the teacher "
    "scores them (GKD): the teacher must answer at launch and while the stage trains. Empty: off."
)


class StageForm(forms.Form):
    snapshot = SnapshotChoice(queryset=Snapshot.objects.none())
    name = forms.CharField(
        required=False, max_length=50, widget=forms.TextInput(attrs={"placeholder": "from the snapshot"})
    )
    steps = forms.IntegerField(required=False, widget=_num(min=1, step=1, placeholder="steps"))
    epochs = forms.FloatField(required=False, widget=_num(min=0, placeholder="epochs"))
    lr = forms.FloatField(initial=STAGE_DEFAULTS["lr"], label="Learning rate", widget=_num(min=0))
    warmup_steps = forms.IntegerField(initial=STAGE_DEFAULTS["warmup_steps"], widget=_num(min=0, step=1))
    temperature = forms.FloatField(
        initial=STAGE_DEFAULTS["temperature"],
        widget=_num(min=0, title=TEMPERATURE_HELP),
        help_text=TEMPERATURE_HELP,
    )
    alpha = forms.FloatField(initial=STAGE_DEFAULTS["alpha"], widget=_num(min=0, max=1))
    divergence = forms.ChoiceField(
        choices=[(d, d.replace("_", " ")) for d in DIVERGENCES], initial=STAGE_DEFAULTS["divergence"]
    )
    jsd_beta = forms.FloatField(initial=STAGE_DEFAULTS["jsd_beta"], label="JSD β", widget=_num(min=0, max=1))
    replay_fraction = forms.FloatField(initial=STAGE_DEFAULTS["replay_fraction"], widget=_num(min=0, max=1))
    on_policy_fraction = forms.FloatField(
        required=False,
        label="On-policy share",
        widget=_num(min=0, max=1, placeholder="off", title=ON_POLICY_HELP),
        help_text=ON_POLICY_HELP,
    )
    on_policy_beta = forms.FloatField(required=False, initial=0.5, label="JSD β", widget=_num(min=0, max=1))
    on_policy_temperature = forms.FloatField(required=False, initial=1.0, label="Sampling T", widget=_num(min=0))
    on_policy_max_new_tokens = forms.IntegerField(
        required=False, initial=64, label="Max new tokens", widget=_num(min=1, step=1)
    )
    gate_metric = forms.ChoiceField(choices=[("", "no gate")] + [(m, m) for m in GATE_METRICS], required=False)
    gate_threshold = forms.FloatField(required=False, widget=_num(placeholder="threshold"))
    gate_patience = forms.IntegerField(required=False, initial=1, widget=_num(min=0, step=1))

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["snapshot"].queryset = (
            Snapshot.objects.filter(project=project, status=Snapshot.Status.READY)
            .select_related("stage")
            .order_by("-created_at", "-id")
        )

    def as_stage(self) -> dict:
        cd = self.cleaned_data
        return stage_of_row({**cd, "snapshot": cd["snapshot"].pk if cd.get("snapshot") else None})


def stage_of_row(row: dict) -> dict:
    """A stage row's fields (the snapshot as its id; ``initial_stages`` gives such rows) as
    the service's stage request."""
    stage = {"snapshot": row.get("snapshot"), "name": row.get("name") or ""}
    for key in ("steps", "epochs", *STAGE_DEFAULTS):
        stage[key] = row.get(key)
    if row.get("on_policy_fraction") not in (None, ""):
        keys = ("fraction", "beta", "temperature", "max_new_tokens")
        on_policy = {key: row.get(f"on_policy_{key}") for key in keys}
        stage["on_policy"] = {key: value for key, value in on_policy.items() if value not in (None, "")}
    if row.get("gate_metric"):
        stage["gate"] = {
            "metric": row["gate_metric"],
            "threshold": row.get("gate_threshold"),
            "patience": row.get("gate_patience") or 0,
        }
    return stage


StageFormSet = forms.formset_factory(StageForm, extra=0, can_delete=True, min_num=1, validate_min=True)


def launch_request(form: DistillLaunchForm, formset) -> tuple[dict, list]:
    """The service's launch request, and the formset form behind each stage index."""
    data = {k: form.cleaned_data.get(k) for k in DistillLaunchForm.JOB_FIELDS}
    data["student_spec"] = form.cleaned_data["student_spec"].pk
    data["teacher_spec"] = form.cleaned_data["teacher_spec"].pk
    # An untouched added row has empty cleaned_data; a removed row is marked DELETE.
    rows = [f for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
    data["stages"] = [f.as_stage() for f in rows]
    return data, rows


def default_student(project) -> ModelSpec | None:
    """The student the launch form preselects: the project's only student spec, if it has one."""
    only = list(ModelSpec.objects.filter(project=project, role=ModelSpec.Role.STUDENT).order_by("name")[:2])
    return only[0] if len(only) == 1 else None


def initial_stages(project, student: ModelSpec | None = None) -> list[dict]:
    """One row per curriculum stage that has a ready snapshot (its newest), in order, with
    the stage settings of the student's recipe (``student``, else the preselected one)."""
    rows = _initial_rows(project)
    stage = distill_defaults(student if student is not None else default_student(project)).get("stage", {})
    for i, row in enumerate(rows):
        row.update({k: v for k, v in stage.items() if k != "replay_fraction" or i > 0})
        if "steps" in stage and "epochs" not in stage:
            row.pop("epochs", None)
    return rows


def _initial_rows(project) -> list[dict]:
    ready = Snapshot.objects.filter(project=project, status=Snapshot.Status.READY).order_by("-created_at", "-id")
    gate_metric, threshold = ("accuracy", 0.6) if project.is_classification else ("teacher_agreement", 0.5)
    rows = []
    for stage in project.stages.filter(is_pool=False).order_by("order", "id"):
        snap = ready.filter(stage=stage).first()
        if snap is not None:
            rows.append(_row(snap, stage.name, len(rows), gate_metric, threshold))
    if not rows and ready.exists():
        snap = ready.first()
        rows.append(_row(snap, "", 0, gate_metric, threshold))
    return rows


def _row(snap, name, index, gate_metric, threshold):
    has_val = snap.validation_count or snap.rows.filter(split=SnapshotRow.Split.VALIDATION).exists()
    return {
        "snapshot": snap.pk,
        "name": name,
        "epochs": 1.0,
        "replay_fraction": 0.0 if index == 0 else 0.2,
        "gate_metric": gate_metric if has_val else "",
        "gate_threshold": threshold if has_val else None,
        "gate_patience": 1,
    }

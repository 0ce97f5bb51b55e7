"""The experiment launch form: snapshots, arms, seeds and a base recipe.

The form only parses the page's inputs into the service's request
(``services.experiments.launch_experiment``, which the API calls too); the service's errors,
named like ``recipe.stage.lr``, are put back on the fields by ``forms.add_errors``.
"""

from django import forms

from curation.forms_training import NUMBER, SnapshotChoice, SpecChoice, default_student, offer_specs
from curation.models import ModelSpec, Snapshot
from curation.services.experiments import ARMS, DEFAULT_SEEDS, MAX_SEEDS
from curation.services.recipes import JOB_DEFAULTS, STAGE_DEFAULTS, distill_defaults
from workers.distill.config import GATE_METRICS

JOB_FIELDS = ("batch_size", "max_seq_len", "seed")
STAGE_FIELDS = ("steps", "epochs", "lr", "warmup_steps", "temperature", "alpha", "replay_fraction")


def _num(**attrs):
    return forms.NumberInput(attrs={**NUMBER, **attrs})


class SnapshotsChoice(forms.ModelMultipleChoiceField):
    label_from_instance = SnapshotChoice.label_from_instance


class ExperimentForm(forms.Form):
    name = forms.CharField(
        max_length=200, widget=forms.TextInput(attrs={"placeholder": "e.g. week 48: is curation paying?"})
    )
    student_spec = SpecChoice(queryset=ModelSpec.objects.none(), help_text="The small model every arm trains.")
    teacher_spec = SpecChoice(
        queryset=ModelSpec.objects.none(), help_text="Its soft targets; every student is compared with it."
    )
    snapshots = SnapshotsChoice(
        queryset=Snapshot.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="The curriculum: curated snapshots, trained in the order of their stages.",
    )
    arms = forms.MultipleChoiceField(
        choices=[(key, f"{arm.label}: {arm.description}") for key, arm in ARMS.items()],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose the arms to train (curated is the reference)."},
    )
    seeds = forms.IntegerField(
        initial=DEFAULT_SEEDS,
        min_value=1,
        max_value=MAX_SEEDS,
        widget=_num(min=1, max=MAX_SEEDS, step=1),
        help_text=f"Every arm trains once per seed (1 to {MAX_SEEDS}); more seeds, narrower intervals.",
    )
    batch_size = forms.IntegerField(initial=JOB_DEFAULTS["batch_size"], widget=_num(min=1, step=1))
    max_seq_len = forms.IntegerField(
        initial=JOB_DEFAULTS["max_seq_len"], label="Max sequence length", widget=_num(min=8, step=1)
    )
    seed = forms.IntegerField(initial=0, label="First seed", widget=_num(min=0, step=1))
    steps = forms.IntegerField(required=False, label="Steps per stage", widget=_num(min=1, step=1))
    epochs = forms.FloatField(required=False, label="or epochs per stage", widget=_num(min=0))
    lr = forms.FloatField(initial=STAGE_DEFAULTS["lr"], label="Learning rate", widget=_num(min=0))
    warmup_steps = forms.IntegerField(initial=STAGE_DEFAULTS["warmup_steps"], widget=_num(min=0, step=1))
    temperature = forms.FloatField(initial=STAGE_DEFAULTS["temperature"], widget=_num(min=0))
    alpha = forms.FloatField(initial=STAGE_DEFAULTS["alpha"], label="α (KD weight)", widget=_num(min=0, max=1))
    replay_fraction = forms.FloatField(
        initial=STAGE_DEFAULTS["replay_fraction"], label="Replay (stages 2+)", widget=_num(min=0, max=1)
    )
    gate_metric = forms.ChoiceField(choices=[("", "no gate")] + [(m, m) for m in GATE_METRICS], required=False)
    gate_threshold = forms.FloatField(required=False, widget=_num(placeholder="threshold"))
    gate_patience = forms.IntegerField(required=False, initial=0, widget=_num(min=0, step=1))

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        offer_specs(self, project)
        ready = (
            Snapshot.objects.filter(project=project, status=Snapshot.Status.READY, content=Snapshot.Content.CURATED)
            .select_related("stage")
            .order_by("stage__order", "-created_at", "-id")
        )
        self.fields["snapshots"].queryset = ready
        newest = {}
        for snap in ready:
            if snap.stage_id and not snap.stage.is_pool:
                newest.setdefault(snap.stage_id, snap.pk)
        self.fields["snapshots"].initial = list(newest.values())
        one_stage = len(newest) < 2
        self.fields["arms"].initial = [k for k in ARMS if not (one_stage and k in ("shuffled", "random_order"))]
        # The one student's recipe (its spec's defaults["distill"]) pre-fills the base recipe.
        recipe = distill_defaults(default_student(project))
        for key in JOB_FIELDS:
            if key in recipe:
                self.fields[key].initial = recipe[key]
        for key, value in (recipe.get("stage") or {}).items():
            if key in self.fields:
                self.fields[key].initial = value
        if "steps" not in (recipe.get("stage") or {}) and "epochs" not in (recipe.get("stage") or {}):
            self.fields["steps"].initial = 200

    def recipe_fields(self):
        return [self[name] for name in (*JOB_FIELDS, *STAGE_FIELDS)]

    def gate_fields(self):
        return [self[name] for name in ("gate_metric", "gate_threshold", "gate_patience")]

    def as_request(self) -> dict:
        cd = self.cleaned_data
        snapshots = sorted(cd["snapshots"], key=lambda s: (s.stage.order if s.stage_id else 10**6, s.pk))
        stage = {k: cd[k] for k in STAGE_FIELDS if cd.get(k) is not None}
        if cd.get("gate_metric"):
            stage["gate"] = {
                "metric": cd["gate_metric"],
                "threshold": cd.get("gate_threshold"),
                "patience": cd.get("gate_patience") or 0,
                "split": "validation",
            }
        return {
            "name": cd["name"],
            "student_spec": cd["student_spec"].pk,
            "teacher_spec": cd["teacher_spec"].pk,
            "snapshots": [s.pk for s in snapshots],
            "arms": list(cd["arms"]),
            "seeds": cd["seeds"],
            "recipe": {**{k: cd[k] for k in JOB_FIELDS if cd.get(k) is not None}, "stage": stage},
        }

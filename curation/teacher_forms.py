"""Forms of the teacher pages: launch generation, launch scoring, register a model spec.

The forms only collect input; the rules (and their messages) live in
``curation.services.teacher`` / ``modelspecs`` and come back here as field errors
(``curation.forms.add_errors``), so the page and the API refuse the same things in the same words.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from django import forms
from django.urls import reverse

from curation.forms import add_errors
from curation.models import ModelSpec, Prompt
from curation.services.modelspecs import check_pricing, check_spec_fields
from curation.services.teacher import SCOPES, TARGETS
from workers.teacher import DEFAULT_DRAWS, DEFAULT_TOP_K, GenerationParams

GENERATION_FIELDS = (
    "n",
    "temperature",
    "top_p",
    "max_new_tokens",
    "min_new_tokens",
    "stop",
    "seed",
    "top_k",
    "soft_targets",
    "draws",
)
SOFT_TARGET_CHOICES = [
    ("topk", "Top-k and a tail bucket"),
    ("sampled", "Sampled (RS-KD): tokens drawn from the whole distribution, with weights"),
]


def soft_targets_field() -> forms.ChoiceField:
    """What both launch forms ask (the rule: ``modelspecs.check_soft_target_choice``)."""
    return forms.ChoiceField(
        choices=SOFT_TARGET_CHOICES,
        required=False,
        initial="topk",
        label="Soft targets",
        help_text="Sampled targets need a local (transformers) teacher and train at temperature 1, forward KL.",
    )


def draws_field() -> forms.IntegerField:
    return forms.IntegerField(
        required=False, initial=DEFAULT_DRAWS, label="Draws per token", help_text="Sampled soft targets only."
    )


FILTER_FIELDS = ("scope", "source", "metadata_key", "metadata_value", "ids", "limit")


def stops_to_text(stops) -> str:
    return "\n".join(s.replace("\\", "\\\\").replace("\n", "\\n") for s in stops or [])


def text_to_stops(text: str) -> list[str]:
    out = []
    for line in (text or "").splitlines():
        if line:
            out.append(line.replace("\\n", "\n").replace("\\\\", "\\"))
    return out


class TeacherChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, spec):
        where = spec.base_url if spec.backend == ModelSpec.Backend.OPENAI else spec.path
        return f"{spec.name} ({spec.backend}: {where})"


class GenerateForm(forms.Form):
    model_spec = TeacherChoiceField(queryset=ModelSpec.objects.none(), empty_label=None, label="Model spec")
    n = forms.IntegerField(required=False, label="Samples (n)", help_text="per prompt")
    temperature = forms.FloatField(required=False)
    top_p = forms.FloatField(required=False, label="top_p")
    max_new_tokens = forms.IntegerField(required=False, label="Max new tokens")
    min_new_tokens = forms.IntegerField(required=False, label="Min new tokens")
    stop = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Stop strings",
        help_text=r"One per line; write \n for a line break.",
    )
    seed = forms.IntegerField(required=False)
    top_k = forms.IntegerField(
        required=False,
        label="Soft-target width (top_k)",
        help_text="Top-k log-probabilities stored per token (OpenAI-compatible servers often cap this at 20).",
    )
    soft_targets = soft_targets_field()
    draws = draws_field()
    scope = forms.ChoiceField(
        choices=list(SCOPES.items()), widget=forms.RadioSelect, initial="missing", label="Prompts"
    )
    source = forms.ChoiceField(choices=[("", "any source")] + list(Prompt.Source.choices), required=False)
    metadata_key = forms.CharField(required=False, label="Metadata key")
    metadata_value = forms.CharField(
        required=False,
        label="Metadata value",
        help_text="Empty: the key must be present. true/false and numbers also match JSON values.",
    )
    ids = forms.CharField(required=False, label="Prompt ids", help_text="e.g. 4, 8, 15-17")
    limit = forms.IntegerField(required=False, label="At most", help_text="The first N matching prompts, by id.")

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["model_spec"].queryset = ModelSpec.objects.filter(project=project, role=ModelSpec.Role.TEACHER)
        if project.is_classification:
            for name in GENERATION_FIELDS:
                del self.fields[name]
        else:  # n changes the number of samples the launch page announces
            self.fields["n"].widget.attrs.update(
                {
                    "hx-get": reverse("gen-prompt-count", args=[project.slug]),
                    "hx-trigger": "input delay:400ms",
                    "hx-target": "#prompt-count",
                    "hx-swap": "outerHTML",
                    "hx-include": "#generate-form",
                }
            )

    @staticmethod
    def initial_for(spec: ModelSpec | None) -> dict:
        """The settings a spec starts a job with: global defaults overlaid with the spec's."""
        values = asdict(GenerationParams())
        if spec is not None:
            values.update({k: v for k, v in (spec.defaults or {}).items() if k in values})
        values["stop"] = stops_to_text(values["stop"])
        return values

    def generation_params(self) -> dict:
        data = self.cleaned_data
        params = {
            name: data[name] for name in GENERATION_FIELDS if name in self.fields and data.get(name) not in (None, "")
        }
        if "stop" in self.fields:
            params["stop"] = text_to_stops(data.get("stop", ""))
        return params

    def count_scopes(self, counts: dict[str, int]) -> None:
        """Each scope's choice says how many prompts it would answer."""
        self.fields["scope"].choices = [
            (key, f"{label}: {counts[key]:,}" if key in counts else label) for key, label in SCOPES.items()
        ]

    def prompt_filter(self) -> dict:
        data = self.cleaned_data
        return {name: data[name] for name in FILTER_FIELDS if data.get(name) not in (None, "")}


class ScoreForm(forms.Form):
    model_spec = TeacherChoiceField(queryset=ModelSpec.objects.none(), empty_label=None, label="Teacher")
    targets = forms.MultipleChoiceField(
        choices=list(TARGETS.items()), widget=forms.CheckboxSelectMultiple, initial=list(TARGETS), label="Score"
    )
    top_k = forms.IntegerField(initial=DEFAULT_TOP_K, label="Soft-target width (top_k)")
    soft_targets = soft_targets_field()
    draws = draws_field()

    def score_params(self) -> dict:
        data = self.cleaned_data
        params = {"targets": data["targets"], "top_k": data["top_k"]}
        params.update({k: data[k] for k in ("soft_targets", "draws") if data.get(k) not in (None, "")})
        return params

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model_spec"].queryset = ModelSpec.objects.filter(project=project, role=ModelSpec.Role.TEACHER)


class PrettyJSONField(forms.JSONField):
    def prepare_value(self, value):
        if isinstance(value, str):
            return value
        return json.dumps(value or {}, indent=1, sort_keys=True)


class ModelSpecForm(forms.ModelForm):
    defaults = PrettyJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text='Default generation settings, e.g. {"n": 4, "temperature": 0.8, "max_new_tokens": 256}.',
    )
    options = PrettyJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text='Backend options, e.g. {"max_batch_size": 64} or {"endpoint": "chat", "concurrency": 16}.',
    )

    pricing = PrettyJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='For the routing simulation: {"per_1k_input": 0.5, "per_1k_output": 1.5} (per 1,000 tokens) '
        'and/or {"per_hour": 2.0} (a machine, charged for its busy time).',
    )

    class Meta:
        model = ModelSpec
        fields = [
            "name",
            "role",
            "backend",
            "path",
            "revision",
            "base_url",
            "api_key_env",
            "tokenizer_path",
            "defaults",
            "options",
            "pricing",
        ]
        labels = {
            "path": "Path, hub name or served model",
            "base_url": "Server base URL",
            "api_key_env": "API key variable",
            "tokenizer_path": "Tokenizer (path or hub name)",
        }
        help_texts = {
            "api_key_env": "The NAME of the environment variable that holds the key on the workers "
            "(e.g. VLLM_API_KEY). Never paste the key itself.",
            "tokenizer_path": "OpenAI-compatible servers: the teacher's tokenizer, to map tokens to ids and "
            "to score text.",
        }

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        taken = ModelSpec.objects.filter(project=self.project, name=name).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(f"This project already has a model spec named {name!r}.")
        return name

    def clean(self):
        data = super().clean()
        for name in ("defaults", "options", "pricing"):
            if data.get(name) in (None, ""):
                data[name] = {}
        if self.errors:
            return data
        problems = check_spec_fields(
            data.get("backend", ""),
            data.get("path", ""),
            data.get("base_url", ""),
            data.get("api_key_env", ""),
            data["defaults"],
            data["options"],
        )
        for problem in check_pricing(data["pricing"]):
            problems.add("pricing", problem)
        add_errors(self, problems)
        return data

    def save(self, commit=True):
        self.instance.project = self.project
        return super().save(commit)

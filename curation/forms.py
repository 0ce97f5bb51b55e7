import json

from django import forms

from curation.models import ApiToken, Project
from curation.services.errors import NON_FIELD, Invalid
from curation.services.inputs import load_json
from workers.checks import CHECK_TYPES, validate_checks_config
from workers.judge import DEFAULT_GRADES, DEFAULT_RUBRIC, check_grades


def add_errors(form, invalid: Invalid, *, rows=None, rows_key: str = "stages") -> None:
    """Put a service's ``Invalid`` on a form: the one adapter from service errors to Django forms.

    A field path goes to the form field named by its first part (the rest of the path heads
    the message: ``filter.tier`` puts "tier: ..." under ``filter``), else by its last part
    (``params.top_k`` under ``top_k``) or its last two joined (``gate_threshold``), else to the
    form as a whole, headed by that part.
    With ``rows`` (a formset's forms), ``stages.<i>.<setting>`` goes to row i's field
    ``<setting>`` (dots as underscores: ``gate_threshold``).
    """
    for path, message in invalid.flat():
        parts = path.split(".")
        if rows is not None and parts[0] == rows_key:
            _add_to_row(form, rows, parts[1:], message)
        elif parts[0] in form.fields:
            rest = ".".join(parts[1:])
            form.add_error(parts[0], f"{rest}: {message}" if rest else message)
        elif parts[-1] in form.fields:
            form.add_error(parts[-1], message)
        elif "_".join(parts[-2:]) in form.fields:  # recipe.stage.gate.threshold -> gate_threshold
            form.add_error("_".join(parts[-2:]), message)
        elif path == NON_FIELD:
            form.add_error(None, message)
        else:
            form.add_error(None, f"{parts[-1].replace('_', ' ')}: {message}")


def error_line(invalid: Invalid, fields: dict | None = None) -> str:
    """An ``Invalid`` as one line for a page without a Django form, its fields named as the page
    names them (``fields``: service field -> page input): "reference: The reference is ..."."""
    fields = fields or {}
    return "; ".join(
        message if path == NON_FIELD else f"{fields.get(path, path)}: {message}" for path, message in invalid.flat()
    )


def _add_to_row(form, rows, parts, message) -> None:
    index = parts[0] if parts else ""
    if not (index.isascii() and index.isdigit() and int(index) < len(rows)):
        form.add_error(None, f"Stages: {message}")
        return
    row, field = rows[int(index)], "_".join(parts[1:])
    row.add_error(field if field in row.fields else None, message)


class ImportForm(forms.Form):
    # An empty file goes on to the import, which explains it as the CLI and the API do.
    file = forms.FileField(
        allow_empty_file=True, help_text="JSONL (one object per line) or CSV with a 'prompt' column."
    )
    format = forms.ChoiceField(
        choices=[("", "Detect from the file name"), ("jsonl", "JSONL"), ("csv", "CSV")], required=False
    )
    skip_bad_lines = forms.BooleanField(
        required=False, help_text="Import the good lines and list the bad ones, instead of importing nothing."
    )


class TokenForm(forms.Form):
    EXPIRY = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("never", "never")]

    name = forms.CharField(
        max_length=100, help_text="What will use it, e.g. “training pipeline” or “Alice's notebook”."
    )
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, initial=ApiToken.Scope.FULL, required=False)
    expires = forms.ChoiceField(choices=EXPIRY, initial="90", label="Expires after", required=False)


class SnapshotForm(forms.Form):
    # Pre-filled by the view ("<stage> <date>"); an emptied name gets the server's own
    # message, not only the browser's "Please fill out this field".
    use_required_attribute = False
    name = forms.CharField(
        max_length=200,
        error_messages={
            "required": "Give the snapshot a name (for example the stage and the date: “easy 2026-01-31”)."
        },
    )
    source = forms.ChoiceField(
        choices=[("stage", "A stage"), ("filter", "A review-queue filter")], initial="stage", widget=forms.RadioSelect
    )
    stage = forms.ChoiceField(required=False)
    filter = forms.CharField(
        required=False,
        max_length=2000,
        help_text="The review queue's parameters, as in its URL: e.g. tier=hard&checks=passed",
    )
    content = forms.ChoiceField(
        choices=[
            ("curated", "Curated: the approved examples, with the reviewers' edits and labels"),
            ("raw", "Raw teacher output: every teacher example, whatever its status, as the teacher wrote it"),
        ],
        initial="curated",
        required=False,
        widget=forms.RadioSelect,
        help_text="Raw is what training without review would use: compare the two in an experiment.",
    )
    seed = forms.IntegerField(initial=0, min_value=0, max_value=2**31 - 1)
    validation_fraction = forms.FloatField(
        initial=0.1, min_value=0, max_value=0.5, help_text="Share of prompts held out for validation (0 to 0.5)."
    )
    include_soft_targets = forms.BooleanField(
        required=False, help_text="Inline the teacher's top-k soft targets in the Parquet files."
    )
    one_per_cluster = forms.BooleanField(
        required=False, help_text="At most one example per duplicate cluster (near-identical prompts)."
    )
    redact_pii = forms.BooleanField(
        required=False, help_text="Replace personal data in prompts with typed placeholders (<EMAIL>, <PHONE>...)."
    )
    system_prompt = forms.CharField(
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Chat format only: a system turn for prompts that have none.",
    )

    def __init__(self, *args, stages=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [(s, s) for s in stages]


class ProjectSettingsForm(forms.ModelForm):
    """Guidelines, second pass, automatic checks and tier cut points (engineers)."""

    checks = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text='A JSON list, e.g. [{"type": "non_empty"}, {"type": "max_length", "chars": 2000}].',
    )
    tier_quantiles = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
        help_text="Difficulty cut points between tiers, easiest first: increasing numbers between 0 and 1, "
        "one fewer than the tiers (e.g. 0.5, 0.8). Empty: equal-sized tiers.",
    )

    judge_grades = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
        help_text="The grades the judge answers with, as numbers separated by commas. "
        f"Empty: {', '.join(DEFAULT_GRADES)}.",
    )

    class Meta:
        model = Project
        fields = ["guidelines", "require_second_approval", "checks", "tier_quantiles", "judge_spec", "judge_rubric",
                  "judge_grades"]  # fmt: skip
        widgets = {"guidelines": forms.Textarea(attrs={"rows": 12}), "judge_rubric": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["judge_spec"].queryset = self.instance.model_specs.order_by("name")
        self.fields["judge_spec"].empty_label = "the evaluated teacher"
        self.fields["judge_rubric"].widget.attrs["placeholder"] = DEFAULT_RUBRIC
        if not self.is_bound:
            self.initial["checks"] = json.dumps(self.instance.checks or [], indent=2)
            self.initial["tier_quantiles"] = ", ".join(str(q) for q in self.instance.tier_quantiles or [])
            self.initial["judge_grades"] = ", ".join(self.instance.judge_grades or [])

    def clean_judge_grades(self):
        raw = self.cleaned_data["judge_grades"].strip().strip("[]")
        if not raw:
            return []
        try:
            return check_grades([part for part in raw.replace(";", ",").split(",") if part.strip()])
        except ValueError as exc:
            raise forms.ValidationError(str(exc).capitalize() + ".") from None

    def clean_checks(self):
        raw = self.cleaned_data["checks"].strip() or "[]"
        try:
            value = load_json(raw)
        except ValueError as exc:
            reason = str(exc).removeprefix("invalid JSON (").removesuffix(")")
            raise forms.ValidationError(f"Not valid JSON: {reason}.") from None
        try:
            return validate_checks_config(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_tier_quantiles(self):
        raw = self.cleaned_data["tier_quantiles"].strip().strip("[]")
        if not raw:
            return []
        try:
            cuts = [float(part) for part in raw.replace(";", ",").split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError("Write numbers separated by commas, e.g. 0.5, 0.8.") from None
        if any(not 0 < q < 1 for q in cuts) or cuts != sorted(set(cuts)):
            raise forms.ValidationError("The cut points must be strictly increasing numbers between 0 and 1.")
        tiers = self.instance.tiers.count()
        if len(cuts) != tiers - 1:
            raise forms.ValidationError(
                f"This project has {tiers} tiers, so it needs {tiers - 1} cut points, not {len(cuts)}."
            )
        return cuts


class AuditFilterForm(forms.Form):
    """The audit page's filters; the audit service parses them (``audit.parse_filters``)."""

    person = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "username"}))
    kind = forms.CharField(required=False, widget=forms.Select)
    since = forms.CharField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.CharField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        # A Select over a plain field: the service is the one judge of a kind (its wording on a bad one).
        self.fields["kind"].widget.choices = [("", "every kind"), *((k, k) for k in kinds)]


class WebhookForm(forms.Form):
    """Fields only: ``webhooks.subscribe`` checks the URL and the events (one home for the rule)."""

    url = forms.CharField(max_length=2000, required=False, label="URL")
    events = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, events=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = [(e, e) for e in events]


class AddCheckForm(forms.Form):
    """One automatic check from fields, appended to the project's list (the JSON box stays for bulk edits)."""

    type = forms.ChoiceField(choices=[(k, k.replace("_", " ")) for k in CHECK_TYPES], label="Check")
    value = forms.CharField(
        required=False,
        max_length=10_000,
        help_text="max length: characters · regex: the pattern · refusal: phrases, comma-separated (empty: the "
        "built-in list) · label in set: labels, comma-separated · json schema: the schema as JSON",
    )
    name = forms.CharField(required=False, max_length=100, help_text="Optional; needed for a second check of a type.")

    def __init__(self, *args, existing=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.existing = list(existing)

    def clean(self):
        data = super().clean()
        kind, value = data.get("type"), (data.get("value") or "").strip()
        if kind is None:
            return data
        entry = {"type": kind}
        if data.get("name", "").strip():
            entry["name"] = data["name"].strip()
        items = [part.strip() for part in value.split(",") if part.strip()]
        if kind == "max_length":
            if not value.isdigit():
                raise forms.ValidationError({"value": "Give the largest number of characters, e.g. 2000."})
            entry["chars"] = int(value)
        elif kind in ("regex_must_match", "regex_must_not_match"):
            if not value:
                raise forms.ValidationError({"value": "Give the regular expression."})
            entry["pattern"] = value
        elif kind == "label_in_set":
            if not items:
                raise forms.ValidationError({"value": "Give the allowed labels, comma-separated."})
            entry["labels"] = items
        elif kind == "refusal" and items:
            entry["phrases"] = items
        elif kind == "json_schema":
            try:
                entry["schema"] = load_json(value or "null")
            except ValueError as exc:
                raise forms.ValidationError({"value": f"The schema is not valid JSON: {exc}."}) from None
            if not isinstance(entry["schema"], dict):
                raise forms.ValidationError({"value": 'Give the schema as a JSON object, e.g. {"type": "object"}.'})
        try:
            data["checks"] = validate_checks_config(self.existing + [entry])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)[0].upper() + str(exc)[1:] + ".") from None
        return data


def posted_settings(post, defaults: dict) -> dict:
    """A settings page's POST read as its ``defaults`` dict: a bool key is a checkbox (present = on)."""
    return {
        name: (name in post) if isinstance(default, bool) else post.get(name, "") for name, default in defaults.items()
    }


def settings_fields(defaults: dict, labels: dict, current: dict, post=None) -> list[dict]:
    """The rows of a settings page: the stored ``current`` values, or what was posted (``post``,
    after a refused save); ``switch`` for a checkbox, ``whole`` for a whole number."""
    if post is not None:
        current = {**current, **posted_settings(post, defaults)}
    return [
        {
            "name": name,
            "label": labels[name],
            "value": current[name],
            "switch": isinstance(default, bool),
            "whole": isinstance(default, int) and not isinstance(default, bool),
        }
        for name, default in defaults.items()
    ]

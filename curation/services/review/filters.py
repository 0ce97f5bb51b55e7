"""The example filter shared by the review queue, bulk actions, snapshots and the API.

One definition, so "the examples matching this filter" means the same rows on every
page and endpoint. Parameters travel in the URL (shareable; the back button works):

    status=pending&status=approved   tier=hard|none   stage=pool|stage 1
    source=imported   checks=failed|passed   edited=true   conflict=true
    confidence_min/max (0..1, the teacher's geometric-mean token probability)
    entropy_min/max   margin_min/max   difficulty_min/max   grade=1..5|none
    reviewer=<username>   label=<label>   q=<text in the prompt or response>
    gold=true|false (the prompt is / is not gold-guarded: kept out of training)
    pii=true|false (personal data detected in the prompt, after reviewers' decisions)
    drifted=true|false (a flagged drift window marked the prompt: production traffic unlike the training set)
    cluster=<cluster id> (the prompts of one duplicate cluster)   one_per_cluster=true
    order=newest|oldest|difficulty|-difficulty|confidence|-confidence
    id=12&id=15 (or id=12,15: the examples ticked in the queue, at most 500)

A bad value is a form error naming the parameter; ``filtered_examples`` raises
``Invalid`` with ``errors = {param: [message]}`` so pages and the API can show it.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass

import django_filters
from django import forms
from django.db.models import F, Q

from curation.models import Example, ExampleStatus, Prompt, TeacherSample
from curation.services.errors import Invalid
from curation.services.gold import gold_guarded, training_eligible
from curation.services.inputs import MAX_ID, load_json, parse_id
from curation.services.projects import NONE, stage_named, tier_named

# name -> (model field, descending). Every ordering ends in id (keyset pagination).
ORDERINGS = {
    "newest": ("id", True),
    "oldest": ("id", False),
    "difficulty": ("difficulty", False),
    "-difficulty": ("difficulty", True),
    "confidence": ("mean_logprob", False),
    "-confidence": ("mean_logprob", True),
}
ORDER_LABELS = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "difficulty": "Easiest first",
    "-difficulty": "Hardest first",
    "confidence": "Least confident first",
    "-confidence": "Most confident first",
}
DEFAULT_ORDER = "oldest"
PARAMS = (
    "status",
    "tier",
    "stage",
    "source",
    "checks",
    "edited",
    "conflict",
    "confidence_min",
    "confidence_max",
    "entropy_min",
    "entropy_max",
    "margin_min",
    "margin_max",
    "difficulty_min",
    "difficulty_max",
    "grade",
    "reviewer",
    "label",
    "q",
    "gold",
    "pii",
    "drifted",
    "cluster",
    "one_per_cluster",
    "order",
    "id",
)
MAX_SELECTED = 500


class IdsField(forms.Field):
    """Example ids, repeated (``id=1&id=2``, as ticked checkboxes send them) or comma-separated."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        raw = [part for item in (value or []) for part in str(item).split(",") if part.strip()]
        ids = [parse_id(part.strip()) for part in raw]
        if any(pk is None for pk in ids):
            bad = next(part for part, pk in zip(raw, ids, strict=True) if pk is None)
            raise forms.ValidationError(f"An example id is a whole number, got {bad!r}.")
        if len(ids) > MAX_SELECTED:
            raise forms.ValidationError(f"Select at most {MAX_SELECTED} examples at once, or use a filter.")
        return ids


class IdsFilter(django_filters.Filter):
    field_class = IdsField


def _log_confidence(value: float) -> float:
    return math.log(value) if value > 0 else -math.inf


class ExampleFilter(django_filters.FilterSet):
    # A plain column: DISTINCT (the default) would only slow every query and forbid FOR UPDATE.
    status = django_filters.MultipleChoiceFilter(choices=ExampleStatus.choices, distinct=False)
    tier = django_filters.CharFilter(method="filter_tier", help_text="Tier name, or 'none' for untiered.")
    stage = django_filters.CharFilter(method="filter_stage", help_text="Stage name ('pool' for unplaced).")
    source = django_filters.ChoiceFilter(choices=Prompt.Source.choices)
    checks = django_filters.ChoiceFilter(
        choices=[("failed", "failed a check"), ("passed", "passed every check")], method="filter_checks"
    )
    edited = django_filters.BooleanFilter()
    conflict = django_filters.BooleanFilter(help_text="Second-pass reviewers disagreed.")
    confidence_min = django_filters.NumberFilter(method="filter_confidence", min_value=0, max_value=1)
    confidence_max = django_filters.NumberFilter(method="filter_confidence", min_value=0, max_value=1)
    entropy_min = django_filters.NumberFilter(field_name="mean_entropy", lookup_expr="gte")
    entropy_max = django_filters.NumberFilter(field_name="mean_entropy", lookup_expr="lte")
    margin_min = django_filters.NumberFilter(field_name="min_margin", lookup_expr="gte")
    margin_max = django_filters.NumberFilter(field_name="min_margin", lookup_expr="lte")
    difficulty_min = django_filters.NumberFilter(field_name="difficulty", lookup_expr="gte")
    difficulty_max = django_filters.NumberFilter(field_name="difficulty", lookup_expr="lte")
    grade = django_filters.CharFilter(method="filter_grade", help_text="1-5, or 'none' for ungraded.")
    reviewer = django_filters.CharFilter(field_name="reviewed_by__username")
    label = django_filters.CharFilter()
    q = django_filters.CharFilter(method="filter_text", max_length=200, help_text="Text in the prompt or response.")
    gold = django_filters.BooleanFilter(
        method="filter_gold", help_text="The prompt is in the gold set (never trained on)."
    )
    pii = django_filters.BooleanFilter(field_name="prompt__has_pii", help_text="Personal data in the prompt.")
    drifted = django_filters.BooleanFilter(
        field_name="prompt__drifted", help_text="A flagged drift window marked the prompt (unlike the training set)."
    )
    cluster = django_filters.NumberFilter(
        method="filter_cluster", min_value=1, max_value=MAX_ID, help_text="A duplicate cluster's id: its prompts."
    )
    one_per_cluster = django_filters.BooleanFilter(
        method="filter_one_per_cluster", help_text="Only each duplicate cluster's first prompt (and unclustered ones)."
    )
    order = django_filters.ChoiceFilter(choices=list(ORDER_LABELS.items()), method="filter_noop", empty_label=None)
    id = IdsFilter(method="filter_ids", help_text="Selected example ids.")

    class Meta:
        model = Example
        fields = []

    def __init__(self, data=None, queryset=None, *, project, **kwargs):
        self.project = project
        if queryset is None:
            queryset = Example.objects.filter(project=project)
        super().__init__(data, queryset, **kwargs)

    # Each method validates what a plain field cannot (names belong to this project).
    def filter_tier(self, queryset, name, value):
        tier = tier_named(self.project, value)
        return queryset.filter(tier__isnull=True) if tier is None else queryset.filter(tier_id=tier.id)

    def filter_stage(self, queryset, name, value):
        return queryset.filter(stage_id=stage_named(self.project, value).id)

    def filter_checks(self, queryset, name, value):
        return queryset.filter(checks_failed=(value == "failed"))

    def filter_confidence(self, queryset, name, value):
        bound = _log_confidence(float(value))
        if name == "confidence_min":
            return queryset.filter(mean_logprob__gte=bound) if bound > -math.inf else queryset
        return queryset.filter(mean_logprob__lte=bound)

    def filter_grade(self, queryset, name, value):
        if value == NONE:
            return queryset.filter(grade__isnull=True)
        if value not in {"1", "2", "3", "4", "5"}:
            raise Invalid({"grade": [f"Grade must be 1 to 5 or 'none', got {value!r}."]})
        return queryset.filter(grade=int(value))

    def filter_text(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # A union of three index-backed lookups (on PostgreSQL, trigram GIN indexes; SQLite
        # scans): prompts, teacher samples (an unedited example's response is its sample's
        # text), and edited or sample-less responses. An OR across tables would instead
        # scan every example of the project.
        examples = Example.objects.filter(project=self.project)
        prompts = Prompt.objects.filter(Q(text__icontains=value) | Q(messages__icontains=value), project=self.project)
        samples = TeacherSample.objects.filter(text__icontains=value, prompt__project=self.project)
        matching = (
            examples.filter(prompt_id__in=prompts.values("id"))
            .values("id")
            .union(
                examples.filter(edited=False, sample_id__in=samples.values("id")).values("id"),
                examples.filter(Q(edited=True) | Q(sample__isnull=True), response__icontains=value).values("id"),
            )
        )
        return queryset.filter(id__in=matching)

    def filter_gold(self, queryset, name, value):
        return gold_guarded(queryset) if value else training_eligible(queryset)

    def filter_cluster(self, queryset, name, value):
        return queryset.filter(prompt__cluster_id=int(value))

    def filter_one_per_cluster(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(Q(prompt__cluster_id__isnull=True) | Q(prompt__cluster_id=F("prompt_id")))

    def filter_ids(self, queryset, name, value):
        return queryset.filter(id__in=value) if value else queryset

    def filter_noop(self, queryset, name, value):
        return queryset


def filtered_examples(project, params, queryset=None):
    """(queryset, cleaned params) for ``params`` (a QueryDict or dict); raises ``Invalid``."""
    data = _only_filter_params(params)
    unknown = sorted(set(_keys(params)) - set(PARAMS) - {"after", "size", "page", "format", "cursor"})
    fs = ExampleFilter(data, queryset=queryset, project=project)
    if not fs.is_valid():
        raise Invalid({k: [str(m) for m in v] for k, v in fs.errors.items()})
    qs = fs.qs
    return qs, {"unknown": unknown, **{k: v for k, v in fs.form.cleaned_data.items() if v not in (None, "", [])}}


def _keys(params):
    return list(params.keys()) if hasattr(params, "keys") else []


def _only_filter_params(params):
    if hasattr(params, "getlist"):
        data = params.copy()
        for key in list(data.keys()):
            if key not in PARAMS:
                del data[key]
        return data
    return {k: v for k, v in (params or {}).items() if k in PARAMS}


def filter_description(cleaned: dict) -> dict:
    """The filter as a JSON-able dict (recorded on bulk actions and snapshots)."""
    out = {}
    for key, value in cleaned.items():
        if key == "unknown":
            continue
        out[key] = (
            list(value)
            if isinstance(value, (list, tuple))
            else (str(value) if not isinstance(value, (int, float, bool)) else value)
        )
    return out


# ------------------------------------------------------------- keyset pagination


@dataclass
class Page:
    items: list
    next_cursor: str | None
    order: str


def encode_cursor(order: str, value, last_id: int) -> str:
    raw = json.dumps([order, value, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str):
    """(value, last_id) from a cursor made for ``order``; ``Invalid`` when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        got_order, value, last_id = load_json(raw, limit=2)
        if got_order != order or not isinstance(last_id, int) or not (value is None or isinstance(value, (int, float))):
            raise ValueError
        if isinstance(last_id, bool) or not 0 <= last_id <= MAX_ID:
            raise ValueError
    except (ValueError, TypeError, json.JSONDecodeError):
        raise Invalid(
            {"after": ["This page link is out of date or broken; start again from the first page."]}
        ) from None
    return value, last_id


def keyset_page(queryset, order: str = DEFAULT_ORDER, after: str | None = None, size: int = 50) -> Page:
    """One page of ``queryset`` in ``order``, after the cursor ``after``.

    Page 20,000 costs what page 1 costs: the cursor is the last row's (sort value, id)
    and the next page starts at it through the index, never with OFFSET. Rows whose
    sort value is NULL (examples without teacher statistics) come last, by id.
    """
    items: list = []
    for phase in rows_after(queryset, order, after):
        items += list(phase[: size + 1 - len(items)])
        if len(items) > size:
            break
    more = len(items) > size
    items = items[:size]
    return Page(items, cursor_at(items[-1], order) if more else None, order)


def rows_after(queryset, order: str, after: str | None = None) -> list:
    """The rows behind cursor ``after`` as ordered, unsliced querysets, to read one after the other.

    First the rows with a sort value, then those without (by id). Unsliced, so a caller
    may lock what it reads (``FOR UPDATE SKIP LOCKED ... LIMIT 1``) without locking a
    look-ahead row as a page does.
    """
    if order not in ORDERINGS:
        raise Invalid({"order": [f"Unknown order {order!r}; choose one of {', '.join(ORDERINGS)}."]})
    field, desc = ORDERINGS[order]
    value, last_id = decode_cursor(after, order) if after else (None, None)
    id_order = "-id" if desc else "id"

    def past_id(qs):
        if last_id is None:
            return qs
        return qs.filter(id__lt=last_id) if desc else qs.filter(id__gt=last_id)

    if field == "id":
        return [past_id(queryset).order_by(id_order)]
    nulls = queryset.filter(**{f"{field}__isnull": True}).order_by(id_order)
    if after is not None and value is None:
        return [past_id(nulls)]
    sorted_rows = queryset.filter(**{f"{field}__isnull": False})
    if after is not None:
        # ">= value" is the index range; the OR only trims the rows tied with the cursor.
        if desc:
            sorted_rows = sorted_rows.filter(
                Q(**{f"{field}__lte": value}) & (Q(**{f"{field}__lt": value}) | Q(id__lt=last_id))
            )
        else:
            sorted_rows = sorted_rows.filter(
                Q(**{f"{field}__gte": value}) & (Q(**{f"{field}__gt": value}) | Q(id__gt=last_id))
            )
    return [sorted_rows.order_by(f"-{field}" if desc else field, id_order), nulls]


def cursor_at(example, order: str) -> str:
    """The keyset cursor that makes ``keyset_page`` start right after ``example``."""
    field, _desc = ORDERINGS[order]
    return encode_cursor(order, None if field == "id" else getattr(example, field), example.id)


def adjacent(queryset, order: str, example, step: int):
    """The row after (+1) or before (-1) ``example`` in ``order`` among ``queryset``, or None.

    ``example`` itself need not match the filter any more (it was just approved, say):
    the position comes from its sort value and id, as a cursor's does.
    """
    if step > 0:
        items = keyset_page(queryset, order, cursor_at(example, order), size=1).items
        return items[0] if items else None
    field, desc = ORDERINGS[order]
    back_id = "id" if desc else "-id"
    if field == "id":
        earlier = queryset.filter(id__gt=example.id) if desc else queryset.filter(id__lt=example.id)
        return earlier.order_by(back_id).first()
    value = getattr(example, field)
    back_field = field if desc else f"-{field}"
    sorted_rows = queryset.filter(**{f"{field}__isnull": False})
    if value is None:
        # Rows without a sort value come last, by id: step back among them, then into the sorted rows.
        earlier = queryset.filter(**{f"{field}__isnull": True})
        earlier = earlier.filter(id__gt=example.id) if desc else earlier.filter(id__lt=example.id)
        return earlier.order_by(back_id).first() or sorted_rows.order_by(back_field, back_id).first()
    if desc:
        before = Q(**{f"{field}__gt": value}) | Q(**{field: value, "id__gt": example.id})
    else:
        before = Q(**{f"{field}__lt": value}) | Q(**{field: value, "id__lt": example.id})
    return sorted_rows.filter(before).order_by(back_field, back_id).first()

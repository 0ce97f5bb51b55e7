"""What the review queue shows: a keyset page of rows with bounded excerpts, the counts per
status (loaded after the page), the filter's choices, and the filter as it travels in links.

The focus view and bulk confirmation read the filter from the URL the same way, so the
URL helpers (``filter_params``, ``with_params``) live here rather than in a view.
"""

from __future__ import annotations

from django.db.models import Count, F
from django.db.models.functions import Substr
from django.http import QueryDict

from curation.excerpts import search_hit, with_prompt_excerpts
from curation.models import ExampleStatus, Prompt, Role, TeacherSample
from curation.services.gold import hide_gold_from_readers, with_gold_flag
from curation.services.review import ACTIONS as BULK_ACTIONS
from curation.services.review import DEFAULT_ORDER, ORDER_LABELS, PARAMS, filtered_examples, keyset_page

PAGE_SIZE = 50
EXCERPT_CHARS = 240
# A prompt's excerpt skips the instruction its page shares, and its title shows the rest.
PROMPT_CHARS = 1000

RANGES = [
    ("confidence", "Confidence", "the teacher's mean token probability, 0 to 1"),
    ("entropy", "Entropy", "mean entropy of the teacher's distribution, in nats"),
    ("margin", "Margin", "smallest gap between the teacher's top two log-probabilities"),
    ("difficulty", "Difficulty", "0 (easiest) to 1 (hardest) within its generation batch"),
]


# ------------------------------------------------------------- the filter in the URL
def filter_params(params) -> QueryDict:
    """Only the filter's own parameters (no cursor, no action, no fragment): what links carry along."""
    kept = QueryDict(mutable=True)
    for key in PARAMS:
        values = [v for v in params.getlist(key) if v != ""]
        if values:
            kept.setlist(key, values)
    return kept


def with_params(base: QueryDict, **changes) -> str:
    """``base`` as a query string with some parameters replaced (None drops one)."""
    params = base.copy()
    for key, value in changes.items():
        params.pop(key, None)
        if value is not None:
            params.setlist(key, value if isinstance(value, list) else [value])
    return params.urlencode()


def visible_examples(project, params):
    """(queryset, cleaned filter) of the filter in ``params``, gold left out for readers.

    Raises ``Invalid`` (by field) when the filter is broken."""
    queryset, cleaned = filtered_examples(project, filter_params(params))
    return hide_gold_from_readers(project, queryset), cleaned


# ------------------------------------------------------------------------- the page
def queue_rows(queryset, classification=False):
    """What a queue row shows, with bounded excerpts instead of whole texts.

    A classification row shows labels instead of a response: the teacher's prediction
    and its (small) label distribution come along from the sample.
    """
    rows = with_gold_flag(
        queryset.select_related("prompt", "tier", "stage", "reviewed_by", "leased_by")
        .defer("response", "original_response", "prompt__text", "prompt__metadata", "failed_checks")
        .annotate(
            response_excerpt=Substr("response", 1, EXCERPT_CHARS),  # the row's own text; see with_response_excerpts
            prompt_text_excerpt=Substr("prompt__text", 1, PROMPT_CHARS),
        )
    )
    if classification:
        rows = rows.annotate(
            teacher_label=F("sample__predicted_label"), teacher_distribution=F("sample__label_distribution")
        )
    return rows


def with_response_excerpts(rows):
    """Fill the excerpt of rows that hold no copy of their response: their teacher sample's text.

    One primary-key query for the page's rows, rather than a join in the page query,
    which already joins seven tables and whose planning time grew with an eighth.
    """
    missing = {row.sample_id: row for row in rows if not row.response_excerpt and row.sample_id}
    if missing:
        texts = dict(
            TeacherSample.objects.filter(pk__in=missing)
            .annotate(excerpt=Substr("text", 1, EXCERPT_CHARS))
            .values_list("pk", "excerpt")
        )
        for sample_id, row in missing.items():
            row.response_excerpt = texts.get(sample_id, "")
    return rows


def queue_page(project, params):
    """The keyset page of the filter in ``params`` (its cursor is ``after``), rows with their excerpts,
    and the instruction their prompts share (``shared_prompt``, said once above the rows).

    Raises ``Invalid`` when the filter or the cursor is broken."""
    queryset, cleaned = visible_examples(project, params)
    order = cleaned.get("order") or DEFAULT_ORDER
    page = keyset_page(queue_rows(queryset, project.is_classification), order, params.get("after") or None, PAGE_SIZE)
    page.shared_prompt = with_prompt_excerpts(page.items)
    for row in page.items:
        row.prompt_hit = search_hit(row.prompt_excerpt, cleaned.get("q") or "")
    if not project.is_classification:
        with_response_excerpts(page.items)
    return page


def filter_choices(project):
    return {
        "statuses": ExampleStatus.choices,
        "tiers": list(project.tiers.values_list("name", flat=True)),
        "stages": list(project.stages.values_list("name", flat=True)),
        "sources": Prompt.Source.choices,
        "labels": project.labels or [],
        "reviewers": list(
            project.memberships.filter(role__in=[Role.REVIEWER, Role.ENGINEER])
            .order_by("user__username")
            .values_list("user__username", flat=True)
        ),
        "orders": list(ORDER_LABELS.items()),
        "bulk_actions": BULK_ACTIONS,
    }


def range_inputs(params, errors):
    rows = []
    for name, label, hint in RANGES:
        problems = errors.get(f"{name}_min", []) + errors.get(f"{name}_max", [])
        rows.append(
            {
                "name": name,
                "label": label,
                "hint": hint,
                "min": params.get(f"{name}_min", ""),
                "max": params.get(f"{name}_max", ""),
                "error": f"{label}: {' '.join(problems)}" if problems else "",
            }
        )
    return rows


# ----------------------------------------------------------------------- the counts
def status_counts(project, params) -> dict:
    """The tabs above the results: per status (and conflicts) for the rest of the filter,
    and how many examples the filter itself matches.

    The slow part of a queue page (a COUNT over the filter), so the page loads it after
    itself. Raises ``Invalid`` when the filter is broken."""
    kept = filter_params(params)
    queryset, _ = visible_examples(project, QueryDict(with_params(kept, status=None, conflict=None)))
    by_status, conflicts = {}, 0
    for status, conflict, n in queryset.order_by().values_list("status", "conflict").annotate(n=Count("id")):
        by_status[status] = by_status.get(status, 0) + n
        conflicts += n if conflict else 0
    selected = set(kept.getlist("status"))
    tabs = [
        {
            "label": "All",
            "n": sum(by_status.values()),
            "qs": with_params(kept, status=None, conflict=None),
            "active": not selected and not kept.get("conflict"),
        }
    ]
    for value, label in ExampleStatus.choices:
        tabs.append(
            {
                "label": label,
                "n": by_status.get(value, 0),
                "status": value,
                "qs": with_params(kept, status=value, conflict=None),
                "active": selected == {value} and not kept.get("conflict"),
            }
        )
    if conflicts or project.require_second_approval:
        tabs.append(
            {
                "label": "Conflicts",
                "n": conflicts,
                "qs": with_params(kept, status=None, conflict="true"),
                "active": kept.get("conflict") == "true",
            }
        )
    matching = sum(n for s, n in by_status.items() if not selected or s in selected)
    if kept.get("conflict") == "true":
        matching = conflicts
    return {"tabs": tabs, "matching": matching, "filter_qs": kept.urlencode()}

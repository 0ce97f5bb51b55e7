"""The review queue: the shared filter in the URL, keyset pages, lazy counts, bulk actions by filter."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, F
from django.db.models.functions import Substr
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from curation.access import can, project_for
from curation.excerpts import with_prompt_excerpts
from curation.models import BulkAction, ExampleStatus, Prompt, Role, TeacherSample
from curation.services.errors import Invalid
from curation.services.gold import hide_gold_from_readers, with_gold_flag
from curation.services.inputs import parse_whole
from curation.services.review import ACTIONS as BULK_ACTIONS
from curation.services.review import (
    DEFAULT_ORDER,
    ORDER_LABELS,
    PARAMS,
    BulkCountChanged,
    ReviewError,
    apply_bulk,
    filtered_examples,
    keyset_page,
    plan_bulk,
    undo_bulk,
    undoable_bulk,
)

PAGE_SIZE = 50
EXCERPT_CHARS = 240
# A prompt's excerpt skips the instruction its page shares, and its title shows the rest.
PROMPT_CHARS = 1000
QUEUE_SHORTCUTS = [
    ("j / k", "Move down / up the list"),
    ("o or Enter", "Open the highlighted example"),
    ("x", "Tick the highlighted example for “Apply to selected”"),
    ("n", "Next for me: lease the next free pending example of this filter"),
    ("/", "Search"),
    ("?", "Show or hide this list"),
]


def filter_params(params) -> QueryDict:
    """Only the filter's own parameters (no cursor, no action): what links carry along."""
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


RANGES = [
    ("confidence", "Confidence", "the teacher's mean token probability, 0 to 1"),
    ("entropy", "Entropy", "mean entropy of the teacher's distribution, in nats"),
    ("margin", "Margin", "smallest gap between the teacher's top two log-probabilities"),
    ("difficulty", "Difficulty", "0 (easiest) to 1 (hardest) within its generation batch"),
]


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


@login_required
def review_queue(request, slug):
    project = project_for(request.user, slug)
    kept = filter_params(request.GET)
    errors, page = {}, None
    try:
        queryset, cleaned = filtered_examples(project, filter_params(request.GET))
        queryset = hide_gold_from_readers(project, queryset)
        order = cleaned.get("order") or DEFAULT_ORDER
        page = keyset_page(
            queue_rows(queryset, project.is_classification), order, request.GET.get("after") or None, PAGE_SIZE
        )
        with_prompt_excerpts(page.items)
        if not project.is_classification:
            with_response_excerpts(page.items)
    except Invalid as exc:
        errors = exc.errors
    context = {
        "project": project,
        "page": page,
        "errors": errors,
        "params": request.GET,
        "current_order": request.GET.get("order") or DEFAULT_ORDER,
        "selected_statuses": request.GET.getlist("status"),
        "ranges": range_inputs(request.GET, errors),
        "filter_qs": kept.urlencode(),
        "filter_pairs": [(key, value) for key in kept for value in kept.getlist(key)],
        "next_qs": with_params(kept, after=page.next_cursor) if page and page.next_cursor else None,
        "is_first_page": not request.GET.get("after"),
        "can_act": can(project, Role.REVIEWER),
        "queue_shortcuts": [s for s in QUEUE_SHORTCUTS if can(project, Role.REVIEWER) or s[0] != "n"],
        "now": timezone.now(),
        "undoable_bulk": _undo_offer(project, request.user),
        **filter_choices(project),
    }
    results_only = request.htmx and request.htmx.target == "queue-results"
    template = "curation/partials/queue_results.html" if results_only else "curation/review_queue.html"
    return render(request, template, context, status=400 if errors else 200)


@login_required
def queue_counts(request, slug):
    """Per-status counts for the current filter (the slow part of a page, so loaded after it)."""
    project = project_for(request.user, slug)
    kept = filter_params(request.GET)
    try:
        queryset, _ = filtered_examples(project, QueryDict(with_params(kept, status=None, conflict=None)))
        queryset = hide_gold_from_readers(project, queryset)
    except Invalid:
        return render(request, "curation/partials/queue_counts.html", {"project": project, "broken": True})
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
    return render(
        request,
        "curation/partials/queue_counts.html",
        {"project": project, "tabs": tabs, "matching": matching, "filter_qs": kept.urlencode()},
    )


@login_required
def bulk(request, slug):
    """GET: the confirmation stating N; POST: apply to all N (refused if N changed meanwhile)."""
    project = project_for(request.user, slug, Role.REVIEWER)
    kept = filter_params(request.GET)
    data = request.POST if request.method == "POST" else request.GET
    context = {
        "project": project,
        "filter_qs": kept.urlencode(),
        "filter_items": _filter_items(kept),
        "filter_pairs": [(key, value) for key in kept for value in kept.getlist(key)],
        "data": data,
        "queue_url": f"{reverse('review-queue', args=[slug])}?{kept.urlencode()}",
        **filter_choices(project),
    }
    try:
        queryset, _cleaned = filtered_examples(project, filter_params(request.GET))
        plan = plan_bulk(project, data.get("action", ""), data.get("to_tier", ""), data.get("to_stage", ""))
    except ReviewError as exc:  # the action or its target: asked again on the same page, never a dead end
        return render(request, "curation/bulk_confirm.html", {**context, "error": str(exc), "ask": True}, status=400)
    except Invalid as exc:  # the filter
        return render(request, "curation/bulk_confirm.html", {**context, "errors": exc.errors}, status=400)
    status = 200
    if request.method == "POST":
        expected = parse_whole(data.get("expected"))
        expected = -1 if expected is None else expected
        try:
            done = apply_bulk(
                project,
                request.user,
                queryset,
                plan,
                expected=expected,
                filter_description={k: kept.getlist(k) for k in kept},
            )
        except BulkCountChanged as exc:
            context["changed"] = exc
            status = 409
        except ReviewError as exc:
            context["error"] = str(exc)
            status = 400
        else:
            messages.success(request, f"{plan.describe(done.count, done=True)} in {done.seconds:.2f} s.")
            return redirect(context["queue_url"])
    count = queryset.count()
    context.update({"plan": plan, "count": count, "description": plan.describe(count)})
    return render(request, "curation/bulk_confirm.html", context, status=status)


def _filter_items(kept: QueryDict) -> list[tuple[str, str]]:
    return [(key, ", ".join(kept.getlist(key))) for key in kept if key != "order"]


BULK_PAST = {"approve": "approved", "reject": "rejected", "tier": "set the tier of", "stage": "moved"}


def _undo_offer(project, user):
    """The reviewer's latest bulk action that can still be undone, with words for the banner."""
    if not can(project, Role.REVIEWER):
        return None
    action = undoable_bulk(project, user)
    if action is not None:
        noun = f"{action.count:,} example{'' if action.count == 1 else 's'}"
        target = f" to {action.target}" if action.target else ""
        action.summary = f"You {BULK_PAST.get(action.action, action.action)} {noun}{target}"
    return action


@login_required
@require_POST
def bulk_undo(request, slug, bulk_id):
    """Undo a bulk action: every example it changed and nobody changed since gets its values back."""
    project = project_for(request.user, slug, Role.REVIEWER)
    action = get_object_or_404(BulkAction, project=project, pk=bulk_id)
    queue_url = f"{reverse('review-queue', args=[slug])}?{filter_params(request.GET).urlencode()}"
    try:
        done = undo_bulk(action, request.user)
    except ReviewError as exc:
        messages.error(request, f"Not undone: {exc}")
    else:
        messages.success(request, done.describe())
    return redirect(queue_url)

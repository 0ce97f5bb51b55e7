"""The review queue: the shared filter in the URL, keyset pages, lazy counts, bulk actions by filter.

What the pages show is read by ``curation.pages.queue``."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from curation.access import can, project_for
from curation.fragments import render_page
from curation.models import BulkAction, Role
from curation.pages.queue import (
    filter_choices,
    filter_params,
    queue_page,
    range_inputs,
    status_counts,
    with_params,
)
from curation.services.errors import Invalid
from curation.services.inputs import parse_whole
from curation.services.review import (
    DEFAULT_ORDER,
    BulkCountChanged,
    ReviewError,
    apply_bulk,
    filtered_examples,
    plan_bulk,
    undo_bulk,
    undoable_bulk,
)

QUEUE_SHORTCUTS = [
    ("j / k", "Move down / up the list"),
    ("o or Enter", "Open the highlighted example"),
    ("x", "Tick the highlighted example for “Apply to selected”"),
    ("n", "Next for me: lease the next free pending example of this filter"),
    ("/", "Search"),
    ("?", "Show or hide this list"),
]


@login_required
def review_queue(request, slug):
    project = project_for(request.user, slug)
    kept = filter_params(request.GET)
    errors, page = {}, None
    try:
        page = queue_page(project, request.GET)
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
    return render_page(
        request,
        "curation/review_queue.html",
        context,
        fragments={"results": "curation/partials/queue_results.html"},
        status=400 if errors else 200,
        push=True,
    )


@login_required
def queue_counts(request, slug):
    """Per-status counts for the current filter (the slow part of a page, so loaded after it)."""
    project = project_for(request.user, slug)
    try:
        counts = status_counts(project, request.GET)
    except Invalid:
        return render(request, "curation/partials/queue_counts.html", {"project": project, "broken": True})
    return render(request, "curation/partials/queue_counts.html", {"project": project, **counts})


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

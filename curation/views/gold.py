"""The gold set page: list, search, add, edit, confirm imported candidates; the contamination list.

Readers never see it (``gold.READS_GOLD``): the same rule the API follows.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from curation.access import can, project_for
from curation.excerpts import with_prompt_excerpts
from curation.forms import error_line
from curation.fragments import render_page
from curation.models import GoldItem, Role
from curation.services import gold, hygiene
from curation.services.errors import Invalid
from curation.services.inputs import parse_id
from curation.services.review import ReviewError, keyset_page

PAGE_SIZE = 50
# The gold set's fields -> this page's inputs (its prompt box is "prompt").
PAGE_FIELDS = {"prompt_text": "prompt"}


def _page_of(queryset, after):
    """Keyset page by id (newest first); a broken cursor (a hand-edited link) starts over."""
    try:
        return keyset_page(queryset, "newest", after or None, PAGE_SIZE)
    except Invalid:
        return keyset_page(queryset, "newest", None, PAGE_SIZE)


def _gold_page(request, project, status=200, **extra):
    query, state, purpose = request.GET.get("q", ""), request.GET.get("state", ""), request.GET.get("purpose", "")
    items = gold.search_gold(project, query, state, purpose)
    page = _page_of(items, request.GET.get("after"))
    context = {
        "project": project,
        "page": page,
        "shared_prompt": with_prompt_excerpts(page.items, text_attr=None),
        "q": query,
        "state": state,
        "purpose": purpose,
        "purposes": GoldItem.Purpose.choices,
        **project.gold_items.aggregate(
            n_gold=Count("id"),
            n_dev=Count("id", filter=Q(purpose=GoldItem.Purpose.DEV)),
            n_candidates=Count("id", filter=Q(confirmed=False)),
        ),
        "n_contaminated": _contamination(project).count(),
        "can_act": can(project, Role.REVIEWER),
        "typed": {},
        **extra,
    }
    fragments = {"rows": "curation/partials/gold_rows.html"}
    return render_page(request, "curation/gold.html", context, fragments=fragments, status=status, push=True)


@login_required
def gold_list(request, slug):
    return _gold_page(request, project_for(request.user, slug, gold.READS_GOLD))


@login_required
@require_POST
def gold_add(request, slug):
    project = project_for(request.user, slug, Role.REVIEWER)
    data = request.POST
    try:
        item = gold.create_gold_item(
            project,
            request.user,
            prompt_text=data.get("prompt", ""),
            reference=data.get("reference", ""),
            label=data.get("label", ""),
            purpose=data.get("purpose", ""),
        )
    except ReviewError as exc:
        return _gold_page(request, project, status=400, add_error=error_line(exc, PAGE_FIELDS), typed=data)
    use = "a dev item (selection reads it)" if item.purpose == GoldItem.Purpose.DEV else "a test item"
    messages.success(request, f"Added to the gold set as {use}; the prompt is locked out of training.")
    return redirect("gold-list", slug=slug)


@login_required
@require_POST
def gold_edit(request, slug, pk):
    project = project_for(request.user, slug, Role.REVIEWER)
    item = get_object_or_404(GoldItem.objects.select_related("project"), project=project, pk=pk)
    try:
        gold.update_gold_item(
            item,
            {
                "reference": request.POST.get("reference", ""),
                "label": request.POST.get("label", ""),
                "purpose": request.POST.get("purpose", item.purpose),
            },
            by=request.user,
        )
    except ReviewError as exc:
        error = error_line(exc, PAGE_FIELDS)
        return _gold_page(request, project, status=400, edit_error=error, edit_id=item.pk, typed=request.POST)
    messages.success(request, "Gold item saved.")
    return redirect(reverse("gold-list", args=[slug]) + f"#gold-{item.pk}")


@login_required
@require_POST
def gold_confirm(request, slug):
    project = project_for(request.user, slug, Role.REVIEWER)
    ids = [i for i in map(parse_id, request.POST.getlist("item")) if i is not None]
    if not ids:
        messages.error(request, "item: tick the candidates to confirm.")
    else:
        done = gold.confirm_candidates(project, ids, by=request.user)
        messages.success(request, f"Confirmed {done} gold candidate{'s' if done != 1 else ''}.")
    return redirect(reverse("gold-list", args=[slug]) + "?state=candidates")


@login_required
@require_POST
def gold_discard(request, slug, pk):
    project = project_for(request.user, slug, Role.REVIEWER)
    item = get_object_or_404(GoldItem, project=project, pk=pk)
    try:
        gold.discard_candidate(item, by=request.user)
    except ReviewError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Candidate discarded; its prompt may be trained on again.")
    return redirect(reverse("gold-list", args=[slug]) + "?state=candidates")


@login_required
def gold_contamination(request, slug):
    project = project_for(request.user, slug, gold.READS_GOLD)
    examples = _contamination(project).select_related("prompt", "stage", "tier")
    page = _page_of(examples, request.GET.get("after"))
    why = hygiene.prompt_evidence(project, {ex.prompt for ex in page.items})
    for ex in page.items:
        ex.evidence = why.get(ex.prompt_id, "")
    shared = with_prompt_excerpts(page.items, text_attr=None)
    return render(
        request, "curation/gold_contamination.html", {"project": project, "page": page, "shared_prompt": shared}
    )


def _contamination(project):
    hygiene.ensure_current(project)  # the flags a snapshot built now would read
    return gold.contamination(project)

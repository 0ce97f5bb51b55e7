"""The focus view: one example, its context, and every reviewer action (keyboard first).

What the page shows is read by ``curation.pages.focus``; every action is ``review.apply``."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from curation.access import can, project_for
from curation.forms import error_line
from curation.fragments import fragment_of, render_page
from curation.models import Example, Role
from curation.pages.focus import conflict_rows, example_for, focus_context, focus_url, navigation
from curation.pages.queue import filter_params, with_params
from curation.services import review
from curation.services.errors import Invalid
from curation.services.inputs import by_id, parse_id
from curation.services.review import DEFAULT_ORDER, ReviewError, StaleExample, adjacent, filtered_examples
from curation.services.teacher import heatmap_for

# (key, what it does): the ? overlay lists these; templates put the same keys in data-shortcut.
SHORTCUTS = [
    ("a", "Approve, then the next example"),
    ("r", "Reject, then the next example"),
    ("e", "Edit the response (Ctrl+Enter saves, Esc cancels)"),
    ("1 – 5", "Grade 1 to 5 (0 clears)"),
    ("t", "Set the tier"),
    ("]", "Promote to the next stage"),
    ("[", "Demote to the previous stage"),
    ("l", "Set the label (classification)"),
    ("g", "Add to the gold set"),
    ("c", "Comment"),
    ("z", "Undo your last decision (named in the banner)"),
    ("j", "Next example"),
    ("k", "Previous example"),
    ("n", "Next for me (a leased, unclaimed example)"),
    ("u", "Back to the queue"),
    ("?", "Show or hide this list"),
]
READER_SHORTCUTS = {"j", "k", "u", "?"}
UNDO_NOTES = {"pending": "it is pending again", "approved": "it is approved again", "rejected": "it is rejected again"}
# A classification's number keys choose the label shown with that number (as in Prodigy and
# Label Studio), so its grades move to Shift + digit; its label is changed in one place only.
CLASSIFICATION_KEYS = {
    "e": None,
    "l": None,
    "1 – 5": ("Shift+1 – 5", "Grade 1 to 5 (Shift+0 clears)"),
}
LABEL_KEYS = ("1 – 9", "Set the label shown with that number")
ADVANCING = {"approve", "reject"}


def _shortcuts(project):
    if not can(project, Role.REVIEWER):
        return [s for s in SHORTCUTS if s[0] in READER_SHORTCUTS]
    if project.is_classification:
        keys = [LABEL_KEYS]
        for key, what in SHORTCUTS:
            replaced = CLASSIFICATION_KEYS.get(key, (key, what))
            if replaced:
                keys.append(replaced)
        return keys
    return SHORTCUTS


def _render(request, project, example, status=200, push=False, **extra):
    now = timezone.now()
    can_act = can(project, Role.REVIEWER)
    context = {
        **focus_context(project, example, request.user, request.GET, now),
        "can_act": can_act,
        "undoable": review.undoable_verdict(example, request.user, now) if can_act else None,
        "shortcuts": _shortcuts(project),
        # data-shortcut prefix and shown key of the grade buttons (Shift in a classification)
        "grade_prefix": "shift+" if project.is_classification else "",
        "grade_key_label": "⇧" if project.is_classification else "",
        "typed": {},
        **extra,
    }
    # The gold form's reference: what the reviewer typed, else the gold item's, else the response.
    typed, gold = context["typed"], context["gold"]
    context["reference_initial"] = (
        typed["reference"] if "reference" in typed else gold.reference if gold else context["example"].response_text
    )
    fragments = {"focus": "curation/partials/focus.html"}
    return render_page(request, "curation/focus.html", context, fragments=fragments, status=status, push=push)


@login_required
def focus(request, slug, pk):
    project = project_for(request.user, slug)
    return _render(request, project, example_for(project, pk), push=True)


@login_required
def heatmap(request, slug, pk):
    project = project_for(request.user, slug)
    example = example_for(project, pk)
    context = {"project": project, "example": example, "heatmap": heatmap_for(example)}
    return render_page(
        request, "curation/heatmap_page.html", context, fragments={"heatmap": "curation/partials/heatmap.html"}
    )


# ------------------------------------------------------------------ actions
def _decision_note(done, verb):
    if done.conflict:
        return f"{verb}: this disagrees with the other reviewer, so the example is now a conflict to settle."
    if done.status == "pending" and done.approvals == 1:
        return "Approved (1 of 2): a second reviewer must approve it too."
    return f"{verb}."


# What each key's action says once done (the rules are ``review.apply``'s).
NOTES = {
    "approve": lambda done: _decision_note(done, "Approved"),
    "reject": lambda done: _decision_note(done, "Rejected"),
    "edit": lambda done: "Saved your edit; the teacher's original is kept below.",
    "grade": lambda done: f"Graded {done.grade}." if done.grade else "Grade cleared.",
    "tier": lambda done: f"Tier set to {done.tier.name}." if done.tier else "Tier cleared.",
    "stage": lambda done: f"Moved to {done.stage.name}.",
    "promote": lambda done: f"Promoted to {done.stage.name}.",
    "demote": lambda done: f"Demoted to {done.stage.name}.",
    "label": lambda done: f"Label set to {done.label}.",
    "comment": lambda done: "Comment added.",
    "gold": lambda done: "Added to the gold set: this prompt is now locked out of training.",
}
# ``review.apply``'s fields -> this page's form inputs (the edit box is "response").
FORM_FIELDS = {name: name for name in ("comment", "grade", "tier", "stage", "label", "reference")} | {
    "text": "response"
}
TYPED_FIELDS = ("response", "comment", "reference", "label")


def _decide(example, user, action, post):
    """``review.apply`` with this page's form: the version it carried, and its field names."""
    version = parse_id(post.get("version"))
    if version is None:
        raise ReviewError("the form lost the example's version; reload the page.", "version")
    if action == "edit" and example.project.is_classification:  # a classification's answer is its label
        action = "label"
    fields = {name: post[form_name] for name, form_name in FORM_FIELDS.items() if form_name in post}
    done = review.apply(example, user, action, version, **fields).example
    return NOTES[action](done)


@login_required
@require_POST
def act(request, slug, pk, action):
    project = project_for(request.user, slug, Role.REVIEWER)
    if action not in NOTES:
        raise Http404("No such action.")
    example = example_for(project, pk)
    typed = {k: request.POST[k] for k in TYPED_FIELDS if k in request.POST}
    try:
        notice = _decide(example, request.user, action, request.POST)
    except StaleExample as stale:
        return _render(
            request,
            project,
            example_for(project, pk),
            status=409,
            stale=stale,
            conflict_rows=conflict_rows(stale),
            typed=typed,
            open_form=action,
        )
    except ReviewError as exc:
        error = error_line(exc, FORM_FIELDS)
        return _render(
            request, project, example_for(project, pk), status=400, error=error, typed=typed, open_form=action
        )
    decided = example_for(project, pk)
    verdict = review.undoable_verdict(decided, request.user)
    undo = _undo_banner(project, decided, verdict, request.GET) if verdict else None
    target = decided
    if action in ADVANCING:
        following = _after_decision(request, project, decided)
        if following is None:
            messages.success(request, f"{notice} That was the last example of this filter.")
            queue_url = f"{reverse('review-queue', args=[slug])}?{filter_params(request.GET).urlencode()}"
            if fragment_of(request):  # htmx asked for the next example's fragment: send it to the queue
                return HttpResponse(status=204, headers={"HX-Redirect": queue_url})
            return redirect(queue_url)
        target = example_for(project, following.pk)
    if fragment_of(request) != "focus":
        messages.success(request, f"{notice} (#{decided.pk})")
        return redirect(focus_url(project, target, request.GET))
    response = _render(request, project, target, notice=notice, decided=decided, undo=undo)
    if target.pk != example.pk:
        response["HX-Push-Url"] = focus_url(project, target, request.GET)
    return response


def _undo_banner(project, example, verdict, params) -> dict:
    """What the banner's Undo button posts: the decision, and the version it left."""
    query = filter_params(params).urlencode()
    return {
        "url": reverse("review-undo", args=[project.slug, example.pk]) + (f"?{query}" if query else ""),
        "verdict": verdict.pk,
        "version": example.version,
        "example": example,
        "prompt": _prompt_line(example),
    }


def _prompt_line(example) -> str:
    """The start of the example's prompt (its last user turn for a chat), to name it in a banner."""
    prompt = example.prompt
    if prompt.messages:
        users = [m.get("content", "") for m in prompt.messages if isinstance(m, dict) and m.get("role") == "user"]
        return str(users[-1] if users else prompt.messages[-1].get("content", ""))
    return prompt.text


@login_required
@require_POST
def undo(request, slug, pk):
    """Take back this reviewer's last decision on the example (the banner's Undo, or ``z``)."""
    project = project_for(request.user, slug, Role.REVIEWER)
    example = example_for(project, pk)
    try:
        done = review.undo_decision(
            example, request.user, parse_id(request.POST.get("verdict")), parse_id(request.POST.get("version"))
        )
    except StaleExample as stale:
        return _render(
            request, project, example_for(project, pk), status=409, stale=stale, conflict_rows=conflict_rows(stale)
        )
    except ReviewError as exc:
        return _render(request, project, example_for(project, pk), status=400, error=str(exc))
    note = done.description
    if "status" in (done.verdict.changes or {}):
        note += f": {UNDO_NOTES.get(done.example.status, done.example.status)}"
    note += "."
    if fragment_of(request) != "focus":
        messages.success(request, note)
        return redirect(focus_url(project, done.example, request.GET))
    response = _render(request, project, example_for(project, pk), notice=note)
    response["HX-Push-Url"] = focus_url(project, done.example, request.GET)
    return response


def _after_decision(request, project, example):
    queryset, order = navigation(project, request.GET)
    if queryset is None:
        return None
    if request.GET.get("lease") == "1":
        return review.claim_next(project, request.user, queryset, order, after=example)
    return adjacent(queryset, order, example, +1)


@login_required
@require_POST
def next_for_me(request, slug):
    """Lease the next free pending example of the filter to this reviewer and open it."""
    project = project_for(request.user, slug, Role.REVIEWER)
    kept = filter_params(request.GET)
    queue_url = f"{reverse('review-queue', args=[slug])}?{kept.urlencode()}"
    try:
        queryset, cleaned = filtered_examples(project, filter_params(request.GET))
    except Invalid as exc:
        messages.error(request, f"The filter is broken: {exc}")
        return redirect(queue_url)
    after_id = request.POST.get("after", "")
    after = by_id(Example.objects.filter(project=project), after_id)
    claimed = review.claim_next(project, request.user, queryset, cleaned.get("order") or DEFAULT_ORDER, after=after)
    if claimed is None:
        messages.info(
            request,
            "Nothing left for you in this filter: every pending example is done or leased to "
            "another reviewer right now.",
        )
        return redirect(queue_url)
    return redirect(reverse("review-focus", args=[slug, claimed.pk]) + "?" + with_params(kept, lease="1"))

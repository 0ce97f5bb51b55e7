"""Personal data on the focus view: the prompt's spans highlighted, and a reviewer's decision on a span."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from curation.access import project_for
from curation.models import Example, Role
from curation.services import hygiene
from curation.services.errors import Invalid
from curation.services.gold import hide_gold_from_readers
from curation.services.inputs import by_id


@login_required
@require_POST
def decide_span(request, slug, pk):
    """Mark a span of the example's prompt as personal data or not. A span is given by offsets
    (``part``, ``start``, ``end``) or, for one the detector missed, by the exact ``text`` to mark."""
    project = project_for(request.user, slug, Role.REVIEWER)
    example = by_id(hide_gold_from_readers(project, Example.objects.filter(project=project)), pk)
    if example is None:
        from django.http import Http404

        raise Http404("No such example.")
    post = request.POST
    part, start, end = post.get("part", "-1"), post.get("start"), post.get("end")
    if post.get("text"):
        found = _find(example.prompt, part, post["text"])
        start, end = found if found else (None, None)
    try:
        hygiene.decide_span(
            example.prompt,
            request.user,
            part=part,
            start=start,
            end=end,
            entity=post.get("entity", ""),
            is_pii=post.get("is_pii") == "true",
        )
    except Invalid as exc:
        messages.error(request, "Not recorded: " + str(exc))
    else:
        messages.success(request, "Recorded; redaction follows your decision from now on.")
    return redirect("review-focus", slug=project.slug, pk=example.pk)


def _find(prompt, part, text):
    try:
        index = int(part)
    except (TypeError, ValueError):
        return None
    if index == -1:
        content = "" if prompt.messages else (prompt.text or "")
    else:
        messages_ = prompt.messages or []
        content = str(messages_[index].get("content", "")) if 0 <= index < len(messages_) else ""
    at = content.find(text) if text else -1
    return (at, at + len(text)) if at >= 0 else None

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.urls import reverse

from curation.access import project_for
from curation.forms import ImportForm
from curation.fragments import fragment_of, render_page
from curation.models import Role
from curation.services.datasets import ImportRejected, import_prompts
from curation.services.teacher import PromptFilter, id_ranges, matching_prompts

# Longer id lists go by "imported, not answered yet" instead (the link stays a sane length).
MAX_IDS_TEXT = 1000


@login_required
def import_page(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    result, rejected = None, None
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = import_prompts(
                    project,
                    upload,
                    filename=upload.name,
                    fmt=form.cleaned_data["format"] or None,
                    skip_bad_lines=form.cleaned_data["skip_bad_lines"],
                    size=upload.size,
                    by=request.user,
                )
            except ImportRejected as exc:
                rejected = str(exc)
        else:  # no file at all: the form's own words, shown where the result goes
            rejected = " ".join(message for errors in form.errors.values() for message in errors)
    else:
        form = ImportForm()
    context = {"project": project, "form": form, "result": result, "rejected": rejected}
    if result is not None and result.ok:
        context.update(_next_links(project, result))
    failed = rejected or (result is not None and not result.ok)
    fragments = {"result": "curation/partials/import_result.html"}
    # htmx only swaps 2xx responses by default; the fragment itself shows the errors.
    status = 400 if failed and fragment_of(request) not in fragments else 200
    return render_page(request, "curation/import.html", context, fragments=fragments, status=status)


def _next_links(project, result) -> dict:
    """Where the new prompts go next: Generate on exactly them (not answered ones again), and
    the gold candidates to confirm."""
    generate = reverse("gen-launch", args=[project.slug])
    # Gold prompts are never answered into the pool: link what Generate would take.
    answerable = (
        list(matching_prompts(project, PromptFilter(ids=tuple(result.prompt_ids)), None).values_list("id", flat=True))
        if result.prompt_ids
        else []
    )
    n_answerable = len(answerable)
    ids = id_ranges(answerable)
    query = {"scope": "missing"} | ({"ids": ids} if len(ids) <= MAX_IDS_TEXT else {"source": "imported"})
    return {
        "generate_url": f"{generate}?{urlencode(query)}" if n_answerable > 0 else None,
        "n_answerable": n_answerable,
        "gold_url": reverse("gold-list", args=[project.slug]) + "?state=candidates" if result.gold_candidates else None,
    }

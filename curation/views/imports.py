from django.contrib.auth.decorators import login_required

from curation.access import project_for
from curation.forms import ImportForm
from curation.fragments import fragment_of, render_page
from curation.models import Role
from curation.services.datasets import ImportRejected, import_prompts


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
                )
            except ImportRejected as exc:
                rejected = str(exc)
        else:  # no file at all: the form's own words, shown where the result goes
            rejected = " ".join(message for errors in form.errors.values() for message in errors)
    else:
        form = ImportForm()
    context = {"project": project, "form": form, "result": result, "rejected": rejected}
    failed = rejected or (result is not None and not result.ok)
    fragments = {"result": "curation/partials/import_result.html"}
    # htmx only swaps 2xx responses by default; the fragment itself shows the errors.
    status = 400 if failed and fragment_of(request) not in fragments else 200
    return render_page(request, "curation/import.html", context, fragments=fragments, status=status)

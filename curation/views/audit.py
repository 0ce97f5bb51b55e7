"""The project's audit log (engineers): filters by person, kind and date, and a JSONL export."""

import json

from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from curation.access import project_for
from curation.forms import AuditFilterForm, add_errors
from curation.models import Role
from curation.services import audit
from curation.services.errors import Invalid


@login_required
def audit_log(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    form = AuditFilterForm(request.GET, kinds=audit.KINDS)
    form.is_valid()
    rows, older = [], None
    try:
        filters = audit.parse_filters(request.GET)
    except Invalid as exc:
        add_errors(form, exc)
    else:
        rows, older = audit.page(project, filters)
    query = request.GET.copy()
    query.pop("before", None)
    context = {"project": project, "form": form, "rows": rows, "older": older, "query": query.urlencode()}
    return render(request, "curation/audit.html", context, status=400 if form.errors else 200)


@login_required
def audit_export(request, slug):
    """The whole log under the page's filters, one JSON object per line, newest first."""
    project = project_for(request.user, slug, Role.ENGINEER)
    try:
        filters = audit.parse_filters(request.GET)
    except Invalid as exc:
        return render(
            request,
            "curation/audit.html",
            {"project": project, "form": _form_with(request, exc), "rows": [], "older": None, "query": ""},
            status=400,
        )
    lines = (json.dumps(audit.as_json(entry), default=str) + "\n" for entry in audit.entries(project, filters))
    response = StreamingHttpResponse(lines, content_type="application/jsonl; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{project.slug}-{stamp}.jsonl"'
    return response


def _form_with(request, exc):
    form = AuditFilterForm(request.GET, kinds=audit.KINDS)
    form.is_valid()
    add_errors(form, exc)
    return form

"""The data-hygiene settings page (engineers): thresholds, PII options, the redaction audit trail."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from curation.access import project_for
from curation.models import Role
from curation.services import hygiene
from curation.services.errors import Invalid

LABELS = {
    "near_threshold": "Near-duplicate of gold at word-bigram Jaccard of at least",
    "semantic": "Also compare meaning (sentence embeddings; slower)",
    "semantic_threshold": "Semantic duplicate of gold at cosine similarity of at least",
    "clusters": "Keep duplicate clusters of the pool up to date",
    "cluster_threshold": "Same cluster at word-bigram Jaccard of at least",
    "pii_detect": "Detect personal data on import",
    "redact_teacher": "Redact personal data before prompts go to a remote (OpenAI-compatible) teacher",
    "redact_snapshots": "Redact personal data in new snapshots by default",
}


@login_required
def hygiene_settings(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    errors = {}
    if request.method == "POST":
        data = {name: request.POST.get(name, "") for name in hygiene.DEFAULTS}
        for name in ("semantic", "clusters", "pii_detect", "redact_teacher", "redact_snapshots"):
            data[name] = name in request.POST
        try:
            hygiene.update_settings(project, data)
        except Invalid as exc:
            errors = exc.errors
        else:
            messages.success(request, "Saved; near-duplicate flags and clusters were checked again.")
            return redirect("project-hygiene", slug=project.slug)
    current = {**hygiene.settings_of(project), **({k: request.POST.get(k) for k in hygiene.DEFAULTS} if errors else {})}
    fields = [
        {"name": name, "label": LABELS[name], "value": current[name], "switch": isinstance(default, bool)}
        for name, default in hygiene.DEFAULTS.items()
    ]
    context = {"project": project, "fields": fields, "errors": errors, "log": hygiene.redaction_log(project)[:50]}
    return render(request, "curation/hygiene_settings.html", context, status=400 if errors else 200)

"""The data-hygiene settings page (engineers): thresholds, PII options, the redaction audit trail."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from curation.access import project_for
from curation.forms import posted_settings, settings_fields
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
        try:
            hygiene.update_settings(project, posted_settings(request.POST, hygiene.DEFAULTS))
        except Invalid as exc:
            errors = exc.errors
        else:
            messages.success(request, "Saved; near-duplicate flags and clusters were checked again.")
            return redirect("project-hygiene", slug=project.slug)
    fields = settings_fields(hygiene.DEFAULTS, LABELS, hygiene.settings_of(project), request.POST if errors else None)
    context = {"project": project, "fields": fields, "errors": errors, "log": hygiene.redaction_log(project)[:50]}
    return render(request, "curation/hygiene_settings.html", context, status=400 if errors else 200)

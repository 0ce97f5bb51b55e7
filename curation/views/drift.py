"""The drift-monitoring settings page (engineers): thresholds per signal, window size, on/off."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from curation.access import project_for
from curation.forms import posted_settings, settings_fields
from curation.models import DriftReport, Role
from curation.services import drift
from curation.services.errors import Invalid

LABELS = {
    "enabled": "Check captured production traffic for drift",
    "window_size": "Captured requests per window",
    "embedding_threshold": "Flag when the share of novel prompts (unlike any training prompt) reaches",
    "length_threshold": "Flag when the length shift (Kolmogorov-Smirnov statistic) reaches",
    "label_threshold": "Flag when the label shift (total variation distance) reaches",
    "confidence_threshold": "Flag when the student's mean confidence drops by",
}


@login_required
def drift_settings(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    errors = {}
    if request.method == "POST":
        try:
            drift.update_settings(project, posted_settings(request.POST, drift.DEFAULTS))
        except Invalid as exc:
            errors = exc.errors
        else:
            messages.success(request, "Saved; the next drift windows use these settings.")
            return redirect("project-drift", slug=project.slug)
    fields = settings_fields(drift.DEFAULTS, LABELS, drift.settings_of(project), request.POST if errors else None)
    reports = DriftReport.objects.filter(project=project).select_related("snapshot")[:20]
    context = {"project": project, "fields": fields, "errors": errors, "reports": reports}
    return render(request, "curation/drift_settings.html", context, status=400 if errors else 200)

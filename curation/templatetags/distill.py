"""Template tags for the distillation pages: the job panels and the dashboard card.

The generic job page renders ``partials/job_<kind>.html`` with only the job in its
context, so those panels fetch what they show through these tags.
"""

from django import template

from curation import presenters
from curation.models import EvalReport, ModelVersion
from curation.services.training import gate_sign

register = template.Library()


@register.filter
def gate_sign_of(metric):
    """ "≤" or "≥": how a gate on ``metric`` compares with its threshold (``training.gate_sign``)."""
    return gate_sign(metric)


@register.simple_tag
def distill_panel(job):
    return presenters.distill_panel(job)


@register.simple_tag
def evaluation_panel(job):
    version = ModelVersion.objects.filter(pk=job.params.get("model_version")).first()
    return {"version": version, "report": EvalReport.objects.filter(job=job).first()}


@register.inclusion_tag("curation/partials/dashboard_models.html")
def latest_models(project, is_engineer=False):
    finals = list(ModelVersion.objects.filter(project=project, is_final=True).select_related("job")[:5])
    reports = {}
    for report in EvalReport.objects.filter(model_version__in=finals).order_by(
        "model_version_id", "-created_at", "-id"
    ):
        reports.setdefault(report.model_version_id, report)
    return {"project": project, "rows": [(v, reports.get(v.pk)) for v in finals], "is_engineer": is_engineer}


@register.filter
def pct(value, digits=0):
    """0.8734 -> "87%" (None -> "–")."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "–"
    return f"{value * 100:.{int(digits)}f}%"


@register.filter
def times(value):
    """A speed-up: 3.21 -> "×3.2"."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "–"
    return f"×{value:.2f}" if value < 10 else f"×{value:.0f}"


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key)

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


@register.filter
def duration(seconds):
    """45 -> "45 s", 200 -> "3 min", 4000 -> "1 h 7 min" (None -> "–")."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return "–"
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {round(seconds % 3600 / 60)} min"


@register.filter
def points(value):
    """A difference of shares in points: 0.045 -> "+4.5" (None -> "–")."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "–"
    return f"{value * 100:+.1f}"


@register.simple_tag
def experiment_of(job):
    """The experiment a preparation job belongs to."""
    from curation.models import Experiment

    return Experiment.objects.filter(job=job).first()

"""Template tags for the distillation pages: the job panels and the dashboard card.

The generic job page renders ``partials/job_<kind>.html`` with only the job in its
context, so those panels fetch what they show through these tags; the reading itself is
``curation.pages.training`` / ``curation.pages.experiments``'s.
"""

from django import template

from curation.pages import experiments, training
from curation.services.training import gate_sign

register = template.Library()


@register.filter
def gate_sign_of(metric):
    """ "≤" or "≥": how a gate on ``metric`` compares with its threshold (``training.gate_sign``)."""
    return gate_sign(metric)


@register.simple_tag
def distill_panel(job):
    return training.distill_panel(job)


@register.simple_tag
def evaluation_panel(job):
    return training.evaluation_panel(job)


@register.inclusion_tag("curation/partials/dashboard_models.html")
def latest_models(project, is_engineer=False):
    return {"project": project, "rows": training.latest_models(project), "is_engineer": is_engineer}


@register.filter
def pct(value, digits=0):
    """0.8734 -> "87%" (None -> "–")."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "–"
    return f"{value * 100:.{int(digits)}f}%"


@register.filter
def as_kind(value, kind):
    """A report figure by its kind: "pct" -> ``pct``, else a speed-up (``times``)."""
    return pct(value) if kind == "pct" else times(value)


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
    return experiments.experiment_of(job)

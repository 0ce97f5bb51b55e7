import math

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma

from curation.excerpts import prompt_source
from curation.markdown import render_markdown
from curation.pages import focus as pages_focus
from curation.services import gold

register = template.Library()


@register.filter
def sees_gold(project):
    """Whether the member looking at ``project`` may see its gold set (``gold.sees_gold``)."""
    return gold.sees_gold(project)


@register.filter
def markdown(source):
    """Guidelines as HTML: escaped first, then a small whitelist of Markdown (see curation.markdown)."""
    return render_markdown(source or "")


@register.filter
def confidence(mean_logprob):
    """The teacher's geometric-mean token probability, as a percentage ("–" when unknown)."""
    if mean_logprob is None:
        return "–"
    return f"{100 * math.exp(mean_logprob):.0f}%"


@register.filter
def probability(p):
    return f"{100 * p:.1f}%" if p is not None else "–"


@register.filter
def prompt_excerpt(prompt_obj, length=160):
    """A one-line excerpt of a prompt: its text, or the last user turn of a chat."""
    return one_line(prompt_source(prompt_obj, getattr(prompt_obj, "text", "")), length)


@register.filter
def one_line(text, length=160):
    text = " ".join(str(text or "").split())
    return text if len(text) <= int(length) else text[: int(length) - 1] + "…"


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def ranked(distribution, limit=None):
    """A classification's {label: p} as [(label, p)], most probable first (``pages.focus.ranked``)."""
    return pages_focus.ranked(distribution, limit)


@register.filter
def distribution_line(distribution):
    """A label distribution on one line, most probable first: "billing 91.0%, account 3.0%" ("–" when none)."""
    rows = pages_focus.ranked(distribution)
    return ", ".join(f"{label} {probability(p)}" for label, p in rows) if rows else "–"


@register.filter
def probability_of(distribution, label):
    """The probability a label distribution gives ``label`` (None when it gives none, or is no distribution)."""
    return dict(pages_focus.ranked(distribution)).get(label)


# Snapshot and experiment statuses -> the job badge's CSS class (app.css ``.status.*``);
# the others (running, failed, cancelled) share the job's name.
STATUS_CSS = {"ready": "succeeded", "building": "running", "done": "succeeded", "preparing": "queued"}


@register.filter
def status_css(status):
    """The badge class of a snapshot's or an experiment's status."""
    return STATUS_CSS.get(status, status)


@register.filter
def bulk_title(bulk):
    """A bulk action's tooltip: how many examples, and the filter it applied ("" without one)."""
    if not bulk:
        return ""
    applied = "".join(f"{key}={','.join(map(str, values))} " for key, values in (bulk.filter or {}).items())
    return f"{intcomma(bulk.count)} examples, filter {applied}"

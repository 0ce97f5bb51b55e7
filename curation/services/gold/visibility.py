"""Who sees the gold set: one rule for the web pages and the API.

Readers (dataset clients, training pipelines) never see gold items (their references and
labels), gold prompts, prompts equal to them, or their examples: what is never trained on
must not be one page or one call away from a training job. Reviewers and engineers see
everything. ``READS_GOLD`` is the lowest role that sees gold; pages and endpoints that show
gold items require it, and listings of prompts or examples go through ``hide_gold_from_readers``.
"""

from __future__ import annotations

from curation.access import can
from curation.models import GoldItem, Prompt, Role
from curation.services.gold.guard import training_eligible

READS_GOLD = Role.REVIEWER


def sees_gold(project) -> bool:
    """Whether the member ``project_for`` looked ``project`` up for may see its gold set."""
    return can(project, READS_GOLD)


def hide_gold_from_readers(project, queryset):
    """``queryset`` (prompts or examples of ``project``) as its member may see it: for a reader,
    without gold prompts, the prompts equal to them and their examples."""
    if sees_gold(project):
        return queryset
    if queryset.model is Prompt:
        return queryset.exclude(content_hash__in=GoldItem.objects.filter(project=project).values("content_hash"))
    return training_eligible(queryset)

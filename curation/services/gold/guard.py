"""The gold guard: gold prompts, prompts equal to them after normalisation, and their near and
semantic duplicates never train.

One definition, in SQL on stored fields: an example is guarded when its prompt's
``content_hash`` is a gold item's of its project, or when the data-hygiene check flagged its
prompt as a near (or semantic) duplicate of a gold item (``Prompt.near_gold``, written by
``hygiene.refresh_contamination`` with its evidence). Stored hashes are the truth because
``Prompt.save`` recomputes the hash on every save (an edit in the admin too) and the
normalisation folds a chat of one user turn into its plain text (``curation.normalize``);
gold items take their prompt's hash. The snapshot builder, the curriculum board, the
queue's gold badge and the Gold page's contamination list all use these functions, so a
stage's "would go in a snapshot" on the board is what a snapshot of the stage holds.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from curation.models import Example, ExampleStatus, GoldItem


def _gold_of_same_prompt():
    """True for an example whose prompt's normalised hash is a gold item's of its project."""
    return Exists(
        GoldItem.objects.filter(project_id=OuterRef("project_id"), content_hash=OuterRef("prompt__content_hash"))
    )


def _near_gold():
    return Q(prompt__near_gold__isnull=False)


def training_eligible(queryset):
    """``queryset`` (examples) without the gold-guarded ones: what may enter a training snapshot."""
    return queryset.filter(~_gold_of_same_prompt() & ~_near_gold())


def gold_guarded(queryset):
    """The examples of ``queryset`` that the gold guard keeps out of training."""
    return queryset.filter(_gold_of_same_prompt() | _near_gold())


def exact_gold_guarded(queryset):
    """The examples of ``queryset`` whose prompt equals a gold prompt after normalisation."""
    return queryset.filter(_gold_of_same_prompt())


def with_gold_flag(queryset):
    """Annotate ``is_gold`` (the badge on queue rows and the focus view)."""
    return queryset.annotate(is_gold=_gold_of_same_prompt())


def contamination(project):
    """Examples still headed for training (not rejected) whose prompt is gold, equal to a gold prompt
    after normalisation, or a near or semantic duplicate of one (with ``prompt__near_gold`` as evidence)."""
    return gold_guarded(Example.objects.filter(project=project).exclude(status=ExampleStatus.REJECTED))

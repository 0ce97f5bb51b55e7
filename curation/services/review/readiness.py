"""``review.stage_ready``: a curriculum stage whose every example has been decided.

A stage (never the pool) is *review-ready* when it holds at least one example and none of
them is pending: each is approved or rejected, so a snapshot of it would not change under
further review. The event goes out on the transition into that state, once:
``Stage.review_ready`` records that it was sent (a conditional UPDATE, so two reviewers
finishing at once send it once) and is cleared when the stage has a pending example again
(a move into it, an undo, a second-pass conflict), which re-arms it.

Every path that changes an example's status or stage calls ``refresh`` inside its
transaction: single decisions (``decisions._save``), bulk actions and their undo.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from curation.models import Example, ExampleStatus, Stage
from curation.services import webhooks


def refresh(project, stage_ids=None) -> list[Stage]:
    """Update the ready flag of ``stage_ids`` (None: every stage of ``project``); the stages that became ready.

    One query when nothing changes: the stages with two EXISTS each, answered by the examples'
    (project, stage, status) index, so a decision in a stage of a million examples reads a few rows."""
    project_id = getattr(project, "pk", project)
    stages = Stage.objects.filter(project_id=project_id, is_pool=False)
    if stage_ids is not None:
        stages = stages.filter(pk__in=[pk for pk in stage_ids if pk is not None])
    examples = Example.objects.filter(project_id=project_id, stage_id=OuterRef("pk"))
    stages = list(
        stages.annotate(
            has_examples=Exists(examples), has_pending=Exists(examples.filter(status=ExampleStatus.PENDING))
        ).order_by("order", "id")
    )
    rearmed = [s.pk for s in stages if s.review_ready and not (s.has_examples and not s.has_pending)]
    if rearmed:
        Stage.objects.filter(pk__in=rearmed, review_ready=True).update(review_ready=False)
    became = []
    for stage in stages:
        if stage.review_ready or not stage.has_examples or stage.has_pending:
            continue
        # Conditional: of two transactions finishing the stage at once, one sends the event.
        if Stage.objects.filter(pk=stage.pk, review_ready=False).update(review_ready=True):
            stage.review_ready = True
            became.append(stage)
            total = Example.objects.filter(project_id=project_id, stage_id=stage.pk).count()
            webhooks.emit(
                project_id,
                "review.stage_ready",
                {"stage": {"id": stage.pk, "name": stage.name, "order": stage.order, "examples": total}},
            )
    return became

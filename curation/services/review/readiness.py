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

from django.db.models import Count, Q

from curation.models import Example, ExampleStatus, Stage
from curation.services import webhooks


def refresh(project, stage_ids=None) -> list[Stage]:
    """Update the ready flag of ``stage_ids`` (None: every stage of ``project``); the stages that became ready."""
    project_id = getattr(project, "pk", project)
    stages = Stage.objects.filter(project_id=project_id, is_pool=False)
    if stage_ids is not None:
        stages = stages.filter(pk__in=[pk for pk in stage_ids if pk is not None])
    stages = list(stages)
    if not stages:
        return []
    counts = {
        row["stage_id"]: row
        for row in Example.objects.filter(project_id=project_id, stage_id__in=[s.pk for s in stages])
        .values("stage_id")
        .annotate(total=Count("id"), pending=Count("id", filter=Q(status=ExampleStatus.PENDING)))
        .order_by()
    }
    became = []
    for stage in stages:
        row = counts.get(stage.pk, {"total": 0, "pending": 0})
        ready = row["total"] > 0 and row["pending"] == 0
        if ready and Stage.objects.filter(pk=stage.pk, review_ready=False).update(review_ready=True):
            stage.review_ready = True
            became.append(stage)
            webhooks.emit(
                project_id,
                "review.stage_ready",
                {"stage": {"id": stage.pk, "name": stage.name, "order": stage.order, "examples": row["total"]}},
            )
        elif not ready:
            Stage.objects.filter(pk=stage.pk, review_ready=True).update(review_ready=False)
    return became

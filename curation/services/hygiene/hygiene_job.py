"""The body of a data-hygiene job (``kind=hygiene``, queue default), launched for new prompts (an id
range) and prompts whose text changed (``changed``), whichever path made them: their personal-data
detection, the near-duplicate check against gold, and the pool's duplicate clusters. Idempotent: a
re-run detects and decides the same prompts again."""

from __future__ import annotations

from django.db.models import Q

from curation.models import Prompt
from curation.services import jobs
from curation.services.hygiene.clusters import refresh_clusters
from curation.services.hygiene.contamination import ensure_current
from curation.services.hygiene.pii import detect_prompts
from curation.services.hygiene.settings import settings_of

STEP = 2000


def run_hygiene_job(ctx: jobs.JobContext) -> jobs.JobOutcome:
    project = ctx.job.project
    first, last = int(ctx.params.get("first_id", 0)), int(ctx.params.get("last_id", 0))
    changed = [int(i) for i in ctx.params.get("changed", [])]
    ids = sorted(
        Prompt.objects.filter(Q(id__gte=first, id__lte=last) | Q(id__in=changed), project=project).values_list(
            "id", flat=True
        )
    )
    config = settings_of(project)
    found = 0
    if config["pii_detect"]:
        for lo in range(0, len(ids), STEP):
            found += detect_prompts(project, ids[lo : lo + STEP])
            ctx.progress(min(len(ids), lo + STEP), len(ids), phase="personal data")
            if ctx.cancelled():
                return jobs.JobOutcome(jobs.Status.CANCELLED, "Cancelled.")
    ctx.progress(phase="near-duplicates of gold", force=True)
    ensure_current(project, recheck=changed)
    clusters = 0
    if config["clusters"]:
        ctx.progress(phase="duplicate clusters", force=True)
        clusters = refresh_clusters(project)
    message = f"Checked {len(ids):,} new or changed prompt(s): {found:,} with personal data"
    message += f"; {clusters:,} duplicate cluster(s) in the pool." if config["clusters"] else "."
    return jobs.JobOutcome(message=message, metrics={"prompts": len(ids), "with_pii": found, "clusters": clusters})

"""Data hygiene: near-duplicates of gold (decontamination), duplicate clusters, personal data.

One service for every surface (snapshots, the board, the Gold page, the queue, the teacher jobs,
``manage.py check_contamination``/``import_gold`` and the API): ``contamination`` (exact, near and
semantic duplicates of gold items, with their evidence), ``clusters`` (near-duplicate clusters of
the pool), ``pii`` (detection, reviewers' decisions, redaction and its audit trail) and
``settings`` (per-project thresholds with defaults). The ML side is ``workers.hygiene``. Outside
code imports this package only.
"""

from django.db import transaction

from curation.services.hygiene.clusters import refresh_clusters
from curation.services.hygiene.contamination import (
    EXACT,
    NEAR,
    SEMANTIC,
    Decision,
    check_prompts,
    contaminated_prompts,
    ensure_current,
    evidence,
    examples_evidence,
    mark_for_recheck,
    prompt_evidence,
    refresh_contamination,
)
from curation.services.hygiene.hygiene_job import run_hygiene_job
from curation.services.hygiene.pii import (
    decide_span,
    detect_prompts,
    effective_spans,
    redact_for_snapshot,
    redact_for_teacher,
    redaction_log,
)
from curation.services.hygiene.settings import DEFAULTS, check_settings, settings_of


def update_settings(project, data: dict) -> dict:
    """Store checked settings; the checks that depend on them run again (contamination, clusters)."""
    changes = check_settings(data)
    before = settings_of(project)
    project.hygiene = {**(project.hygiene or {}), **changes}
    project.save(update_fields=["hygiene"])
    after = settings_of(project)
    if any(before[k] != after[k] for k in ("near_threshold", "semantic", "semantic_threshold")):
        refresh_contamination(project)
    if any(before[k] != after[k] for k in ("clusters", "cluster_threshold")):
        refresh_clusters(project)
    return after


def after_prompts_added(project, prompt_ids, *, by=None):
    """New prompts (an import, production capture, a gold item's or a pair loss's new prompt, the admin)
    get one data-hygiene job per batch (PII detection and clusters if on, the contamination check), in
    the background so an import of 100,000 prompts is not held up; queued when the caller's transaction
    commits. Returns the job, or None when the project has nothing to check. Whatever reads the flags
    still checks new prompts itself first (``ensure_current``): the job is the prompt path, not the guard."""
    prompt_ids = sorted(prompt_ids)
    if not prompt_ids:
        return None
    return _check_in_background(
        project, {"first_id": prompt_ids[0], "last_id": prompt_ids[-1], "count": len(prompt_ids)}, by
    )


def after_prompts_changed(project, prompt_ids, *, by=None):
    """Prompts whose text or turns changed (an edit in the admin): their flags and spans were decided on
    the old text. They are noted for the next ``ensure_current`` (the guard's safety net) and get a
    data-hygiene job like new prompts; returns the job or None."""
    prompt_ids = sorted(set(prompt_ids))
    if not prompt_ids:
        return None
    mark_for_recheck(project, prompt_ids)
    return _check_in_background(project, {"changed": prompt_ids, "count": len(prompt_ids)}, by)


def _check_in_background(project, params: dict, by):
    """Launch the job, or widen the project's hygiene job still waiting in the queue to cover these prompts
    too (a client capturing batch after batch gets one job per wait, not a backlog of whole-pool checks).
    The queued job's row is locked until the caller commits, so its worker reads the widened params."""
    from curation.models import GoldItem, Job
    from curation.services import jobs

    config = settings_of(project)
    if not (config["pii_detect"] or config["clusters"] or GoldItem.objects.filter(project=project).exists()):
        return None
    with transaction.atomic():
        waiting = (
            Job.objects.select_for_update()
            .filter(project=project, kind=Job.Kind.HYGIENE, status=jobs.Status.QUEUED, attempts=0)
            .exclude(cancel_requested=True)
            .order_by("-id")
            .first()
        )
        if waiting is None:
            return jobs.launch(project, Job.Kind.HYGIENE, params, by=by)
        waiting.params = _widened(waiting.params, params)
        waiting.save(update_fields=["params"])
        return waiting


def _widened(old: dict, new: dict) -> dict:
    out = {"count": int(old.get("count", 0)) + int(new.get("count", 0))}
    firsts = [p["first_id"] for p in (old, new) if "first_id" in p]
    if firsts:
        out["first_id"], out["last_id"] = min(firsts), max(p["last_id"] for p in (old, new) if "last_id" in p)
    changed = sorted({*old.get("changed", []), *new.get("changed", [])})
    if changed:
        out["changed"] = changed
    return out


def after_gold_changed(project) -> None:
    """Gold items were added, changed or removed: every prompt's near-duplicate flag is decided again."""
    refresh_contamination(project)


__all__ = [
    "DEFAULTS",
    "EXACT",
    "NEAR",
    "SEMANTIC",
    "Decision",
    "after_gold_changed",
    "after_prompts_added",
    "after_prompts_changed",
    "check_prompts",
    "check_settings",
    "contaminated_prompts",
    "decide_span",
    "detect_prompts",
    "effective_spans",
    "ensure_current",
    "evidence",
    "examples_evidence",
    "mark_for_recheck",
    "prompt_evidence",
    "redact_for_snapshot",
    "redact_for_teacher",
    "redaction_log",
    "refresh_clusters",
    "refresh_contamination",
    "run_hygiene_job",
    "settings_of",
    "update_settings",
]

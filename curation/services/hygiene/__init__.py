"""Data hygiene: near-duplicates of gold (decontamination), duplicate clusters, personal data.

One service for every surface (snapshots, the board, the Gold page, the queue, the teacher jobs,
``manage.py check_contamination``/``import_gold`` and the API): ``contamination`` (exact, near and
semantic duplicates of gold items, with their evidence), ``clusters`` (near-duplicate clusters of
the pool), ``pii`` (detection, reviewers' decisions, redaction and its audit trail) and
``settings`` (per-project thresholds with defaults). The ML side is ``workers.hygiene``. Outside
code imports this package only.
"""

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
    """New prompts get a data-hygiene job (PII detection and clusters if on, the contamination check)
    in the background, so an import of 100,000 prompts is not held up by them; returns the job or None.
    Whatever reads the near-duplicate flags first checks new prompts itself (``ensure_current``)."""
    prompt_ids = list(prompt_ids)
    config = settings_of(project)
    if not prompt_ids or not (config["pii_detect"] or config["clusters"]):
        return None
    from curation.models import Job
    from curation.services import jobs

    params = {"first_id": min(prompt_ids), "last_id": max(prompt_ids), "count": len(prompt_ids)}
    return jobs.launch(project, Job.Kind.HYGIENE, params, by=by)


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
    "check_prompts",
    "check_settings",
    "contaminated_prompts",
    "decide_span",
    "detect_prompts",
    "effective_spans",
    "ensure_current",
    "evidence",
    "examples_evidence",
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

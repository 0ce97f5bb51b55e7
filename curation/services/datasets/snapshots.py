"""Snapshot requests: ``start_snapshot`` validates a request (a stage or a review-queue filter,
seed, validation fraction, soft targets, system prompt, curated or raw content) and launches a ``snapshot`` job, whose
body is ``snapshot_job.build_snapshot``.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import QueryDict

from curation.models import Job, Project, Snapshot
from curation.services import audit, hygiene, jobs
from curation.services.errors import Invalid, ReviewError
from curation.services.projects import stage_named
from curation.services.review import PARAMS, filter_description, filtered_examples

log = logging.getLogger(__name__)

MAX_NAME = 200
MAX_SYSTEM_PROMPT = 10_000
MAX_VALIDATION_FRACTION = 0.5
SEED_RANGE = (0, 2**31 - 1)


# A raw snapshot without a stage or a filter: every example, whatever its status.
ALL_EXAMPLES = {"status": ["pending", "approved", "rejected"]}


# ------------------------------------------------------------------ requests
def clean_filter(project: Project, params) -> dict:
    """A filter (dict or QueryDict) checked against the review queue's rules; returns its JSON form.

    ``order`` is accepted (a queue URL carries it) and dropped: files follow row hashes.
    """
    if params is None:
        return {}
    if isinstance(params, str):
        params = QueryDict(params.lstrip("?"))
    if not hasattr(params, "keys"):
        raise Invalid({"filter": ['The filter is an object of review-queue parameters, e.g. {"tier": "hard"}.']})
    unknown = sorted(set(params.keys()) - set(PARAMS))
    if unknown:
        raise Invalid({"filter": {k: [f"Unknown filter; use {', '.join(PARAMS)}."] for k in unknown}})
    query = as_querydict(params)
    query.pop("order", None)
    try:
        _, cleaned = filtered_examples(project, query)
    except Invalid as exc:
        raise Invalid({"filter": exc.errors}) from None
    return filter_description(cleaned)


def as_querydict(params) -> QueryDict:
    if isinstance(params, QueryDict):
        return params.copy()
    query = QueryDict(mutable=True)
    for key, value in params.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, (dict, list)) or item is None:
                raise Invalid({"filter": {key: ["Give a text, number or boolean value (or a list of them)."]}})
            query.appendlist(key, str(item).lower() if isinstance(item, bool) else str(item))
    return query


def start_snapshot(
    project: Project,
    user,
    *,
    name: str,
    stage: str | None = None,
    filter=None,
    seed: int = 0,
    validation_fraction: float = 0.1,
    include_soft_targets: bool = False,
    system_prompt: str = "",
    content: str = Snapshot.Content.CURATED,
    one_per_cluster: bool = False,
    redact_pii: bool | None = None,
    launch: bool = True,
) -> Snapshot:
    """Validate a snapshot request and launch its build job; raises ``Invalid`` naming the field.

    ``content="raw"`` takes the teacher's examples whatever their status, with the teacher's own
    text, label and soft targets (what training without review would use); without a stage or a
    filter it takes every example of the project. ``one_per_cluster`` keeps at most one example per
    duplicate cluster; ``redact_pii`` (default: the project's ``redact_snapshots`` setting) writes
    typed placeholders for prompts' personal data. ``launch=False`` only records the request: the
    caller runs ``build_snapshot`` itself.
    """
    errors = Invalid()
    if content not in Snapshot.Content.values:
        errors.add("content", f"One of {', '.join(Snapshot.Content.values)}.")
    raw = content == Snapshot.Content.RAW
    if raw and stage in (None, "") and not filter:
        filter = dict(ALL_EXAMPLES)
    name = (name or "").strip()
    if not name:
        errors.add("name", "Give the snapshot a name.")
    elif len(name) > MAX_NAME:
        errors.add("name", f"At most {MAX_NAME} characters.")
    stage_obj = None
    has_filter = bool(filter)
    if stage not in (None, "") and has_filter:
        errors.add("filter", "Give a stage or a filter, not both (a filter can say stage=...).")
    elif stage not in (None, ""):
        try:
            stage_obj = stage_named(project, stage)
        except ReviewError as exc:
            errors.add("stage", exc.message)
    elif not has_filter:
        errors.add("stage", "Give a stage, or a filter, to say which examples the snapshot holds.")
    cleaned_filter = {}
    if has_filter and "filter" not in errors:
        try:
            cleaned_filter = clean_filter(project, filter)
        except Invalid as exc:
            errors.errors.update(exc.errors)
    if isinstance(seed, bool) or not isinstance(seed, int) or not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        errors.add("seed", f"A whole number from {SEED_RANGE[0]} to {SEED_RANGE[1]}.")
    if (
        isinstance(validation_fraction, bool)
        or not isinstance(validation_fraction, (int, float))
        or not (0 <= validation_fraction <= MAX_VALIDATION_FRACTION)
    ):
        errors.add("validation_fraction", f"A number from 0 to {MAX_VALIDATION_FRACTION}.")
    if not isinstance(system_prompt, str) or len(system_prompt) > MAX_SYSTEM_PROMPT:
        errors.add("system_prompt", f"Text of at most {MAX_SYSTEM_PROMPT:,} characters.")
    for field, value in (("one_per_cluster", one_per_cluster), ("redact_pii", redact_pii)):
        if value is not None and not isinstance(value, bool):
            errors.add(field, "true or false.")
    errors.raise_if_any()
    if redact_pii is None:
        redact_pii = hygiene.settings_of(project)["redact_snapshots"]
    with transaction.atomic():
        snapshot = Snapshot.objects.create(
            project=project,
            name=name,
            stage=stage_obj,
            filter=cleaned_filter,
            seed=seed,
            validation_fraction=float(validation_fraction),
            include_soft_targets=bool(include_soft_targets),
            system_prompt=system_prompt,
            content=content,
            one_per_cluster=bool(one_per_cluster),
            redact_pii=bool(redact_pii),
            created_by=user,
            status=Snapshot.Status.BUILDING,
        )
        audit.record(
            audit.Kind.SNAPSHOT,
            "create",
            snapshot,
            project=project,
            by=user,
            after={
                "name": name,
                "content": content,
                "stage": stage_obj.name if stage_obj else None,
                "filter": cleaned_filter,
                "seed": seed,
                "validation_fraction": float(validation_fraction),
                "include_soft_targets": bool(include_soft_targets),
            },
        )
        if launch:
            snapshot.job = jobs.launch(project, Job.Kind.SNAPSHOT, {"snapshot_id": snapshot.pk, "name": name}, by=user)
            snapshot.save(update_fields=["job"])
    return snapshot


# ------------------------------------------------------------------ freezing


# --------------------------------------------------------------- hash, manifest


# ------------------------------------------------------------------ building

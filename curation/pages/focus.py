"""What the focus view shows: one example, its neighbours in the filter, the teacher's other
samples, its checks, label distribution, gold reference and history."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse

from curation.models import BulkAction, Example, GoldItem, TeacherSample
from curation.pages.queue import filter_params, visible_examples
from curation.services.errors import Invalid
from curation.services.gold import hide_gold_from_readers, sees_gold, with_gold_flag
from curation.services.review import DEFAULT_ORDER, StaleExample, adjacent, leased_to_someone_else

OTHER_SAMPLES_SHOWN = 6


def example_for(project, pk) -> Example:
    """The example with what the page shows of it (404 when not visible: gold for a reader)."""
    queryset = Example.objects.select_related(
        "prompt", "tier", "stage", "sample__model_spec", "reviewed_by", "leased_by"
    )
    return get_object_or_404(with_gold_flag(hide_gold_from_readers(project, queryset)), project=project, pk=pk)


def navigation(project, params) -> tuple[QuerySet | None, str]:
    """(the examples of the filter in ``params``, its order); (None, default order) when it is broken."""
    try:
        queryset, cleaned = visible_examples(project, params)
    except Invalid:
        return None, DEFAULT_ORDER
    return queryset, cleaned.get("order") or DEFAULT_ORDER


def neighbours(project, params, example):
    """(previous, next) example of the filter in ``params`` around ``example`` (None at an end)."""
    queryset, order = navigation(project, params)
    if queryset is None:
        return None, None
    return adjacent(queryset, order, example, -1), adjacent(queryset, order, example, +1)


def focus_url(project, example, params) -> str:
    query = params.urlencode()
    return reverse("review-focus", args=[project.slug, example.pk]) + (f"?{query}" if query else "")


def other_samples(example):
    """The teacher's other samples of the same prompt (a few), with their examples."""
    return (
        TeacherSample.objects.filter(prompt_id=example.prompt_id)
        .exclude(id=example.sample_id)
        .select_related("example")
        .order_by("sample_index", "id")[:OTHER_SAMPLES_SHOWN]
    )


def checks_of(example, sample) -> list[dict]:
    """The automatic checks' results: the sample's, else the names of the checks the example failed."""
    if sample and sample.check_results:
        return sample.check_results
    return [{"name": name, "passed": False, "detail": ""} for name in example.failed_checks or []]


def gold_item_of(project, example):
    """The gold item guarding the example's prompt, for members who may see gold; else None."""
    if not (example.is_gold and sees_gold(project)):
        return None
    return GoldItem.objects.filter(project=project, content_hash=example.prompt.content_hash).first()


def ranked(distribution, limit=None) -> list[tuple[str, float]]:
    """A classification's {label: p} as [(label, p)], most probable first (non-numbers dropped)."""
    rows = (
        [
            (str(label), float(p))
            for label, p in (distribution or {}).items()
            if isinstance(p, (int, float)) and not isinstance(p, bool)
        ]
        if hasattr(distribution, "items")
        else []
    )
    rows.sort(key=lambda row: -row[1])
    return rows[: int(limit)] if limit else rows


def change_rows(changes) -> list[tuple]:
    """(field, before, after) from a verdict's {field: [before, after]}, leaving out values that did not change
    (a bulk decision records approvals and conflict beside the status, for its undo)."""
    return [
        (name, pair[0], pair[1])
        for name, pair in (changes or {}).items()
        if isinstance(pair, list) and len(pair) == 2 and pair[0] != pair[1]
    ]


def history(example) -> list:
    """The example's verdicts, newest first, each with its bulk action (if any) and its changes as rows."""
    verdicts = list(example.verdicts.select_related("user").order_by("-id"))
    bulks = {b.id: b for b in BulkAction.objects.filter(id__in={v.bulk_id for v in verdicts if v.bulk_id})}
    for verdict in verdicts:
        verdict.bulk = bulks.get(verdict.bulk_id)
        verdict.change_rows = change_rows(verdict.changes)
    return verdicts


def conflict_rows(stale: StaleExample) -> list[dict]:
    """What changed since the reviewer's version, each change with its (field, before, after) rows."""
    return [{**change, "rows": change_rows(change["changes"])} for change in stale.changes()]


def focus_context(project, example, user, params, now) -> dict:
    """Everything the focus page reads about ``example``, with links that keep the filter in ``params``."""
    kept = filter_params(params)
    lease_mode = params.get("lease") == "1"
    nav_params = kept.copy()
    if lease_mode:
        nav_params["lease"] = "1"
    previous, following = neighbours(project, params, example)
    sample = example.sample if example.sample_id else None
    return {
        "project": project,
        "example": example,
        "sample": sample,
        "others": other_samples(example),
        "checks": checks_of(example, sample),
        "distribution": ranked(sample.label_distribution) if sample else [],
        "gold": gold_item_of(project, example),
        "history": history(example),
        "tiers": project.tiers.all(),
        "stages": project.stages.all(),
        "nav_qs": nav_params.urlencode(),
        "filter_qs": kept.urlencode(),
        "previous_url": focus_url(project, previous, nav_params) if previous else None,
        "next_url": focus_url(project, following, nav_params) if following else None,
        "queue_url": f"{reverse('review-queue', args=[project.slug])}?{kept.urlencode()}",
        "lease_mode": lease_mode,
        "leased_to_other": leased_to_someone_else(example, user, now),
        "my_lease": example.leased_by_id == user.id and example.lease_expires_at and example.lease_expires_at > now,
    }

"""Difficulty and auto-tiering of a generation job's examples.

Difficulty is computed over the job's own samples once generation ends (the n
samples of a prompt are all in one job, which the disagreement term needs):
generation uses ``workers.difficulty.combined_difficulty`` (percentile rank of the
sample's mean entropy, half; percentile rank of the disagreement between its prompt's
n samples, half), classification the normalised entropy of the label distribution.
Scores are percentile ranks within the job, so every job spreads its examples over
[0, 1] and the project's quantiles cut each job into the same proportions.

Tiers come from the project's ``tier_quantiles`` (empty: equal-sized tiers), easiest
first. A tier a human set (``tier_locked``) is never overwritten: the update itself
requires ``tier_locked = false``, so a reviewer locking a tier while this runs wins.
Neither write bumps ``Example.version``: they are machine annotations, not decisions.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count

from curation.models import Example
from workers.difficulty import assign_tiers, classification_difficulty, combined_difficulty, sample_disagreement

CHUNK = 1000


def tier_plan(project) -> tuple[list, list[float], str | None]:
    """(tiers, quantiles, warning): the project's tiers with valid cut points."""
    tiers = list(project.tiers.order_by("order", "id"))
    if not tiers:
        return [], [], "the project has no tiers, so nothing was tiered"
    equal = [round(i / len(tiers), 6) for i in range(1, len(tiers))]
    quantiles = list(project.tier_quantiles or [])
    if not quantiles:
        return tiers, equal, None
    ok = (
        len(quantiles) == len(tiers) - 1
        and all(isinstance(q, (int, float)) and 0 < q < 1 for q in quantiles)
        and quantiles == sorted(set(quantiles))
    )
    if not ok:
        return (
            tiers,
            equal,
            (f"the project's tier quantiles {quantiles} do not fit its {len(tiers)} tiers; used equal-sized tiers"),
        )
    return tiers, [float(q) for q in quantiles], None


def _generation_scores(job) -> tuple[list[int], list[float]]:
    """(example ids, difficulty) over the job's samples, read prompt by prompt so a large
    job never holds every text in memory at once."""
    ids, entropies, disagreements = [], [], []
    rows = (
        Example.objects.filter(sample__job=job, sample__error="")
        .values_list("id", "prompt_id", "sample__mean_entropy", "sample__text")
        .order_by("prompt_id", "id")
    )
    group: list[tuple] = []

    def close_group():
        d = sample_disagreement([r[3] or "" for r in group])
        for r in group:
            ids.append(r[0])
            entropies.append(r[2] or 0.0)
            disagreements.append(d)

    for row in rows.iterator(chunk_size=2000):
        if group and row[1] != group[0][1]:
            close_group()
            group = []
        group.append(row)
    if group:
        close_group()
    return ids, combined_difficulty(entropies, disagreements)


def _classification_scores(job) -> tuple[list[int], list[float]]:
    rows = list(
        Example.objects.filter(sample__job=job, sample__error="")
        .values_list("id", "sample__label_distribution")
        .order_by("id")
    )
    return [r[0] for r in rows], classification_difficulty([r[1] or {} for r in rows])


def score_and_tier(job, project, *, classification: bool) -> dict:
    """Set difficulty and (unlocked) tiers on the job's examples; returns counts per tier."""
    ids, scores = (_classification_scores if classification else _generation_scores)(job)
    if not ids:
        return {}
    for start in range(0, len(ids), CHUNK):
        part = [Example(id=i, difficulty=s) for i, s in zip(ids[start : start + CHUNK], scores[start : start + CHUNK])]
        Example.objects.bulk_update(part, ["difficulty"])
    tiers, quantiles, warning = tier_plan(project)
    if not tiers:
        return {"warning": warning}
    names = [t.name for t in tiers]
    # Cut points over every score of the job, locked or not; locked rows are skipped below.
    wanted = assign_tiers(scores, quantiles, names)
    by_tier: dict[str, list[int]] = defaultdict(list)
    for example_id, name in zip(ids, wanted):
        by_tier[name].append(example_id)
    ids = {t.name: t.id for t in tiers}
    counts = {}
    for name in names:  # easiest first, for the job's message
        example_ids = by_tier.get(name, [])
        counts[name] = 0
        for start in range(0, len(example_ids), CHUNK):
            counts[name] += Example.objects.filter(id__in=example_ids[start : start + CHUNK], tier_locked=False).update(
                tier_id=ids[name]
            )
    kept = Example.objects.filter(sample__job=job, tier_locked=True).count()
    result = {"tiers": counts, "kept_human_tiers": kept}
    if warning:
        result["warning"] = warning
    return result


def job_tier_counts(job) -> list[tuple[str, int]]:
    """(tier name or "untiered", examples) for the job's examples, in tier order."""
    counts = defaultdict(int)
    for name, n in _tier_rows(job):
        counts[name] += n
    order = [t.name for t in job.project.tiers.order_by("order", "id")] + ["untiered"]
    return [(name, counts[name]) for name in order if counts.get(name)]


def _tier_rows(job):
    for row in Example.objects.filter(sample__job=job).values("tier__name").annotate(n=Count("id")):
        yield row["tier__name"] or "untiered", row["n"]

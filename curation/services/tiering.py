"""Difficulty and auto-tiering of a generation job's examples.

Difficulty is computed over the job's own samples once generation ends (the n
samples of a prompt are all in one job, which the disagreement term needs):
generation uses ``workers.difficulty.generation_difficulty`` (percentile rank of the
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
from workers.difficulty import assign_tiers, classification_difficulty, generation_difficulty

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
    ok = (len(quantiles) == len(tiers) - 1 and all(isinstance(q, (int, float)) and 0 < q < 1 for q in quantiles)
          and quantiles == sorted(set(quantiles)))
    if not ok:
        return tiers, equal, (f"the project's tier quantiles {quantiles} do not fit its {len(tiers)} tiers; "
                              "used equal-sized tiers")
    return tiers, [float(q) for q in quantiles], None


def score_and_tier(job, project, *, classification: bool) -> dict:
    """Set difficulty and (unlocked) tiers on the job's examples; returns counts per tier."""
    rows = list(
        Example.objects.filter(sample__job=job, sample__error="")
        .values_list("id", "prompt_id", "sample__mean_entropy", "sample__text", "sample__label_distribution")
        .order_by("id")
    )
    if not rows:
        return {}
    if classification:
        scores = classification_difficulty([r[4] or {} for r in rows])
    else:
        scores = generation_difficulty([r[1] for r in rows], [r[2] or 0.0 for r in rows], [r[3] or "" for r in rows])
    for start in range(0, len(rows), CHUNK):
        part = [Example(id=r[0], difficulty=s) for r, s in zip(rows[start:start + CHUNK], scores[start:start + CHUNK])]
        Example.objects.bulk_update(part, ["difficulty"])
    tiers, quantiles, warning = tier_plan(project)
    if not tiers:
        return {"warning": warning}
    names = [t.name for t in tiers]
    # Cut points over every score of the job, locked or not; locked rows are skipped below.
    wanted = assign_tiers(scores, quantiles, names)
    by_tier: dict[str, list[int]] = defaultdict(list)
    for (example_id, *_), name in zip(rows, wanted):
        by_tier[name].append(example_id)
    ids = {t.name: t.id for t in tiers}
    counts = {}
    for name in names:  # easiest first, for the job's message
        example_ids = by_tier.get(name, [])
        counts[name] = 0
        for start in range(0, len(example_ids), CHUNK):
            counts[name] += Example.objects.filter(id__in=example_ids[start:start + CHUNK], tier_locked=False).update(
                tier_id=ids[name])
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

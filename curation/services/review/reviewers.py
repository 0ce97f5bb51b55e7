"""Per-reviewer statistics for engineers: speed, agreement (with the second pass and with gold),
label distribution and edits, over a window of days, plus decisions per day for a chart.

Definitions (also on the page):
- A *decision* is an individual approve or reject (bulk actions are left out: one click over
  many rows is not a review).
- *Active time* adds the gaps between a reviewer's consecutive decisions, each gap counted up to
  ``IDLE_CAP_S``; a longer gap is a break. Decisions per hour = decisions / active time.
  *Time per example* is the median gap below the cap.
- *Agreement with the second pass*: on examples two different reviewers decided, how often this
  reviewer's first decision equals the other reviewer's first decision (a Wilson 95% interval).
- *Agreement with gold* (classification): a decision on an example whose prompt is a gold item
  with a label agrees when it approves the gold label or rejects another one (the example's
  label now; a later label change by someone else would count against the earlier decision).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import timedelta
from itertools import pairwise

from django.utils import timezone

from curation.models import Example, GoldItem, Verdict
from workers.stats import wilson

DECISIONS = (Verdict.Action.APPROVE, Verdict.Action.REJECT)
IDLE_CAP_S = 600


def _rate(agree: int, n: int) -> dict | None:
    if not n:
        return None
    interval = wilson(agree, n)
    return {"rate": interval.estimate, "low": interval.low, "high": interval.high, "n": n, "agree": agree}


def reviewer_stats(project, days: int = 30, now=None) -> dict:
    now = now or timezone.now()
    since = now - timedelta(days=days)
    verdicts = Verdict.objects.filter(project=project, bulk_id__isnull=True, user__isnull=False)
    # verdict_reviewer_day serves these (project, user, created_at over non-bulk rows).
    rows = list(
        verdicts.filter(created_at__gte=since, action__in=[*DECISIONS, Verdict.Action.EDIT])
        .order_by("user_id", "created_at", "id")
        .values_list("user_id", "user__username", "example_id", "action", "created_at")
    )
    names, times, decided, edits = {}, defaultdict(list), defaultdict(dict), Counter()
    per_day = defaultdict(Counter)
    for user_id, username, example_id, action, at in rows:
        names[user_id] = username
        if action == Verdict.Action.EDIT:
            edits[user_id] += 1
            continue
        times[user_id].append(at)
        decided[user_id].setdefault(example_id, action)  # first decision per example
        per_day[user_id][(now - at).days] += 1

    second = _second_pass(project, since)
    gold = _gold_agreement(project, decided)
    labels = _labels(project, decided)
    reviewers = []
    for user_id, username in sorted(names.items(), key=lambda item: item[1]):
        stamps = times[user_id]
        gaps = [(b - a).total_seconds() for a, b in pairwise(stamps)]
        active = sum(min(g, IDLE_CAP_S) for g in gaps)
        working = [g for g in gaps if g <= IDLE_CAP_S]
        reviewers.append(
            {
                "username": username,
                "decisions": len(stamps),
                "examples": len(decided[user_id]),
                "per_hour": len(stamps) / (active / 3600) if active > 0 else None,
                "seconds_per_example": statistics.median(working) if working else None,
                "edits": edits[user_id],
                "second_pass": _rate(*second.get(user_id, (0, 0))),
                "gold": _rate(*gold.get(user_id, (0, 0))),
                "labels": labels.get(user_id, []),
                "per_day": per_day[user_id],
            }
        )
    return {"days": days, "since": since, "reviewers": reviewers, "idle_cap_s": IDLE_CAP_S}


def _second_pass(project, since) -> dict:
    """user_id -> (agreements, comparisons) with the other of an example's first two reviewers,
    over the examples decided in the window."""
    decisions = Verdict.objects.filter(project=project, bulk_id__isnull=True, user__isnull=False, action__in=DECISIONS)
    recent = decisions.filter(created_at__gte=since).values("example_id")
    firsts = {}
    for example_id, user_id, action in (
        decisions.filter(example_id__in=recent)
        .order_by("example_id", "id")
        .values_list("example_id", "user_id", "action")
    ):
        raters = firsts.setdefault(example_id, {})
        if user_id not in raters and len(raters) < 2:
            raters[user_id] = action
    out = defaultdict(lambda: [0, 0])
    for raters in firsts.values():
        if len(raters) < 2:
            continue
        (a, x), (b, y) = raters.items()
        for user_id in (a, b):
            out[user_id][0] += x == y
            out[user_id][1] += 1
    return {k: tuple(v) for k, v in out.items()}


def _gold_agreement(project, decided) -> dict:
    # Reviewers are graded against every expert label, test and dev alike: this grades people,
    # not models, so it is not selection and reads no report's score.
    if not project.is_classification:
        return {}
    gold = dict(
        GoldItem.objects.filter(project=project, confirmed=True).exclude(label="").values_list("content_hash", "label")
    )
    ids = {e for per_user in decided.values() for e in per_user}
    if not gold or not ids:
        return {}
    examples = dict(
        Example.objects.filter(id__in=ids, prompt__content_hash__in=list(gold)).values_list(
            "id", "prompt__content_hash"
        )
    )
    labels = dict(Example.objects.filter(id__in=list(examples)).values_list("id", "label"))
    out = {}
    for user_id, per_user in decided.items():
        agree = n = 0
        for example_id, action in per_user.items():
            if example_id in examples:
                right = labels[example_id] == gold[examples[example_id]]
                agree += right == (action == Verdict.Action.APPROVE)
                n += 1
        out[user_id] = (agree, n)
    return out


def _labels(project, decided) -> dict:
    """user_id -> [(label, count, share)] over the examples they approved (classification)."""
    if not project.is_classification:
        return {}
    approved = {u: [e for e, a in per.items() if a == Verdict.Action.APPROVE] for u, per in decided.items()}
    ids = {e for es in approved.values() for e in es}
    label_of = dict(Example.objects.filter(id__in=ids).values_list("id", "label"))
    out = {}
    for user_id, examples in approved.items():
        counts = Counter(label_of.get(e) or "(none)" for e in examples)
        total = sum(counts.values())
        out[user_id] = [(label, n, n / total) for label, n in counts.most_common()]
    return out

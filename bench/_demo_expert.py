"""bench/demo.py's curation steps: bulk moves by review-queue filter, and the **simulated expert**
(declared as such in the output: the corpus's true labels stand in for a person) who reviews the
teacher's least confident answers."""

from __future__ import annotations

EXPERT_SHARE = 0.15  # of the teacher's answers, its least confident, that the simulated expert reviews
# The demo's curriculum: which stage each difficulty tier goes to (bulk moves by review-queue filter).
STAGE_OF_TIER = {"easy": "stage 1", "medium": "stage 2", "hard": "stage 2"}
STAGES = tuple(dict.fromkeys(STAGE_OF_TIER.values()))  # in curriculum order


def _bulk(project, user, action, filter_, **target) -> int:
    from urllib.parse import urlencode

    from django.http import QueryDict

    from curation.services.review import apply_bulk, filtered_examples, plan_bulk

    # The filter as the review queue's address carries it (a filter is a link).
    queryset, cleaned = filtered_examples(project, QueryDict(urlencode(filter_)))
    count = queryset.count()
    if count:
        apply_bulk(
            project, user, queryset, plan_bulk(project, action, **target), expected=count, filter_description=cleaned
        )
    return count


def stage_by_tier(project, user) -> dict[str, int]:
    """Each tier to its stage (``STAGE_OF_TIER``), by bulk moves by review-queue filter."""
    return {
        f"{tier} -> {stage}": _bulk(project, user, "stage", {"status": "approved", "tier": tier}, to_stage=stage)
        for tier, stage in STAGE_OF_TIER.items()
    }


def true_label(example) -> str:
    """The corpus's own label of a demo ticket (its template id starts with it): the simulated expert's knowledge."""
    return (example.prompt.metadata or {}).get("template", "").split(".")[0]


def decision(teacher_label: str, truth: str, ambiguous: bool) -> str:
    """The simulated expert's verdict on one answer it reviews: ``approved`` when the teacher is
    right, ``rejected`` when it is wrong on a ticket that mixes intents, else ``relabelled``."""
    if teacher_label == truth:
        return "approved"
    return "rejected" if ambiguous else "relabelled"


def reviewed_count(share: float, n: int) -> int:
    """How many of ``n`` answers, the least confident first, the expert reviews."""
    return round(share * n)


def simulated_expert(project, user, share: float) -> dict[str, int]:
    """Review the teacher's least confident answers (lowest margin) with the corpus's true labels."""
    from curation.models import Example
    from curation.services.review import reject, set_label

    answers = Example.objects.filter(project=project, status="approved").select_related("prompt")
    n = reviewed_count(share, answers.count())
    actions = {"reviewed": n, "approved": 0, "relabelled": 0, "rejected": 0}
    for ex in answers.order_by("min_margin", "id")[:n]:
        truth = true_label(ex)
        if truth not in (project.labels or []):
            raise SystemExit(f"example {ex.pk}: no true label in its prompt's metadata ({ex.prompt.metadata})")
        verdict = decision(ex.label, truth, bool((ex.prompt.metadata or {}).get("ambiguous")))
        if verdict == "rejected":
            reject(ex, user, ex.version, comment="simulated expert: mixed intents, the teacher got it wrong")
        elif verdict == "relabelled":
            set_label(ex, user, ex.version, truth)
        actions[verdict] += 1
    return actions

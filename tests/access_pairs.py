from curation.services import review
from tests import pairkit


def report(project):
    return {"pk": pairkit.report(project, pairkit.gold_items(project, 2)).pk}


def comparison(project):
    return {"pk": review.create_comparison(project, pairkit.report(project, pairkit.gold_items(project, 2))).pk}


def pair(project):
    c = review.create_comparison(project, pairkit.report(project, pairkit.gold_items(project, 2)))
    return {"pk": c.pk, "item": c.items.first().pk}


ACCESS = {
    "report-pairs": ("post", "engineer", report),
    "pair-list": ("get", "reviewer", None),
    "pair-detail": ("get", "reviewer", comparison),
    "pair-next": ("get", "reviewer", comparison),
    "pair-review": ("get", "reviewer", pair),
    "pair-loss": ("get", "reviewer", pair),
    "api-pairs": ("get", "reviewer", comparison),
    "api-pairs-next": ("post", "reviewer", comparison),
    "api-pairs-verdict": ("post", "reviewer", pair),
}

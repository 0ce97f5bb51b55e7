# The reviewer workspace's URLs in the access matrix (tests/test_access.py).
# url name -> (HTTP method, lowest role allowed, extra URL kwargs factory or None)
from curation.models import GoldItem
from tests.factories import ExampleFactory, PromptFactory


def example_kwargs(project):
    return {"pk": ExampleFactory(prompt__project=project).pk}


def approve_kwargs(project):
    return {**example_kwargs(project), "action": "approve"}


def bulk_kwargs(project):
    from curation.models import BulkAction

    return {"bulk_id": BulkAction.objects.create(project=project, action="approve", count=0).pk}


def member_kwargs(project):
    from tests.factories import MembershipFactory

    return {"pk": MembershipFactory(project=project, role="reader").pk}


def gold_kwargs(project):
    prompt = PromptFactory(project=project)
    return {"pk": GoldItem.objects.create(project=project, prompt=prompt, reference="ref").pk}


ACCESS = {
    "review-queue": ("get", "reader", None),
    "review-counts": ("get", "reader", None),
    "review-bulk": ("post", "reviewer", None),
    "review-next": ("post", "reviewer", None),
    "review-focus": ("get", "reader", example_kwargs),
    "review-heatmap": ("get", "reader", example_kwargs),
    "review-act": ("post", "reviewer", approve_kwargs),
    "review-undo": ("post", "reviewer", example_kwargs),
    "review-bulk-undo": ("post", "reviewer", bulk_kwargs),
    "review-board": ("get", "reader", None),
    "gold-list": ("get", "reviewer", None),
    "gold-add": ("post", "reviewer", None),
    "gold-confirm": ("post", "reviewer", None),
    "gold-contamination": ("get", "reviewer", None),
    "gold-edit": ("post", "reviewer", gold_kwargs),
    "gold-discard": ("post", "reviewer", gold_kwargs),
    "project-settings": ("get", "engineer", None),
    "project-labels": ("post", "engineer", None),
    "project-members": ("get", "engineer", None),
    "project-member-change": ("post", "engineer", member_kwargs),
    "project-curriculum": ("post", "engineer", None),
    "project-checks": ("post", "engineer", None),
}

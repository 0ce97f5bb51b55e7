# The REST API and the snapshot pages: url name -> (method, lowest role, URL kwargs factory).
# tests/api/test_permissions.py checks every other method of these endpoints per role.
from curation.models import GoldItem, Snapshot
from tests.factories import ExampleFactory, PromptFactory


def prompt_kwargs(project):
    return {"pk": PromptFactory(project=project).pk}


def example_kwargs(project):
    return {"pk": ExampleFactory(prompt__project=project).pk}


def verdict_kwargs(project):
    return {"example_id": ExampleFactory(prompt__project=project).pk}


def tier_kwargs(project):
    return {"pk": project.tiers.first().pk}


def stage_kwargs(project):
    return {"pk": project.stages.first().pk}


def gold_kwargs(project):
    prompt = PromptFactory(project=project)
    return {"pk": GoldItem.objects.create(project=project, prompt=prompt, reference="Ref.").pk}


def snapshot_kwargs(project):
    return {"pk": Snapshot.objects.create(project=project, name="s").pk}


ACCESS = {
    "api-projects-detail": ("get", "reader", None),
    "api-prompts-list": ("get", "reader", None),
    "api-prompts-detail": ("get", "reader", prompt_kwargs),
    "api-examples-list": ("get", "reader", None),
    "api-examples-detail": ("get", "reader", example_kwargs),
    "api-verdicts-list": ("post", "reviewer", verdict_kwargs),
    "api-tiers-list": ("get", "reader", None),
    "api-tiers-detail": ("get", "reader", tier_kwargs),
    "api-stages-list": ("get", "reader", None),
    "api-stages-detail": ("get", "reader", stage_kwargs),
    "api-gold-list": ("get", "reviewer", None),
    "api-gold-detail": ("patch", "reviewer", gold_kwargs),
    "api-snapshots-list": ("post", "engineer", None),
    "api-snapshots-detail": ("get", "reader", snapshot_kwargs),
    "api-snapshots-download": ("get", "reader", snapshot_kwargs),
    "snapshot-list": ("post", "engineer", None),
    "snapshot-detail": ("get", "reader", snapshot_kwargs),
}

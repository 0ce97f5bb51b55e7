"""Access rules for the teacher pages and the jobs API (merged into tests/test_access.py)."""

from curation.models import ModelSpec
from tests.factories import JobFactory


def job_kwargs(project):
    return {"pk": JobFactory(project=project).pk}


def spec_kwargs(project):
    n = ModelSpec.objects.filter(project=project).count()
    spec = ModelSpec.objects.create(project=project, name=f"missing model {n}", path="/nonexistent/teacher-model")
    return {"pk": spec.pk}


ACCESS = {
    "gen-launch": ("get", "engineer", None),
    "gen-prompt-count": ("get", "engineer", None),
    "score-launch": ("get", "engineer", None),
    "job-retry": ("post", "engineer", job_kwargs),
    "modelspec-list": ("get", "engineer", None),
    "modelspec-edit": ("get", "engineer", spec_kwargs),
    "modelspec-check": ("post", "engineer", spec_kwargs),
    "api-jobs": ("get", "reader", None),
    "api-job-detail": ("get", "reader", job_kwargs),
    "api-job-cancel": ("post", "engineer", job_kwargs),
}

import pytest

from curation.models import ApiToken
from curation.services.datasets import snapshot_job, snapshots
from tests.factories import ExampleFactory, MembershipFactory, PromptFactory, UserFactory


@pytest.fixture
def stage1(project):
    return project.stages.get(name="stage 1")


@pytest.fixture
def approved(project, stage1):
    """approved(text, response=..., **fields) -> an approved example in stage 1."""

    def make(text, response=None, **fields):
        prompt = fields.pop("prompt", None) or PromptFactory(project=project, text=text)
        fields.setdefault("status", "approved")
        fields.setdefault("stage", stage1)
        return ExampleFactory(prompt=prompt, response=response or f"Answer to {text}", **fields)

    return make


@pytest.fixture
def engineer(project, member):
    return member("engineer")


@pytest.fixture
def build(engineer):
    """build(project, **request) -> a snapshot built synchronously (the job body, without Celery)."""

    def run(project, **request):
        request.setdefault("name", "snap")
        if "filter" not in request:
            request.setdefault("stage", "stage 1")
        return snapshot_job.build_snapshot(snapshots.start_snapshot(project, engineer, launch=False, **request))

    return run


@pytest.fixture
def api(client, project):
    """api(role) -> (client, token key) of a member with that role, authenticating with a token."""

    def make(role, username=None):
        user = UserFactory(username=username or f"api-{role}")
        if role != "outsider":
            MembershipFactory(user=user, project=project, role=role)
        _, key = ApiToken.issue(user, "tests")
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
        return client

    return make

"""Schema-driven fuzzing: schemathesis generates requests (valid and invalid) from our OpenAPI schema.

Every operation gets ``FUZZ_EXAMPLES`` cases (default 25; CI stays within a minute or two);
path parameters point at real objects half of the time so the fuzzer gets past the 404s.
The property: no request, however malformed, gets a 5xx, every status answered is one
the operation documents, and every 2xx body matches its documented schema.
"""

import os
import zlib

import pytest
import schemathesis
from django.core.cache import cache
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from curation.models import ApiToken, GoldItem
from curation.services.datasets import snapshot_job, snapshots
from tests.factories import ExampleFactory, MembershipFactory, PromptFactory, UserFactory

# Hundreds of generated requests: the longest-running test outside training; the full suite runs it.
pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))


@pytest.fixture
def keep_the_test_connection():
    """The WSGI app closes "old" connections after each request, which would close the
    test's transaction on PostgreSQL; Django's test client disconnects the same handlers."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(project, tmp_path, settings, keep_the_test_connection):
    settings.ARTIFACT_DIR = tmp_path
    cache.clear()  # throttle counters
    user = UserFactory(username="fuzzer")
    MembershipFactory(user=user, project=project, role="engineer")
    stage = project.stages.get(name="stage 1")
    examples = [
        ExampleFactory(prompt=PromptFactory(project=project, text=f"Fuzz prompt {i}"), status="approved", stage=stage)
        for i in range(6)
    ]
    gold = GoldItem.objects.create(project=project, prompt=PromptFactory(project=project, text="Gold"), reference="R")
    request = snapshots.start_snapshot(project, user, name="fuzz", stage="stage 1", launch=False)
    snap = snapshot_job.build_snapshot(request)
    token, key = ApiToken.issue(user, "fuzz")
    return {
        "slug": project.slug,
        "key": key,
        "ids": {
            "examples": examples[0].pk,
            "verdicts": examples[1].pk,
            "prompts": examples[0].prompt_id,
            "gold": gold.pk,
            "snapshots": snap.pk,
            "tiers": project.tiers.first().pk,
            "stages": project.stages.first().pk,
            "tokens": token.pk,
        },
    }


def _load_schema():
    # Built here rather than fetched through a fixture: schemathesis' lazy fixture loader
    # does not work with pytest 9. The document is the one /api/v1/schema/ serves.
    from drf_spectacular.generators import SchemaGenerator

    from webapp.wsgi import application

    loaded = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    loaded.app = application
    return loaded


schema = _load_schema()


def _resource(path: str) -> str:
    parts = [p for p in path.split("/") if p and not p.startswith("{")]
    return (
        parts[-1]
        if parts[-1] not in ("download", "verdicts")
        else ("snapshots" if parts[-1] == "download" else "verdicts")
    )


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_request_gets_a_server_error(case, world):
    params = case.path_parameters or {}
    if "slug" in params:
        params["slug"] = world["slug"]
    flip = zlib.crc32((repr(case.query) + repr(case.body)).encode()) % 2 == 0  # stable across processes
    if "example_id" in params and flip:
        params["example_id"] = world["ids"]["verdicts"]
    if "pk" in params and flip:
        params["pk"] = world["ids"][_resource(case.operation.path)]
    case.headers = {**(case.headers or {}), "Authorization": f"Token {world['key']}"}
    response = case.call()
    checks = [not_a_server_error, status_code_conformance]  # every status answered is one the schema documents
    if 200 <= response.status_code < 300:
        # Error bodies are {field: [messages]} keyed by whichever field was wrong; only
        # success bodies have a schema precise enough to hold every response to.
        checks.append(response_schema_conformance)
    case.validate_response(response, checks=checks)

"""Property tests of the import parser: arbitrary bytes and arbitrary JSON (lone surrogates,
NUL, deep nesting, odd types included) through all three paths (the CLI command, the REST
upload, the web page). Whatever comes in: no traceback and no 5xx, the three paths agree on
whether it imported and how many prompts, and what is stored is text every database keeps."""

import io
import json
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.models import Prompt
from curation.services.inputs import text_problem
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
ANY_CHAR = st.characters(codec=None, exclude_categories=())  # surrogates and NUL too
SPECIAL = st.sampled_from(["\ud800", "\x00", "a\udfffb", "x\x00y", "\u00b2", "tab\there"])
TEXT = st.text(ANY_CHAR, max_size=20) | SPECIAL
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=12,
)
OBJECT_LINE = st.fixed_dictionaries(
    {"prompt": TEXT | JSON}, optional={"metadata": JSON, "reference": TEXT | JSON, "label": TEXT, "extra": JSON}
).map(json.dumps)
ANY_LINE = JSON.map(json.dumps)
DEEP_LINE = st.integers(20, 100_000).map(lambda n: '{"prompt": "deep", "metadata": {"x": ' + "[" * n + "]" * n + "}}")
GOOD_LINE = st.integers(0, 10**6).map(lambda i: json.dumps({"prompt": f"good prompt {i}"}))

FILES = st.one_of(
    st.binary(max_size=600),
    st.lists(OBJECT_LINE | GOOD_LINE, min_size=1, max_size=6).map("\n".join).map(str.encode),
    st.lists(ANY_LINE | GOOD_LINE, min_size=1, max_size=4).map("\n".join).map(str.encode),
    st.lists(DEEP_LINE | GOOD_LINE, min_size=1, max_size=3).map("\n".join).map(str.encode),
)


def _via_cli(project, data: bytes, tmp_path) -> tuple[bool, int]:
    path = tmp_path / "p.jsonl"
    path.write_bytes(data)
    try:
        call_command(
            "import_prompts", project.slug, str(path), "--skip-bad-lines", stdout=io.StringIO(), stderr=io.StringIO()
        )
    except CommandError:
        return False, Prompt.objects.filter(project=project).count()
    return True, Prompt.objects.filter(project=project).count()


def _via_http(client, name, project, data: bytes) -> tuple[bool, int]:
    upload = io.BytesIO(data)
    upload.name = "p.jsonl"
    form = {"file": upload, "skip_bad_lines": "true" if name == "api-prompts-import" else "on"}
    response = client.post(reverse(name, args=[project.slug]), form)
    assert response.status_code < 500, response.content[:300]
    return response.status_code in (200, 201), Prompt.objects.filter(project=project).count()


@pytest.mark.django_db
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=FILES)
def test_any_file_gets_the_same_answer_on_every_path_and_never_a_crash(data, client, tmp_path):
    user = UserFactory()
    projects = [ProjectFactory() for _ in range(3)]
    for project in projects:
        MembershipFactory(user=user, project=project, role="engineer")
    client.force_login(user)
    answers = [
        _via_cli(projects[0], data, tmp_path),
        _via_http(client, "api-prompts-import", projects[1], data),
        _via_http(client, "project-import", projects[2], data),
    ]
    assert answers[0] == answers[1] == answers[2], answers
    for text, messages, metadata in Prompt.objects.filter(project__in=projects).values_list(
        "text", "messages", "metadata"
    ):
        assert text_problem([text, messages, metadata]) is None

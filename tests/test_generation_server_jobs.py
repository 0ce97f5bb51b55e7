"""Generation jobs against an OpenAI-compatible server (the test server answers from the tiny model)."""

import pytest

from curation.models import Example, ModelSpec, TeacherSample
from curation.services import jobs
from curation.services.teacher import launch_generation, run_generation
from tests.factories import UserFactory
from tests.genkit import (  # noqa: F401 - artifacts and tiny are fixtures
    TICKETS,
    add_prompts,
    artifacts,
    assert_soft_targets_match,
    forward_logprobs,
    tiny,
)
from tests.workers.openai_server import TinyModelServer
from workers.softtargets import read_soft_targets

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("artifacts")]
KEY_VAR = "GEN_TEST_TEACHER_KEY"


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    with TinyModelServer(tiny_model_dir, api_key="sk-gen-secret") as s:
        yield s


def server_spec(project, base_url, tokenizer, **options):
    return ModelSpec.objects.create(
        project=project,
        name="served teacher",
        backend="openai",
        path="tiny",
        base_url=base_url,
        api_key_env=KEY_VAR,
        tokenizer_path=str(tokenizer),
        options={"token_ids_in_response": True, **options},
    )


def run(project, spec, **params):
    job = launch_generation(project, by=UserFactory(), model_spec=spec.pk, params=params)
    status = jobs.run(job.id, run_generation)
    job.refresh_from_db()
    return status, job


def test_a_job_on_the_openai_backend_stores_the_servers_soft_targets(
    project, server, tiny_model_dir, tiny, monkeypatch, artifacts
):
    monkeypatch.setenv(KEY_VAR, "sk-gen-secret")
    prompts = add_prompts(project, TICKETS[:3])
    status, job = run(project, server_spec(project, server.url, tiny_model_dir), n=2, max_new_tokens=5, top_k=4, seed=9)

    assert status == "succeeded", job.message
    server_numbers = job.metrics["teacher_server"]
    assert server_numbers["requests"] == 6 and server_numbers["retries"] == 0 and server_numbers["tokens_per_s"] > 0
    assert "sk-gen-secret" not in str(job.params)
    assert job.params["teacher"]["api_key_env"] == KEY_VAR
    model, tokenizer = tiny
    examples = list(Example.objects.filter(sample__job=job).select_related("prompt"))
    assert sorted(ex.prompt_id for ex in examples) == sorted(p.id for p in prompts for _ in range(2))
    for ex in examples:
        st = read_soft_targets(artifacts, ex.soft_targets)
        assert st.k == 4 and len(st) == ex.token_count >= 1
        assert_soft_targets_match(st, forward_logprobs(model, tokenizer, ex.prompt.text, st.token_ids))


def test_an_unset_api_key_variable_fails_the_job_naming_the_variable(project, server, tiny_model_dir, monkeypatch):
    monkeypatch.delenv(KEY_VAR, raising=False)
    add_prompts(project, TICKETS[:1])
    status, job = run(project, server_spec(project, server.url, tiny_model_dir), max_new_tokens=2)
    assert status == "failed"
    assert f"environment variable {KEY_VAR}, which is not set" in job.message


def test_an_unreachable_server_fails_the_job_with_a_clear_message(project, tiny_model_dir, monkeypatch):
    monkeypatch.setenv(KEY_VAR, "sk-gen-secret")
    add_prompts(project, TICKETS[:2])
    spec = server_spec(project, "http://127.0.0.1:9/v1", tiny_model_dir, timeout=2)
    status, job = run(project, spec, max_new_tokens=2)
    assert status == "failed"
    assert job.message.startswith("The teacher stopped: cannot reach the teacher server at http://127.0.0.1:9/v1")
    assert "sk-gen-secret" not in job.message
    assert not TeacherSample.objects.filter(job=job).exists()


def test_a_prompt_too_long_for_the_server_is_recorded_and_the_rest_generated(
    project, server, tiny_model_dir, monkeypatch
):
    monkeypatch.setenv(KEY_VAR, "sk-gen-secret")
    ok = add_prompts(project, TICKETS[:2])
    [long] = add_prompts(project, ["refund " * 400])
    status, job = run(project, server_spec(project, server.url, tiny_model_dir), max_new_tokens=2)
    assert status == "succeeded"
    assert job.errors[0]["item"] == f"prompt {long.id}" and "maximum context length" in job.errors[0]["error"]
    assert set(Example.objects.filter(sample__job=job).values_list("prompt_id", flat=True)) == {p.id for p in ok}

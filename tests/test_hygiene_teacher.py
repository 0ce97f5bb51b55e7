"""Redaction before prompts leave for an OpenAI-compatible teacher: the test server records what it receives."""

import json
import logging

import pytest

from curation.models import Job, RedactionEvent
from curation.services import hygiene, jobs
from curation.services.teacher import launch_generation, run_generation
from tests.factories import UserFactory
from tests.genkit import add_prompts, artifacts, tiny  # noqa: F401 - fixtures
from tests.test_generation_server_jobs import KEY_VAR, server_spec
from tests.workers.openai_server import TinyModelServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("artifacts")]
EMAIL, PHONE, CARD = "jo.smith@example.com", "+1 415-555-0132", "4111 1111 1111 1111"
PII_TEXT = f"My card {CARD} was charged twice; write to {EMAIL} or call {PHONE}."
VALUES = (EMAIL, "jo.smith", "415-555-0132", "555-0132", CARD, "4111")


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    with TinyModelServer(tiny_model_dir, api_key="sk-gen-secret") as s:
        yield s


def generate(project, server, tiny_model_dir, monkeypatch):
    monkeypatch.setenv(KEY_VAR, "sk-gen-secret")
    server.requests.clear()
    spec = server_spec(project, server.url, tiny_model_dir)
    job = launch_generation(project, by=UserFactory(), model_spec=spec.pk, params={"n": 1, "max_new_tokens": 3})
    status = jobs.run(job.id, run_generation)
    job.refresh_from_db()
    return status, job, json.dumps(server.requests)


def test_no_personal_data_reaches_the_teacher_the_logs_or_the_audit_trail_when_redaction_is_on(
    project, server, tiny_model_dir, monkeypatch, caplog
):
    assert hygiene.settings_of(project)["redact_teacher"] is True  # the default
    (pii_prompt, _plain) = add_prompts(project, [PII_TEXT, "Where is my parcel?"])
    with caplog.at_level(logging.DEBUG):
        status, job, sent = generate(project, server, tiny_model_dir, monkeypatch)
    assert status == "succeeded", job.message
    assert "<EMAIL>" in sent and "<PHONE>" in sent and "<CARD>" in sent
    assert "Where is my parcel?" in sent  # prompts without personal data go as they are
    for value in VALUES:
        assert value not in sent
        assert value not in caplog.text
        assert value not in json.dumps([job.params, job.message, job.errors, job.metrics], default=str)
    events = list(RedactionEvent.objects.filter(project=project).values())
    assert {e["entity"] for e in events} == {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"}
    assert all(
        e["prompt_id"] == pii_prompt.id and e["job_id"] == job.id and e["where"] == "teacher_request" for e in events
    )
    for value in VALUES:
        assert value not in json.dumps(events, default=str)
    # The stored prompt itself is unchanged: redaction is of what leaves, not of our data.
    pii_prompt.refresh_from_db()
    assert pii_prompt.text == PII_TEXT


def test_with_redaction_off_the_prompt_goes_as_it_is(project, server, tiny_model_dir, monkeypatch):
    hygiene.update_settings(project, {"redact_teacher": False})
    add_prompts(project, [PII_TEXT])
    status, job, sent = generate(project, server, tiny_model_dir, monkeypatch)
    assert status == "succeeded", job.message
    assert EMAIL in sent
    assert not RedactionEvent.objects.filter(project=project).exists()


def test_a_span_a_reviewer_marked_not_pii_is_sent_and_one_marked_pii_is_redacted(
    project, server, tiny_model_dir, monkeypatch
):
    text = f"Ask Morgan at {EMAIL} about build 10.0.0.1"
    (prompt,) = add_prompts(project, [text])
    start = text.index("10.0.0.1")
    user = UserFactory()
    hygiene.decide_span(prompt, user, part=-1, start=start, end=start + 8, entity="IP_ADDRESS", is_pii=False)
    hygiene.decide_span(prompt, user, part=-1, start=4, end=10, entity="PERSON", is_pii=True)
    status, job, sent = generate(project, server, tiny_model_dir, monkeypatch)
    assert status == "succeeded", job.message
    assert "10.0.0.1" in sent and "Morgan" not in sent and "<NAME>" in sent and EMAIL not in sent
    assert Job.objects.filter(pk=job.pk).exists()

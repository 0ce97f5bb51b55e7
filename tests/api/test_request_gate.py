"""Request bodies go through one gate (``curation.api.parsers``): depth and text rules
answer 400 naming the problem, never a 500."""

import json

from tests.factories import ExampleFactory, PromptFactory

DEEP = "[" * 100_000 + "]" * 100_000


def test_a_verdict_body_nested_100000_deep_is_a_400(api, project):
    example = ExampleFactory(prompt=PromptFactory(project=project))
    response = api("reviewer").post(
        f"/api/v1/projects/{project.slug}/examples/{example.pk}/verdicts/", DEEP, content_type="application/json"
    )
    assert response.status_code == 400 and "nested" in json.dumps(response.json())


def test_a_snapshot_filter_nested_5000_deep_is_a_400(api, project):
    body = '{"name": "s", "filter": {"q": ' + "[" * 5000 + "]" * 5000 + "}}"
    response = api("engineer").post(
        f"/api/v1/projects/{project.slug}/snapshots/", body, content_type="application/json"
    )
    assert response.status_code == 400 and "nested" in json.dumps(response.json())


def test_job_params_nested_5000_deep_are_a_400(api, project):
    body = '{"kind": "generate", "params": {"x": ' + "[" * 5000 + "]" * 5000 + "}}"
    response = api("engineer").post(f"/api/v1/projects/{project.slug}/jobs", body, content_type="application/json")
    assert response.status_code == 400 and "nested" in json.dumps(response.json())


def test_a_nul_or_a_lone_surrogate_in_any_request_body_is_a_400(api, project):
    client = api("engineer")
    for text in ('"bad\\u0000name"', '"bad\\ud800name"'):
        body = '{"name": ' + text + ', "stage": "stage 1"}'
        response = client.post(f"/api/v1/projects/{project.slug}/snapshots/", body, content_type="application/json")
        assert response.status_code == 400, response.content


def test_huge_ids_in_a_prompt_filter_are_a_400(api, project):
    body = {"kind": "generate", "params": {"prompts": {"scope": "ids", "ids": [10**30]}}}
    response = api("engineer").post(f"/api/v1/projects/{project.slug}/jobs", body, content_type="application/json")
    assert response.status_code == 400

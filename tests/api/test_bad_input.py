"""Bad input gets a 4xx whose body names the field, never a 500 or an HTML error page."""

import json

import pytest


@pytest.fixture
def engineer_client(api):
    return api("engineer")


def test_a_huge_body_is_413_naming_the_body(engineer_client, project, settings):
    big = json.dumps({"name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})
    for url in (
        "/api/v1/tokens/",
        f"/api/v1/projects/{project.slug}/snapshots/",
        f"/api/v1/projects/{project.slug}/gold/",
    ):
        response = engineer_client.post(url, big, content_type="application/json")
        assert response.status_code == 413 and "body" in response.json(), url


@pytest.mark.parametrize(
    "content_type, payload, status",
    [
        ("text/plain", "name=x", 415),
        ("application/json", b"\xff\xfe", 400),
        ("application/json", "{not json", 400),
        ("application/json", "[]", 400),
        ("application/json", "null", 400),
    ],
)
def test_bodies_that_are_not_json_objects_are_refused(engineer_client, project, content_type, payload, status):
    response = engineer_client.post(f"/api/v1/projects/{project.slug}/snapshots/", payload, content_type=content_type)
    assert response.status_code == status and response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "x", "filter": "tier=hard"}, "filter"),
        ({"name": "x", "filter": {"tier": [{"nested": 1}]}}, "filter"),
        ({"name": "x", "filter": {"difficulty_min": 1e308}}, "filter"),
        ({"name": "x", "filter": {"status": ["approved", "maybe"]}}, "filter"),
        ({"name": 5, "stage": ["stage 1"]}, "stage"),
        ({"name": "x", "stage": "stage 1", "seed": 2**40}, "seed"),
        ({"name": "x", "stage": "stage 1", "validation_fraction": "half"}, "validation_fraction"),
        ({"name": "x", "stage": "stage 1", "include_soft_targets": "sometimes"}, "include_soft_targets"),
        ({"name": None, "stage": "stage 1"}, "name"),
    ],
)
def test_wrong_types_in_a_snapshot_request_are_400_naming_the_field(engineer_client, project, body, field):
    response = engineer_client.post(
        f"/api/v1/projects/{project.slug}/snapshots/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.parametrize(
    "path",
    [
        "snapshots/{big}/",
        "snapshots/{big}/download/",
        "examples/{big}/verdicts/",
        "gold/{big}/",
        "prompts/{big}/",
        "tiers/{big}/",
        "stages/{big}/",
    ],
)
def test_ids_too_big_for_the_database_are_404(api, project, path):
    response = api("reviewer").get(f"/api/v1/projects/{project.slug}/" + path.format(big=10**30))
    assert response.status_code == 404


def test_a_project_slug_that_does_not_exist_is_404_like_an_outsiders(api):
    client = api("engineer")
    assert client.get("/api/v1/projects/no-such-project/snapshots/").status_code == 404
    assert client.get("/api/v1/projects/no-such-project/").status_code == 404


@pytest.mark.parametrize("query", ["status=bogus", "content_hash=x&page=2", "cursor=abc"])
def test_snapshot_list_parameters_are_checked(api, project, query):
    response = api("reader").get(f"/api/v1/projects/{project.slug}/snapshots/?{query}")
    assert response.status_code == 400


@pytest.mark.parametrize("query", ["size=%C2%B2", "size=%D9%A3"])
def test_digits_that_are_not_ascii_are_refused_not_crashed_on(api, project, query):
    response = api("reader").get(f"/api/v1/projects/{project.slug}/snapshots/?{query}")
    assert response.status_code == 400 and "size" in response.json()


def test_a_distillation_naming_an_id_too_big_for_the_database_is_a_400(api, project):
    body = {"student_spec": 10**25, "teacher_spec": "²", "stages": [{"snapshot": 10**25}, {"snapshot": "³"}]}
    response = api("engineer").post(
        f"/api/v1/projects/{project.slug}/distillations", body, content_type="application/json"
    )
    assert response.status_code == 400

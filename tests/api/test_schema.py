import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(document):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_the_schema_validates_without_a_single_warning(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3")


def test_every_operation_has_request_and_response_examples(document):
    missing = []
    for path, method, op in operations(document):
        body = op.get("requestBody", {}).get("content", {})
        if body and not any(c.get("examples") for c in body.values()):
            missing.append(f"{method.upper()} {path}: request")
        responses = op["responses"]
        if not any(r.get("content") for code, r in responses.items() if code.startswith("2")):
            continue  # e.g. DELETE answering 204 No Content: nothing to show
        if not any(c.get("examples") for r in responses.values() for c in r.get("content", {}).values()):
            missing.append(f"{method.upper()} {path}: response")
    assert not missing, missing


def test_token_auth_is_a_security_scheme_on_every_api_operation(document):
    scheme = document["components"]["securitySchemes"]["tokenAuth"]
    assert scheme == {"type": "http", "scheme": "bearer", "description": scheme["description"]}
    for path, method, op in operations(document):
        assert {"tokenAuth": []} in op["security"], f"{method} {path}"


def test_the_schema_and_swagger_ui_are_served_without_any_cdn(client, db):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200 and b"/api/v1/projects/{slug}/snapshots/" in schema.content
    page = client.get("/api/docs/").content.decode()
    scripts = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert scripts and all(s.startswith("/static/") or s.startswith("/api/") for s in scripts), scripts
    for asset in (s for s in scripts if s.startswith("/static/")):
        assert finders.find(asset.removeprefix("/static/")), asset


def test_the_examples_endpoint_documents_the_review_queue_filters(document):
    params = {p["name"] for p in document["paths"]["/api/v1/projects/{slug}/examples/"]["get"]["parameters"]}
    from curation.services.review import PARAMS

    assert set(PARAMS) | {"cursor", "size", "slug"} == params

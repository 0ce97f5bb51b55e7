"""Every API endpoint and method, for every role: outsiders 404, too-low roles 403, the rest through."""

import pytest

from curation.models import GoldItem, Snapshot
from tests.factories import ExampleFactory, PromptFactory

ROLES = ["reader", "reviewer", "engineer"]


def objects(project):
    prompt = PromptFactory(project=project, text="Permission prompt")
    example = ExampleFactory(prompt=prompt)
    gold = GoldItem.objects.create(
        project=project, prompt=PromptFactory(project=project, text="Gold one"), reference="R"
    )
    snapshot = Snapshot.objects.create(project=project, name="s")
    return {
        "prompt": prompt.pk,
        "example": example.pk,
        "version": example.version,
        "gold": gold.pk,
        "snapshot": snapshot.pk,
        "tier": project.tiers.first().pk,
        "stage": project.stages.first().pk,
    }


# (method, path under /api/v1/projects/<slug>/, body, lowest role allowed)
ENDPOINTS = [
    ("get", "", None, "reader"),
    ("get", "prompts/", None, "reader"),
    ("get", "prompts/{prompt}/", None, "reader"),
    ("get", "examples/", None, "reader"),
    ("get", "examples/{example}/", None, "reader"),
    ("get", "examples/{example}/verdicts/", None, "reader"),
    (
        "post",
        "examples/{example}/verdicts/",
        {"action": "comment", "version": "{version}", "comment": "ok"},
        "reviewer",
    ),
    ("get", "tiers/", None, "reader"),
    ("get", "tiers/{tier}/", None, "reader"),
    ("get", "stages/", None, "reader"),
    ("get", "stages/{stage}/", None, "reader"),
    ("get", "gold/", None, "reviewer"),
    ("get", "gold/{gold}/", None, "reviewer"),
    ("post", "gold/", {"prompt_text": "A new gold question for {role}?", "reference": "Yes."}, "reviewer"),
    ("patch", "gold/{gold}/", {"reference": "Better."}, "reviewer"),
    ("get", "snapshots/", None, "reader"),
    ("get", "snapshots/{snapshot}/", None, "reader"),
    ("post", "snapshots/", {"name": "s", "stage": "stage 1"}, "engineer"),
    ("get", "snapshots/{snapshot}/download/", None, "reader"),
]


def call(client, project, ids, method, path, body):
    url = f"/api/v1/projects/{project.slug}/" + path.format(**ids)
    if body is None:
        return getattr(client, method)(url)
    data = {k: (v.format(**ids) if isinstance(v, str) else v) for k, v in body.items()}
    if "version" in data:
        data["version"] = int(data["version"])
    return getattr(client, method)(url, data, content_type="application/json")


@pytest.mark.parametrize("method, path, body, minimum", ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
def test_each_role_gets_what_its_rank_allows(api, project, method, path, body, minimum):
    ids = {**objects(project), "role": "outsider"}
    client = api("outsider", "stranger")
    assert call(client, project, ids, method, path, body).status_code == 404
    for role in ROLES:
        client = api(role, f"{role}-user")
        ids["role"] = role
        status = call(client, project, ids, method, path, body).status_code
        if ROLES.index(role) < ROLES.index(minimum):
            assert status == 403, (role, status)
        else:
            # 409: a download of a snapshot that is still building; 2xx otherwise.
            assert status in (200, 201, 202, 409), (role, status)


def test_anonymous_clients_get_401_everywhere(client, project):
    ids = {**objects(project), "role": "anonymous"}
    for method, path, body, _ in ENDPOINTS:
        assert call(client, project, ids, method, path, body).status_code == 401
    assert client.get("/api/v1/projects/").status_code == 401
    assert client.get("/api/v1/tokens/").status_code == 401


def test_the_project_list_shows_only_my_projects_with_my_role(api, project):
    from tests.factories import ProjectFactory

    ProjectFactory(name="Not mine")
    body = api("reviewer").get("/api/v1/projects/").json()
    assert [(p["slug"], p["role"]) for p in body["results"]] == [(project.slug, "reviewer")]


def test_ids_of_another_project_are_404_even_for_its_members(api, project):
    from tests.factories import MembershipFactory, ProjectFactory

    other = ProjectFactory()
    theirs = objects(other)
    client = api("engineer")
    MembershipFactory(user=client.get("/api/v1/tokens/").wsgi_request.user, project=other, role="engineer")
    for path in (
        "prompts/{prompt}/",
        "examples/{example}/",
        "examples/{example}/verdicts/",
        "gold/{gold}/",
        "snapshots/{snapshot}/",
        "tiers/{tier}/",
        "stages/{stage}/",
    ):
        assert client.get(f"/api/v1/projects/{project.slug}/" + path.format(**theirs)).status_code == 404, path
    verdict = client.post(
        f"/api/v1/projects/{project.slug}/examples/{theirs['example']}/verdicts/",
        {"action": "approve", "version": 1},
        content_type="application/json",
    )
    assert verdict.status_code == 404


def test_readers_never_see_gold_prompts_or_their_examples(api, project):
    gold_prompt = PromptFactory(project=project, text="The exam question")
    GoldItem.objects.create(project=project, prompt=gold_prompt, reference="The answer")
    gold_example = ExampleFactory(prompt=gold_prompt)
    reader, reviewer = api("reader"), None
    prompts = reader.get(f"/api/v1/projects/{project.slug}/prompts/").json()["results"]
    examples = reader.get(f"/api/v1/projects/{project.slug}/examples/").json()["results"]
    assert gold_prompt.pk not in [p["id"] for p in prompts]
    assert gold_example.pk not in [e["id"] for e in examples]
    assert reader.get(f"/api/v1/projects/{project.slug}/examples/{gold_example.pk}/").status_code == 404
    reviewer = api("reviewer")
    assert reviewer.get(f"/api/v1/projects/{project.slug}/examples/{gold_example.pk}/").status_code == 200

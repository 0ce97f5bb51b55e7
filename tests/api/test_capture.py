"""POST /api/v1/projects/<slug>/capture: batches into the pool, idempotent by client id, all or nothing."""

import pytest
from django.urls import reverse

from curation.models import ApiToken, CapturedRequest, Prompt
from tests.factories import MembershipFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(project):
    return reverse("api-capture", args=[project.slug])


def post(client, project, items):
    return client.post(url(project), {"items": items}, content_type="application/json")


BATCH = [
    {
        "client_id": "r1",
        "prompt": "Where is my parcel?",
        "answer": "shipping",
        "model": "student-v3",
        "timestamp": "2026-12-04T15:30:00Z",
        "metadata": {"region": "eu"},
    },
    {"client_id": "r2", "messages": [{"role": "user", "content": "Refund please"}]},
]


def test_a_batch_is_accepted_into_the_pool_as_production_prompts(api, project):
    response = post(api("engineer"), project, BATCH)
    assert response.status_code == 202, response.content
    assert response.json() == {"received": 2, "stored": 2, "replayed": 0, "new_prompts": 2}
    prompts = Prompt.objects.filter(project=project).order_by("id")
    assert [p.source for p in prompts] == ["production", "production"]
    assert prompts[0].metadata == {"region": "eu", "model": "student-v3"}
    first = CapturedRequest.objects.get(client_id="r1")
    assert (first.answer, first.model_name, first.captured_at.isoformat()) == (
        "shipping",
        "student-v3",
        "2026-12-04T15:30:00+00:00",
    )
    assert CapturedRequest.objects.get(client_id="r2").prompt.messages == BATCH[1]["messages"]


def test_resending_a_batch_stores_nothing_twice(api, project):
    client = api("engineer")
    post(client, project, BATCH)
    again = post(
        client, project, [*BATCH, {"client_id": "r3", "prompt": "new one"}, {"client_id": "r3", "prompt": "x"}]
    )
    assert again.status_code == 202
    assert again.json() == {"received": 4, "stored": 1, "replayed": 3, "new_prompts": 1}
    assert CapturedRequest.objects.filter(project=project).count() == 3
    assert Prompt.objects.filter(project=project).count() == 3


def test_a_prompt_the_project_holds_is_not_duplicated(api, project):
    existing = PromptFactory(project=project, text="Where is my   PARCEL?")
    response = post(api("engineer"), project, [{"client_id": "a", "prompt": "where is my parcel?"}])
    assert response.json()["new_prompts"] == 0
    assert CapturedRequest.objects.get().prompt == existing
    existing.refresh_from_db()
    assert existing.source == "imported"


@pytest.mark.parametrize(
    "bad, field, words",
    [
        ({"client_id": "x"}, "items.1.prompt", "either 'prompt'"),
        ({"client_id": "x", "prompt": "a", "messages": [{"role": "user", "content": "a"}]}, "items.1.prompt", "one"),
        ({"client_id": "", "prompt": "a"}, "items.1.client_id", "non-empty"),
        ({"client_id": "x" * 101, "prompt": "a"}, "items.1.client_id", "at most 100"),
        ({"client_id": "x", "prompt": 5}, "items.1.prompt", "non-empty string"),
        ({"client_id": "x", "messages": [{"role": "robot", "content": "a"}]}, "items.1.messages", "role"),
        ({"client_id": "x", "prompt": "a", "timestamp": "yesterday"}, "items.1.timestamp", "ISO 8601"),
        ({"client_id": "x", "prompt": "a", "metadata": [1]}, "items.1.metadata", "object"),
        ({"client_id": "x", "prompt": "a", "answer": 3}, "items.1.answer", "string"),
        ({"client_id": "x", "prompt": "a", "model": ["m"]}, "items.1.model", "string"),
        ({"client_id": "x", "prompt": "a", "colour": "red"}, "items.1", "Unknown field(s) colour"),
        ("just text", "items.1", "An object"),
    ],
)
def test_one_bad_item_refuses_the_batch_naming_it_and_stores_nothing(api, project, bad, field, words):
    response = post(api("engineer"), project, [BATCH[0], bad])
    assert response.status_code == 400
    errors = response.json()
    assert words in " ".join(errors[field]), errors
    assert not Prompt.objects.filter(project=project).exists()
    assert not CapturedRequest.objects.exists()


@pytest.mark.parametrize(
    "body, words",
    [
        ({"items": []}, "non-empty"),
        ({"items": {"a": 1}}, "non-empty"),
        ({"rows": []}, "one key, items"),
        ([1], "items"),
    ],
)
def test_a_malformed_body_is_a_clear_400(api, project, body, words):
    response = api("engineer").post(url(project), body, content_type="application/json")
    assert response.status_code == 400
    assert words in " ".join(response.json()["items"])


def test_too_many_items_are_refused(api, project):
    from curation.services.datasets import MAX_CAPTURE_ITEMS

    items = [{"client_id": str(i), "prompt": f"p{i}"} for i in range(MAX_CAPTURE_ITEMS + 1)]
    response = post(api("engineer"), project, items)
    assert response.status_code == 400 and "At most 1,000 requests" in response.json()["items"][0]
    assert not Prompt.objects.exists()


def test_readers_and_reviewers_may_not_capture(api, project):
    assert post(api("reviewer"), project, BATCH).status_code == 403
    assert not CapturedRequest.objects.exists()


@pytest.fixture
def capture_client(client, project):
    user = UserFactory(username="prod-service")
    MembershipFactory(user=user, project=project, role="engineer")
    _, key = ApiToken.issue(user, "production", ApiToken.Scope.CAPTURE)
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client


def test_a_capture_token_captures_and_does_nothing_else(capture_client, project):
    assert post(capture_client, project, BATCH).status_code == 202
    refused = [
        capture_client.get(reverse("api-prompts-list", args=[project.slug])),
        capture_client.get(reverse("api-projects-list")),
        capture_client.get(reverse("api-tokens-list")),
        capture_client.post(reverse("api-tokens-list"), {"name": "escalate"}, content_type="application/json"),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert "capture-only" in refused[0].json()["detail"]
    assert ApiToken.objects.count() == 1


def test_a_capture_token_can_be_made_over_the_api_and_on_the_tokens_page(api, client_as):
    client = api("engineer")
    made = client.post(
        reverse("api-tokens-list"), {"name": "prod", "scope": "capture"}, content_type="application/json"
    )
    assert made.status_code == 201 and made.json()["scope"] == "capture"
    bad = client.post(reverse("api-tokens-list"), {"name": "prod", "scope": "root"}, content_type="application/json")
    assert bad.status_code == 400 and "scope" in bad.json()
    client.defaults.pop("HTTP_AUTHORIZATION")
    page = client_as("engineer")
    assert page.post(reverse("token-list"), {"name": "svc", "scope": "capture"}).status_code == 302
    assert ApiToken.objects.get(name="svc").scope == "capture"
    assert "Capture-only" in page.get(reverse("token-list")).content.decode()

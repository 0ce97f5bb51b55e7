import pytest

from curation.models import GoldItem, Prompt
from tests.factories import ProjectFactory, PromptFactory


def gold_url(project, pk=None):
    return f"/api/v1/projects/{project.slug}/gold/" + (f"{pk}/" if pk else "")


def post(client, project, **body):
    return client.post(gold_url(project), body, content_type="application/json")


def test_a_reviewer_adds_a_gold_item_from_new_text(api, project):
    response = post(
        api("reviewer", "rita"), project, prompt_text="Where is my VAT number?", reference="Settings.", tier="easy"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["prompt"]["text"] == "Where is my VAT number?" and body["tier"] == "easy" and body["confirmed"]
    assert body["created_by"] == "rita"
    prompt = Prompt.objects.get(pk=body["prompt"]["id"])
    assert prompt.source == "human" and GoldItem.objects.get(pk=body["id"]).content_hash == prompt.content_hash


def test_gold_from_an_existing_prompt_and_from_chat_messages(api, project):
    client = api("reviewer")
    prompt = PromptFactory(project=project, text="Existing question")
    assert post(client, project, prompt=prompt.pk, reference="A.").json()["prompt"]["id"] == prompt.pk
    chat = post(client, project, messages=[{"role": "user", "content": "Chat question"}], reference="B.")
    assert chat.status_code == 201 and chat.json()["prompt"]["messages"][0]["content"] == "Chat question"


def test_text_equal_to_an_existing_prompt_after_normalisation_reuses_it_and_refuses_a_second_item(api, project):
    client = api("reviewer")
    prompt = PromptFactory(project=project, text="Hello World")
    first = post(client, project, prompt_text="  hello   WORLD ", reference="Hi.")
    assert first.json()["prompt"]["id"] == prompt.pk
    second = post(client, project, prompt_text="HELLO WORLD", reference="Hi again.")
    assert second.status_code == 400 and "already gold item" in second.json()["prompt_text"][0]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"reference": "A."}, "prompt"),
        ({"prompt": 10**9, "reference": "A."}, "prompt"),
        ({"prompt": "seven", "reference": "A."}, "prompt"),
        ({"prompt_text": "Q", "messages": [{"role": "user", "content": "Q"}], "reference": "A."}, "messages"),
        ({"prompt_text": "Q"}, "reference"),
        ({"prompt_text": "Q", "reference": "   "}, "reference"),
        ({"prompt_text": "Q", "reference": "A.", "tier": "mythic"}, "tier"),
        ({"messages": [{"role": "robot", "content": "Q"}], "reference": "A."}, "messages"),
        ({"messages": [], "reference": "A."}, "messages"),
        ({"prompt_text": "x" * 100_001, "reference": "A."}, "prompt_text"),
        ({"prompt_text": "Q", "reference": "A.", "confirmed": "maybe"}, "confirmed"),
    ],
)
def test_a_bad_gold_item_is_400_naming_the_field(api, project, body, field):
    response = post(api("reviewer"), project, **body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not GoldItem.objects.exists()


def test_another_projects_prompt_cannot_become_gold_here(api, project):
    theirs = PromptFactory(project=ProjectFactory(), text="Theirs")
    response = post(api("reviewer"), project, prompt=theirs.pk, reference="A.")
    assert response.status_code == 400 and "No prompt" in response.json()["prompt"][0]


def test_classification_gold_needs_one_of_the_labels(api, db):
    project = ProjectFactory(task_type="classification", labels=["billing", "bug"])
    from django.test import Client

    from curation.models import ApiToken
    from tests.factories import MembershipFactory, UserFactory

    user = UserFactory(username="clara")
    MembershipFactory(user=user, project=project, role="reviewer")
    client = Client(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(user, 't')[1]}")
    assert post(client, project, prompt_text="Charged twice", label="shipping").status_code == 400
    ok = post(client, project, prompt_text="Charged twice", label="billing")
    assert ok.status_code == 201 and ok.json()["label"] == "billing"


def test_a_gold_item_is_corrected_with_patch_but_its_prompt_never_changes(api, project):
    client = api("reviewer")
    item = post(client, project, prompt_text="Q?", reference="Old.").json()
    response = client.patch(
        gold_url(project, item["id"]),
        {"reference": "New.", "tier": "hard", "confirmed": False},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert (response.json()["reference"], response.json()["tier"], response.json()["confirmed"]) == (
        "New.",
        "hard",
        False,
    )
    moved = client.patch(gold_url(project, item["id"]), {"prompt": 1}, content_type="application/json")
    assert moved.status_code == 400 and "prompt" in moved.json()
    emptied = client.patch(gold_url(project, item["id"]), {"reference": ""}, content_type="application/json")
    assert emptied.status_code == 400 and "reference" in emptied.json()
    assert (
        client.put(gold_url(project, item["id"]), {"reference": "x"}, content_type="application/json").status_code
        == 405
    )
    assert client.delete(gold_url(project, item["id"])).status_code == 405


def test_a_new_gold_item_keeps_its_prompt_out_of_the_next_snapshot(api, project, approved, build):
    example = approved("Is this an exam question?")
    approved("An ordinary question")
    post(api("reviewer"), project, prompt=example.prompt_id, reference="Yes.")
    snap = build(project)
    assert snap.row_count == 1 and snap.excluded == {"gold_prompt": 1}


def test_the_api_takes_the_purpose_filters_by_it_and_refuses_a_bad_one(api, project):
    client = api("reviewer")
    url = f"/api/v1/projects/{project.slug}/gold/"
    created = client.post(
        url, {"prompt_text": "Q1", "reference": "A.", "purpose": "dev"}, content_type="application/json"
    )
    assert created.status_code == 201 and created.json()["purpose"] == "dev"
    other = client.post(url, {"prompt_text": "Q2", "reference": "B."}, content_type="application/json")
    assert other.json()["purpose"] == "test"
    bad = client.post(url, {"prompt_text": "Q3", "reference": "C.", "purpose": "x"}, content_type="application/json")
    assert bad.status_code == 400 and "purpose" in bad.json()
    assert [i["purpose"] for i in client.get(url + "?purpose=dev").json()["results"]] == ["dev"]
    assert client.get(url + "?purpose=nope").status_code == 400
    pk = other.json()["id"]
    assert client.patch(f"{url}{pk}/", {"purpose": "dev"}, content_type="application/json").json()["purpose"] == "dev"
    assert api("reader").get(url + "?purpose=dev").status_code == 403
    # The filter is the list's: a write that carries it in its address is answered, not a 500.
    client = api("reviewer", "rita")
    moved = client.patch(f"{url}{pk}/?purpose=dev", {"purpose": "test"}, content_type="application/json")
    assert moved.status_code == 200 and moved.json()["purpose"] == "test"
    made = client.post(
        url + "?purpose=test",
        {"prompt_text": "Q4", "reference": "D.", "purpose": "dev"},
        content_type="application/json",
    )
    assert made.status_code == 201 and made.json()["purpose"] == "dev"

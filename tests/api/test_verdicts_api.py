import pytest

from curation.models import GoldItem, Verdict
from curation.services.review import decisions as review
from tests.factories import ExampleFactory, UserFactory


@pytest.fixture
def example(project):
    return ExampleFactory(prompt__project=project, response="Teacher text.")


def verdicts_url(project, example):
    return f"/api/v1/projects/{project.slug}/examples/{example.pk}/verdicts/"


def decide(client, project, example, **body):
    return client.post(verdicts_url(project, example), body, content_type="application/json")


def test_an_approval_with_the_current_version_is_recorded(api, project, example):
    response = decide(api("reviewer"), project, example, action="approve", version=example.version, comment="good")
    assert response.status_code == 201
    body = response.json()
    assert body["example"]["status"] == "approved" and body["example"]["version"] == example.version + 1
    assert body["verdict"]["action"] == "approve" and body["verdict"]["comment"] == "good"
    assert body["verdict"]["changes"]["status"] == ["pending", "approved"]


def test_a_stale_version_is_409_with_what_changed_and_nothing_written(api, project, example):
    loaded = example.version
    review.edit(example, UserFactory(username="bob"), loaded, "Bob's answer.")
    response = decide(api("reviewer"), project, example, action="edit", version=loaded, text="My answer.")
    assert response.status_code == 409
    body = response.json()
    assert "bob" in body["detail"] and body["current_version"] == loaded + 1
    assert body["changes"][0]["user"] == "bob"
    assert body["changes"][0]["changes"]["response"] == ["Teacher text.", "Bob's answer."]
    assert body["example"]["response"] == "Bob's answer."
    example.refresh_from_db()
    assert example.response == "Bob's answer." and Verdict.objects.filter(example=example).count() == 1


@pytest.mark.parametrize(
    "body, check",
    [
        ({"action": "reject"}, lambda e: e.status == "rejected"),
        ({"action": "edit", "text": "Better."}, lambda e: e.response == "Better." and e.edited),
        ({"action": "grade", "grade": 4}, lambda e: e.grade == 4),
        ({"action": "grade", "grade": None}, lambda e: e.grade is None),
        ({"action": "tier", "tier": "hard"}, lambda e: e.tier.name == "hard" and e.tier_locked),
        ({"action": "tier", "tier": None}, lambda e: e.tier is None),
        ({"action": "stage", "stage": "stage 2"}, lambda e: e.stage.name == "stage 2"),
        ({"action": "promote"}, lambda e: e.stage.name == "stage 1"),
        (
            {"action": "comment", "comment": "Check the VAT rule."},
            lambda e: e.verdicts.get().comment == "Check the VAT rule.",
        ),
        (
            {"action": "gold", "reference": "The gold answer."},
            lambda e: GoldItem.objects.get(prompt=e.prompt).reference == "The gold answer.",
        ),
    ],
)
def test_each_action_does_what_the_review_queue_does(api, project, example, body, check):
    response = decide(api("reviewer"), project, example, version=example.version, **body)
    assert response.status_code == 201, response.content
    example.refresh_from_db()
    assert check(example)


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "action"),
        ({"action": "approve"}, "version"),
        ({"action": "approve", "version": "three"}, "version"),
        ({"action": "approve", "version": 0}, "version"),
        ({"action": "dance", "version": 1}, "action"),
        ({"action": "edit", "version": 1}, "text"),
        ({"action": "edit", "version": 1, "text": "   "}, "text"),
        ({"action": "edit", "version": 1, "text": "x" * 100_001}, "text"),
        ({"action": "grade", "version": 1, "grade": 6}, "grade"),
        ({"action": "grade", "version": 1}, "grade"),
        ({"action": "tier", "version": 1, "tier": "legendary"}, "tier"),
        ({"action": "stage", "version": 1, "stage": "stage 99"}, "stage"),
        ({"action": "demote", "version": 1}, "action"),
        ({"action": "label", "version": 1, "label": "nope"}, "label"),
        ({"action": "comment", "version": 1, "comment": ""}, "comment"),
        ({"action": "gold", "version": 1}, "reference"),
    ],
)
def test_a_bad_decision_is_400_naming_the_field_and_writes_nothing(api, project, example, body, field):
    response = decide(api("reviewer"), project, example, **body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Verdict.objects.filter(example=example).exists()


def test_a_decision_that_is_not_a_json_object_is_400(api, project, example):
    client = api("reviewer")
    assert client.post(verdicts_url(project, example), [1, 2], content_type="application/json").status_code == 400
    assert client.post(verdicts_url(project, example), "{broken", content_type="application/json").status_code == 400


def test_the_history_lists_every_verdict_oldest_first(api, project, example):
    alice = UserFactory(username="alice")
    done = review.approve(example, alice, example.version)
    review.grade(example, alice, done.version, 5)
    body = api("reader").get(verdicts_url(project, example)).json()
    assert [(v["action"], v["user"], v["version"]) for v in body["results"]] == [
        ("approve", "alice", 2),
        ("grade", "alice", 3),
    ]


def test_an_edit_to_the_same_text_records_no_verdict(api, project, example):
    response = decide(api("reviewer"), project, example, action="edit", version=example.version, text="Teacher text.")
    assert response.status_code == 201 and response.json()["verdict"] is None


def test_second_pass_rules_hold_over_the_api(api, project, example):
    project.require_second_approval = True
    project.save()
    client = api("reviewer")
    first = decide(client, project, example, action="approve", version=example.version).json()["example"]
    assert first["status"] == "pending" and first["approvals"] == 1
    again = decide(client, project, example, action="approve", version=first["version"])
    assert again.status_code == 400 and "another reviewer" in again.json()["action"][0]


def test_original_response_is_the_teachers_text_before_and_after_an_edit(api, project, example):
    client = api("reviewer")
    before = decide(client, project, example, action="comment", version=example.version, comment="ok").json()
    assert before["example"]["original_response"] == before["example"]["response"] == "Teacher text."
    edited = decide(
        client, project, example, action="edit", version=before["example"]["version"], text="Better."
    ).json()["example"]
    assert edited["response"] == "Better." and edited["original_response"] == "Teacher text." and edited["edited"]


def test_the_api_and_the_focus_view_refuse_with_the_same_words(api, project, example, client_as):
    """Both surfaces go through review.apply: one lookup, one message."""
    from django.utils.html import escape

    response = decide(api("reviewer"), project, example, action="tier", version=example.version, tier="legendary")
    message = response.json()["tier"][0]
    assert message.startswith("No tier 'legendary' here")
    page = client_as("reviewer").post(
        f"/p/{project.slug}/examples/{example.pk}/tier/", {"version": example.version, "tier": "legendary"}
    )
    assert page.status_code == 400 and escape(f"tier: {message}") in page.content.decode()

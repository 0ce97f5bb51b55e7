"""Reviewer statistics: speed from the gaps between decisions, agreement with the second pass and gold."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from curation.models import GoldItem, Verdict
from curation.services.review import reviewer_stats
from tests.factories import ExampleFactory, MembershipFactory, ProjectFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    project = ProjectFactory(task_type="classification", labels=["a", "b"])
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    examples = [ExampleFactory(project=project, prompt__project=project, label="a") for _ in range(4)]
    examples[2].label = "b"
    examples[2].save()
    prompt = examples[0].prompt
    GoldItem.objects.create(project=project, prompt=prompt, label="a", confirmed=True)
    start = timezone.now() - timedelta(hours=2)

    def decide(user, example, action, seconds):
        verdict = Verdict.objects.create(project=project, example=example, user=user, action=action)
        Verdict.objects.filter(pk=verdict.pk).update(created_at=start + timedelta(seconds=seconds))

    decide(alice, examples[0], "approve", 0)
    decide(alice, examples[1], "approve", 30)
    decide(alice, examples[2], "reject", 90)
    decide(alice, examples[3], "approve", 90 + 3600)  # after a break: not active time
    decide(alice, examples[3], "edit", 90 + 3610)
    decide(bob, examples[0], "approve", 200)
    decide(bob, examples[1], "reject", 260)
    bulk = Verdict.objects.create(project=project, example=examples[2], user=bob, action="approve")
    Verdict.objects.filter(pk=bulk.pk).update(bulk_id="00000000-0000-0000-0000-000000000001")
    return project


def test_speed_counts_active_time_only(history):
    alice = next(r for r in reviewer_stats(history)["reviewers"] if r["username"] == "alice")
    assert alice["decisions"] == 4 and alice["edits"] == 1
    # Gaps 30 s, 60 s and a 3600 s break counted as 600 s: 690 s active for 4 decisions.
    assert alice["per_hour"] == pytest.approx(4 / (690 / 3600))
    assert alice["seconds_per_example"] == 45


def test_agreement_with_the_second_pass_and_with_gold(history):
    by_name = {r["username"]: r for r in reviewer_stats(history)["reviewers"]}
    assert by_name["alice"]["second_pass"]["n"] == 2 and by_name["alice"]["second_pass"]["agree"] == 1
    assert by_name["bob"]["second_pass"]["agree"] == 1
    low, high = by_name["alice"]["second_pass"]["low"], by_name["alice"]["second_pass"]["high"]
    assert 0 < low < 0.5 < high < 1
    assert by_name["alice"]["gold"]["n"] == 1 and by_name["alice"]["gold"]["agree"] == 1
    assert by_name["bob"]["decisions"] == 2, "the bulk row is not a decision"


def test_label_distribution_of_approved_examples(history):
    alice = next(r for r in reviewer_stats(history)["reviewers"] if r["username"] == "alice")
    assert alice["labels"] == [("a", 3, 1.0)]


def test_the_window_leaves_older_decisions_out(history):
    Verdict.objects.filter(user__username="bob").update(created_at=timezone.now() - timedelta(days=40))
    names = [r["username"] for r in reviewer_stats(history, days=30)["reviewers"]]
    assert names == ["alice"]


def test_the_page_shows_reviewers_and_a_chart_to_engineers(client, history):
    engineer = UserFactory(username="erin")
    MembershipFactory(project=history, user=engineer, role="engineer")
    client.force_login(engineer)
    response = client.get(reverse("reviewer-stats", args=[history.slug]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "alice" in html and "bob" in html and "<svg" in html and "n=2" in html
    assert client.get(reverse("reviewer-stats", args=[history.slug]), {"days": "0"}).status_code == 400


def test_usernames_are_escaped(client):
    project = ProjectFactory()
    evil = UserFactory(username="<b>x</b>")
    example = ExampleFactory(project=project, prompt=PromptFactory(project=project))
    Verdict.objects.create(project=project, example=example, user=evil, action="approve")
    root = UserFactory(username="root", is_superuser=True)
    client.force_login(root)
    html = client.get(reverse("reviewer-stats", args=[project.slug])).content.decode()
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html

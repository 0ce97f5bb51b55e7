"""``review.stage_ready``: sent once when a curriculum stage's last pending example is decided."""

import pytest

from curation.models import Stage, WebhookDelivery, WebhookEndpoint
from curation.services import review
from curation.services.review import apply_bulk, filtered_examples, plan_bulk
from tests.factories import ExampleFactory, PromptFactory, UserFactory

EVENT = "review.stage_ready"


@pytest.fixture
def hook(project):
    return WebhookEndpoint.objects.create(
        project=project, url="http://127.0.0.1:9/hook", events=[EVENT], secret=WebhookEndpoint.new_secret()
    )


@pytest.fixture
def stage1(project):
    return project.stages.get(name="stage 1")


def _examples(project, stage, n):
    return [ExampleFactory(prompt=PromptFactory(project=project), stage=stage) for _ in range(n)]


def _sent():
    return list(WebhookDelivery.objects.filter(event=EVENT).order_by("id"))


def _decide(example, user, action="approve"):
    example.refresh_from_db()
    return review.apply(example, user, action, example.version)


def test_it_is_sent_once_when_the_last_pending_example_of_a_stage_is_decided(project, hook, stage1):
    alice = UserFactory()
    first, second = _examples(project, stage1, 2)
    _decide(first, alice)
    assert _sent() == []  # one example still pending
    _decide(second, alice, "reject")
    (delivery,) = _sent()
    assert delivery.payload["data"]["stage"] == {"id": stage1.pk, "name": "stage 1", "order": 1, "examples": 2}
    assert delivery.payload["data"]["project"] == project.slug
    _decide(second, alice)  # changing a decision in a ready stage is no new transition
    assert len(_sent()) == 1
    assert Stage.objects.get(pk=stage1.pk).review_ready


def test_a_pending_example_moved_in_rearms_it(project, hook, stage1):
    alice = UserFactory()
    (decided,) = _examples(project, stage1, 1)
    _decide(decided, alice)
    assert len(_sent()) == 1
    (newcomer,) = _examples(project, project.pool, 1)
    _decide(newcomer, alice, "promote")  # pending, into stage 1
    assert not Stage.objects.get(pk=stage1.pk).review_ready
    _decide(newcomer, alice)
    assert len(_sent()) == 2


def test_moving_the_last_pending_example_out_makes_the_stage_ready(project, hook, stage1):
    alice = UserFactory()
    done, pending = _examples(project, stage1, 2)
    _decide(done, alice)
    _decide(pending, alice, "demote")  # back to the pool: stage 1 holds only decided examples
    (delivery,) = _sent()
    assert delivery.payload["data"]["stage"]["name"] == "stage 1"


def test_the_pool_and_empty_stages_are_never_ready(project, hook):
    alice = UserFactory()
    (example,) = _examples(project, project.pool, 1)
    _decide(example, alice)
    assert _sent() == []


def test_a_bulk_approval_sends_it_and_its_undo_rearms_it(project, hook, stage1):
    alice = UserFactory()
    _examples(project, stage1, 3)
    queryset, _ = filtered_examples(project, {"stage": "stage 1"})
    bulk = apply_bulk(project, alice, queryset, plan_bulk(project, "approve"), expected=3)
    assert len(_sent()) == 1
    review.undo_bulk(bulk, alice)
    assert not Stage.objects.get(pk=stage1.pk).review_ready
    queryset, _ = filtered_examples(project, {"stage": "stage 1"})
    apply_bulk(project, alice, queryset, plan_bulk(project, "approve"), expected=3)
    assert len(_sent()) == 2


def test_undoing_the_last_decision_rearms_it(project, hook, stage1):
    alice = UserFactory()
    (example,) = _examples(project, stage1, 1)
    decided = _decide(example, alice).example
    verdict = decided.verdicts.order_by("-id").first()
    review.undo_decision(decided, alice, verdict.pk, decided.version)
    assert not Stage.objects.get(pk=stage1.pk).review_ready
    _decide(example, alice)
    assert len(_sent()) == 2

import pytest

from curation.models import GoldItem, Verdict
from curation.services.review import decisions as review
from tests.factories import ExampleFactory, UserFactory


@pytest.fixture
def example(project):
    return ExampleFactory(prompt__project=project, response="Teacher text.")


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


def test_an_approval_bumps_the_version_and_writes_a_verdict(example, alice):
    done = review.approve(example, alice, example.version)
    assert done.status == "approved" and done.version == example.version + 1
    verdict = Verdict.objects.get(example=example)
    assert verdict.action == "approve" and verdict.user == alice and verdict.version == done.version
    assert verdict.changes["status"] == ["pending", "approved"]


def test_a_stale_version_is_refused_and_says_what_changed(example, alice, bob):
    loaded = example.version
    review.edit(example, alice, loaded, "Alice's better answer.")
    with pytest.raises(review.StaleExample) as err:
        review.edit(example, bob, loaded, "Bob's answer.")
    example.refresh_from_db()
    assert example.response == "Alice's better answer."
    assert "alice" in str(err.value)
    assert err.value.changes()[0]["changes"]["response"] == ["Teacher text.", "Alice's better answer."]
    assert Verdict.objects.filter(example=example).count() == 1


def test_an_edit_keeps_the_teachers_original_and_drops_stale_soft_targets(example, alice):
    example.soft_targets = "shards/x-00000.safetensors#k"
    example.save()
    done = review.edit(example, alice, example.version, "Edited.")
    assert done.response == "Edited." and done.original_response == "Teacher text." and done.edited
    assert done.soft_targets == ""


def test_a_second_edit_keeps_the_teachers_text_and_editing_back_undoes_the_edit(example, alice):
    first = review.edit(example, alice, example.version, "Edited.")
    second = review.edit(first, alice, first.version, "Edited again.")
    assert second.original_response == second.teacher_response == "Teacher text." and second.edited
    back = review.edit(second, alice, second.version, "Teacher text.")
    assert (
        not back.edited and back.original_response == "" and back.response == back.teacher_response == "Teacher text."
    )
    back.refresh_from_db()
    assert not back.edited and back.original_response == ""


def test_second_pass_needs_a_different_reviewer(example, alice, bob):
    example.project.require_second_approval = True
    example.project.save()
    first = review.approve(example, alice, example.version)
    assert first.status == "pending" and first.approvals == 1
    with pytest.raises(review.ReviewError, match="another reviewer"):
        review.approve(example, alice, first.version)
    second = review.approve(example, bob, first.version)
    assert second.status == "approved" and second.approvals == 2


def test_second_pass_disagreement_is_a_conflict_until_settled(example, alice, bob):
    example.project.require_second_approval = True
    example.project.save()
    first = review.approve(example, alice, example.version)
    disputed = review.reject(example, bob, first.version)
    assert disputed.conflict and disputed.status == "pending"
    settled = review.reject(example, alice, disputed.version)
    assert not settled.conflict and settled.status == "rejected"


def test_tier_set_by_a_human_is_locked(example, alice):
    hard = example.project.tiers.get(name="hard")
    done = review.set_tier(example, alice, example.version, hard)
    assert done.tier == hard and done.tier_locked


def test_promote_and_demote_walk_the_stages(example, alice):
    promoted = review.promote(example, alice, example.version)
    assert promoted.stage.name == "stage 1"
    back = review.demote(promoted, alice, promoted.version)
    assert back.stage.is_pool
    with pytest.raises(review.ReviewError, match="pool"):
        review.demote(back, alice, back.version)


def test_bad_grades_and_labels_are_refused(example, alice):
    with pytest.raises(review.ReviewError):
        review.grade(example, alice, example.version, 9)
    with pytest.raises(review.ReviewError):
        review.set_label(example, alice, example.version, "nonsense")


def test_add_to_gold_confirms_a_gold_item(example, alice):
    gold = review.add_to_gold(example, alice, example.version, reference="The right answer.")
    assert gold.confirmed and gold.content_hash == example.prompt.content_hash
    assert GoldItem.objects.filter(project=example.project).count() == 1
    with pytest.raises(review.ReviewError):
        review.add_to_gold(example, alice, None, reference="  ")

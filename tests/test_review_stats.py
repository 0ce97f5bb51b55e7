import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from curation.models import Verdict
from curation.services.review import agreement, cohens_kappa, reviewed_per_day
from curation.services.review import decisions as review
from tests.factories import ExampleFactory, UserFactory


@pytest.fixture
def raters(db):
    return UserFactory(username="ann"), UserFactory(username="ben"), UserFactory(username="cy")


def decide(example, user, action):
    Verdict.objects.create(project=example.project, example=example, user=user, action=action)


def test_kappa_matches_a_hand_computation(project, raters):
    ann, ben, _ = raters
    # 10 doubly reviewed examples: both approve 5, both reject 2,
    # ann approves/ben rejects 2, ann rejects/ben approves 1.
    plan = (
        [("approve", "approve")] * 5
        + [("reject", "reject")] * 2
        + [("approve", "reject")] * 2
        + [("reject", "approve")]
    )
    for first, second in plan:
        example = ExampleFactory(prompt__project=project)
        decide(example, ann, first)
        decide(example, ben, second)
    # By hand: po = 7/10; ann approves 7/10, ben approves 6/10; pe = .7*.6 + .3*.4 = .54;
    # kappa = (.7 - .54) / (1 - .54) = .16 / .46 = 0.347826...
    result = agreement(project)
    assert result.examples == 10
    assert result.observed == pytest.approx(0.7)
    assert result.expected == pytest.approx(0.54)
    assert result.kappa == pytest.approx(0.16 / 0.46)


def test_only_each_reviewers_first_decision_and_only_two_different_reviewers_count(project, raters):
    ann, ben, cy = raters
    settled = ExampleFactory(prompt__project=project)
    decide(settled, ann, "approve")
    decide(settled, ben, "reject")
    decide(settled, ann, "reject")  # settling the conflict is not a second opinion
    decide(settled, cy, "approve")  # a third reviewer is not in the pair
    single = ExampleFactory(prompt__project=project)
    decide(single, ann, "approve")
    decide(single, ann, "reject")  # the same reviewer twice is not two raters
    result = agreement(project)
    assert result.examples == 1 and result.table == {("approve", "reject"): 1}


def test_bulk_decisions_do_not_count_as_reviews(project, raters):
    ann, ben, _ = raters
    example = ExampleFactory(prompt__project=project)
    import uuid

    Verdict.objects.create(project=project, example=example, user=ann, action="approve", bulk_id=uuid.uuid4())
    decide(example, ben, "approve")
    assert agreement(project).examples == 0
    assert [r["username"] for r in reviewed_per_day(project)["reviewers"]] == ["ben"]


def test_kappa_is_undefined_when_everyone_always_agrees_on_one_answer():
    result = cohens_kappa({("approve", "approve"): 4})
    assert result.observed == 1 and result.kappa is None
    assert cohens_kappa({}).kappa is None


def test_reviewed_per_day_counts_each_reviewers_examples_per_day(project, raters):
    ann, ben, _ = raters
    today = timezone.localdate()
    examples = [ExampleFactory(prompt__project=project) for _ in range(3)]
    for e in examples:
        decide(e, ann, "approve")
    decide(examples[0], ann, "reject")  # same example twice: still one reviewed example
    old = Verdict.objects.create(project=project, example=examples[1], user=ben, action="reject")
    Verdict.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=2))
    stats = reviewed_per_day(project, days=7, today=today)
    by_name = {r["username"]: r for r in stats["reviewers"]}
    assert by_name["ann"]["total"] == 3 and by_name["ann"]["days"][-1]["n"] == 3
    assert by_name["ben"]["days"][-3]["n"] == 1 and by_name["ben"]["total"] == 1
    assert by_name["ann"]["days"][-1]["height"] == 100


def test_the_dashboard_shows_agreement_per_day_and_stage_progress(project, raters, client_as):
    ann, ben, _ = raters
    project.require_second_approval = True
    project.save()
    example = ExampleFactory(prompt__project=project)
    first = review.approve(example, ann, 1)
    review.approve(first, ben, first.version)
    ExampleFactory(prompt__project=project)
    page = client_as("reader").get(reverse("project-dashboard", args=[project.slug])).content.decode()
    assert "Reviewed per day" in page and "ann" in page and "ben" in page
    assert 'id="kappa">n/a' in page  # one example, both approved: kappa undefined
    assert "1 / 2 approved" in page

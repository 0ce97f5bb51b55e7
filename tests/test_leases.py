import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from curation.models import Example
from curation.services.review import decisions as review
from curation.services.review import leases
from tests.conftest import require_service
from tests.factories import ExampleFactory, UserFactory


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def pending(project):
    return [ExampleFactory(prompt__project=project) for _ in range(4)]


def claim(project, user, after=None, order="oldest"):
    return leases.claim_next(project, user, Example.objects.filter(project=project), order, after=after)


def test_two_reviewers_are_handed_different_examples(project, pending, alice, bob):
    first, second = claim(project, alice), claim(project, bob)
    assert first == pending[0] and second == pending[1]
    assert first.leased_by == alice and first.lease_expires_at > timezone.now()


def test_a_new_claim_ends_the_reviewers_earlier_lease(project, pending, alice, bob):
    first = claim(project, alice)
    claim(project, alice, after=first)
    assert claim(project, bob) == pending[0]


def test_an_expired_lease_frees_the_example(project, pending, alice, bob):
    first = claim(project, alice)
    Example.objects.filter(pk=first.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert claim(project, bob) == first


def test_a_decision_releases_the_lease_but_grading_on_the_way_keeps_it(project, pending, alice):
    first = claim(project, alice)
    graded = review.grade(first, alice, first.version, 4)
    assert graded.leased_by == alice
    approved = review.approve(graded, alice, graded.version)
    assert approved.leased_by is None and approved.lease_expires_at is None


def test_skipping_goes_to_the_next_free_one_and_wraps_around(project, pending, alice):
    last = claim(project, alice, after=pending[2])
    assert last == pending[3]
    assert claim(project, alice, after=pending[3]) == pending[0]


def test_only_pending_examples_are_handed_out(project, pending, alice):
    Example.objects.filter(pk__in=[e.pk for e in pending[:3]]).update(status="approved")
    assert claim(project, alice) == pending[3]
    assert claim(project, UserFactory(username="carol")) is None


def test_second_pass_hands_examples_awaiting_a_second_approval_to_someone_else(project, pending, alice, bob):
    project.require_second_approval = True
    project.save()
    once = review.approve(pending[2], alice, 1)
    assert once.status == "pending" and once.approvals == 1
    assert claim(project, bob) == pending[2]  # waiting ones come first
    mine = claim(project, alice)
    assert mine != pending[2]


def test_the_next_for_me_view_opens_the_claimed_example_in_lease_mode(project, pending, client_as):
    client = client_as("reviewer")
    response = client.post(reverse("review-next", args=[project.slug]) + "?status=pending&order=newest")
    assert response.status_code == 302
    assert (
        response["Location"]
        == reverse("review-focus", args=[project.slug, pending[3].pk]) + "?status=pending&order=newest&lease=1"
    )
    page = client.get(response["Location"]).content.decode()
    assert "Leased to you until" in page


def test_in_lease_mode_a_decision_claims_the_next_one(project, pending, client_as):
    client = client_as("reviewer")
    client.post(reverse("review-next", args=[project.slug]))
    response = client.post(
        reverse("review-act", args=[project.slug, pending[0].pk, "approve"]) + "?lease=1", {"version": 1}
    )
    assert response["Location"].startswith(reverse("review-focus", args=[project.slug, pending[1].pk]))
    assert Example.objects.get(pk=pending[1].pk).leased_by is not None
    assert Example.objects.get(pk=pending[0].pk).leased_by is None


def test_when_nothing_is_free_it_says_so(project, client_as):
    client = client_as("reviewer")
    response = client.post(reverse("review-next", args=[project.slug]), follow=True)
    assert "Nothing left for you" in response.content.decode()


def test_someone_elses_lease_is_shown_in_the_focus_view(project, pending, alice, client_as):
    claim(project, alice)
    page = client_as("reviewer").get(reverse("review-focus", args=[project.slug, pending[0].pk])).content.decode()
    assert "alice is reviewing this example right now" in page


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_share_an_example_on_postgresql(project):
    require_service("DATABASE_URL")
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL")
    users = [UserFactory(username=f"r{i}") for i in range(6)]
    rows = [ExampleFactory(prompt__project=project) for _ in range(6)]
    barrier = threading.Barrier(len(users))
    got = {}

    def run(user):
        from django.db import connections

        try:
            barrier.wait()
            got[user.username] = claim(project, user)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [e.pk for e in got.values() if e is not None]
    assert len(claimed) == len(set(claimed)) == len(rows)

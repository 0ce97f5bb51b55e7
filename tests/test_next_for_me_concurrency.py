""" "Next for me" under real concurrency on PostgreSQL: many reviewers pressing the button
at the same moment, through the real view, in threads with their own connections, round
after round, with fewer examples than reviewers. Nobody is ever handed an example someone
else holds."""

import re
import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from curation.models import Example
from tests.conftest import require_service
from tests.factories import ExampleFactory, MembershipFactory, UserFactory

REVIEWERS, EXAMPLES, ROUNDS = 12, 8, 4


@pytest.mark.django_db(transaction=True)
def test_many_reviewers_pressing_next_at_once_never_share_an_example(project):
    require_service("DATABASE_URL")
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED: PostgreSQL")
    reviewers = []
    for i in range(REVIEWERS):
        user = UserFactory(username=f"rev{i}")
        MembershipFactory(user=user, project=project, role="reviewer")
        reviewers.append(user)
    rows = {e.pk for e in (ExampleFactory(prompt__project=project) for _ in range(EXAMPLES))}
    url = reverse("review-next", args=[project.slug])
    focus = re.compile(rf"/p/{project.slug}/examples/(\d+)/")
    clients = {}
    for user in reviewers:
        clients[user.username] = Client()
        clients[user.username].force_login(user)

    for round_ in range(ROUNDS):
        barrier = threading.Barrier(REVIEWERS)
        handed: dict[str, int | None] = {}
        failures: list[str] = []

        def press(user, barrier=barrier, handed=handed, failures=failures):
            try:
                barrier.wait()
                response = clients[user.username].post(url)
                if response.status_code != 302:
                    failures.append(f"{user.username}: {response.status_code}")
                    return
                found = focus.search(response["Location"])
                handed[user.username] = int(found.group(1)) if found else None
            except Exception as exc:  # reported below; a thread's exception is otherwise lost
                failures.append(f"{user.username}: {exc!r}")
            finally:
                connections.close_all()

        threads = [threading.Thread(target=press, args=(u,)) for u in reviewers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert not failures, failures
        got = [pk for pk in handed.values() if pk is not None]
        assert len(got) == len(set(got)), f"round {round_}: shared {Counter(got).most_common(3)}"
        assert len(got) == EXAMPLES and set(got) == rows  # every example out, each to one reviewer
        holders = dict(Example.objects.filter(pk__in=got).values_list("pk", "leased_by__username"))
        assert all(holders[pk] == name for name, pk in handed.items() if pk is not None)

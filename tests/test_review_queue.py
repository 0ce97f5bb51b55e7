import math
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from curation.models import Example
from tests.factories import ExampleFactory, PromptFactory
from tests.review_factories import GoldItemFactory


@pytest.fixture
def reviewer(client_as):
    return client_as("reviewer")


@pytest.fixture
def examples(project):
    hard = project.tiers.get(name="hard")
    rows = []
    for i in range(8):
        rows.append(
            ExampleFactory(
                prompt=PromptFactory(
                    project=project, text=f"Ticket {i}: {'refund please' if i % 2 else 'login broken'}"
                ),
                response=f"Reply {i}",
                tier=hard if i < 4 else None,
                difficulty=i / 10,
                mean_logprob=math.log(0.5 + i / 20),
                status="approved" if i == 7 else "pending",
                checks_failed=i == 1,
                edited=i == 2,
            )
        )
    return rows


def queue_url(project, query=""):
    return reverse("review-queue", args=[project.slug]) + (f"?{query}" if query else "")


def test_it_lists_the_examples_the_filter_matches_with_their_flags(project, examples, reviewer):
    page = reviewer.get(queue_url(project, "tier=hard&q=refund")).content.decode()
    shown = set(re.findall(r'data-href="/p/[^/]+/examples/(\d+)/', page))
    assert shown == {str(examples[1].id), str(examples[3].id)}
    assert "Ticket 1: refund please" in page and "Reply 1" in page
    assert "failed an automatic check" in page  # example 1 failed a check
    assert "55%" in page  # confidence of example 1: exp(log(0.55))


def test_every_row_links_to_its_focus_view_keeping_the_filter(project, examples, reviewer):
    page = reviewer.get(queue_url(project, "status=pending&order=-difficulty")).content.decode()
    focus = reverse("review-focus", args=[project.slug, examples[6].id])
    assert f'href="{focus}?status=pending&amp;order=-difficulty"' in page


def test_a_bad_filter_is_a_400_naming_the_parameter_and_keeps_what_was_typed(project, examples, reviewer):
    response = reviewer.get(queue_url(project, "tier=legendary&q=refund"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "tier" in page and "legendary" in page
    assert 'value="refund"' in page


def test_htmx_gets_only_the_results_fragment(project, examples, reviewer):
    response = reviewer.get(queue_url(project, "tier=hard&fragment=results"), HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page and "Reply 0" in page


def test_pages_follow_a_keyset_cursor_that_keeps_the_filter(project, reviewer):
    rows = ExampleFactory.create_batch(55, prompt__project=project)
    first = reviewer.get(queue_url(project, "status=pending")).content.decode()
    next_link = re.search(r'href="(/p/[^"]+/review/\?[^"]*after=[^"]+)"', first).group(1).replace("&amp;", "&")
    assert "status=pending" in next_link
    second = reviewer.get(next_link).content.decode()
    ids = set(re.findall(r'data-href="/p/[^/]+/examples/(\d+)/', first)) | set(
        re.findall(r'data-href="/p/[^/]+/examples/(\d+)/', second)
    )
    assert ids == {str(e.id) for e in rows}
    assert "End of the list." in second


def test_a_page_costs_the_same_number_of_queries_whatever_it_shows(project, reviewer):
    ExampleFactory.create_batch(3, prompt__project=project)
    with CaptureQueriesContext(connection) as few:
        reviewer.get(queue_url(project))
    ExampleFactory.create_batch(60, prompt__project=project, tier=project.tiers.first())
    with CaptureQueriesContext(connection) as many:
        reviewer.get(queue_url(project))
    assert len(many) == len(few)


def test_counts_are_per_status_for_the_rest_of_the_filter(project, examples, reviewer):
    page = reviewer.get(reverse("review-counts", args=[project.slug]) + "?tier=none&status=pending").content.decode()
    # tier=none: examples 4..7, of which 7 is approved.
    assert re.search(r"<b>3</b> matching", page)
    assert re.search(r"Pending <b>3</b>", page) and re.search(r"Approved <b>1</b>", page)
    assert re.search(r"All <b>4</b>", page)


def test_the_gold_filter_and_badge_mark_gold_guarded_prompts(project, examples, reviewer):
    GoldItemFactory(prompt=examples[0].prompt)
    page = reviewer.get(queue_url(project, "gold=true")).content.decode()
    assert set(re.findall(r'data-href="/p/[^/]+/examples/(\d+)/', page)) == {str(examples[0].id)}
    assert "never trained on" in page


def test_readers_see_the_queue_but_no_action_buttons(project, examples, client_as):
    page = client_as("reader").get(queue_url(project)).content.decode()
    assert "Reply 0" in page
    assert "Next for me" not in page and "Apply to all matching" not in page


def test_the_queue_searches_chat_prompts_too(project, reviewer):
    from curation.models import Prompt

    chat = Prompt.objects.create(
        project=project, messages=[{"role": "user", "content": "Where is my parcel?"}], content_hash="chat-1"
    )
    example = ExampleFactory(prompt=chat)
    ExampleFactory(prompt__project=project)
    page = reviewer.get(queue_url(project, "q=PARCEL")).content.decode()
    assert set(re.findall(r'data-href="/p/[^/]+/examples/(\d+)/', page)) == {str(example.id)}
    assert "Where is my parcel?" in page


def test_an_outsider_cannot_see_another_projects_example_through_the_filter(project, examples, client_as):
    from tests.factories import ProjectFactory

    other = ExampleFactory(prompt__project=ProjectFactory())
    page = client_as("reviewer").get(queue_url(project)).content.decode()
    assert f"/examples/{other.id}/" not in page
    assert Example.objects.count() == 9

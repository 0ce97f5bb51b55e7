"""One visibility rule for the gold set, on the web and over the API: readers never see it.

Readers (dataset clients, training pipelines) see no gold item, reference or label, no gold
prompt (nor a prompt equal to one) and none of their examples; reviewers see everything.
"""

import pytest
from django.urls import reverse

from curation.models import GoldItem, Prompt
from tests.factories import ExampleFactory, PromptFactory

REFERENCE = "The secret reference answer"


@pytest.fixture
def exam(project):
    """A gold prompt with an example, a legacy twin of it (equal after normalisation) with one, and a plain example."""
    prompt = PromptFactory(project=project, text="The exam question?")
    GoldItem.objects.create(project=project, prompt=prompt, reference=REFERENCE)
    twin = Prompt.objects.create(
        project=project, messages=[{"role": "user", "content": "the EXAM question?"}], twin_of=prompt
    )
    return {
        "gold": ExampleFactory(prompt=prompt, response="Gold answer."),
        "twin": ExampleFactory(prompt=twin, response="Twin answer."),
        "plain": ExampleFactory(prompt__project=project, response="Plain answer."),
    }


def queue_ids(client, project):
    page = client.get(reverse("review-queue", args=[project.slug])).context["page"]
    return {row.pk for row in page.items}


def all_count(client, project):
    tabs = client.get(reverse("review-counts", args=[project.slug])).context["tabs"]
    return next(tab["n"] for tab in tabs if tab["label"] == "All")


def test_readers_get_403_on_the_gold_page_and_its_contamination_list(project, client_as, exam):
    reader = client_as("reader")
    assert reader.get(reverse("gold-list", args=[project.slug])).status_code == 403
    assert reader.get(reverse("gold-contamination", args=[project.slug])).status_code == 403


def test_the_gold_tab_is_shown_to_those_who_may_open_it(project, client_as):
    dashboard = reverse("project-dashboard", args=[project.slug])
    gold_link = f'href="{reverse("gold-list", args=[project.slug])}"'
    assert gold_link not in client_as("reader").get(dashboard).content.decode()
    assert gold_link in client_as("reviewer").get(dashboard).content.decode()


def test_a_readers_queue_and_counts_leave_gold_examples_out(project, client_as, exam):
    reader = client_as("reader")
    assert queue_ids(reader, project) == {exam["plain"].pk}
    assert all_count(reader, project) == 1
    reviewer = client_as("reviewer")
    assert queue_ids(reviewer, project) == {e.pk for e in exam.values()} and all_count(reviewer, project) == 3


def test_a_reader_cannot_open_a_gold_example_and_a_reviewer_sees_its_reference(project, client_as, exam):
    reader = client_as("reader")
    for example in (exam["gold"], exam["twin"]):
        assert reader.get(reverse("review-focus", args=[project.slug, example.pk])).status_code == 404
        assert reader.get(reverse("review-heatmap", args=[project.slug, example.pk])).status_code == 404
    plain = reader.get(reverse("review-focus", args=[project.slug, exam["plain"].pk])).content.decode()
    assert "Plain answer." in plain and REFERENCE not in plain
    page = client_as("reviewer").get(reverse("review-focus", args=[project.slug, exam["twin"].pk])).content.decode()
    assert REFERENCE in page and "Gold reference" in page


def test_a_readers_next_and_previous_links_skip_gold_examples(project, client_as, exam):
    page = client_as("reader").get(reverse("review-focus", args=[project.slug, exam["plain"].pk]))
    assert page.context["previous_url"] is None and page.context["next_url"] is None


def test_over_the_api_readers_see_no_gold_item_prompt_or_example(api, project, exam):
    reader = api("reader")
    base = f"/api/v1/projects/{project.slug}"
    assert reader.get(f"{base}/gold/").status_code == 403
    prompts = {p["id"] for p in reader.get(f"{base}/prompts/").json()["results"]}
    examples = {e["id"] for e in reader.get(f"{base}/examples/").json()["results"]}
    assert prompts == {exam["plain"].prompt_id} and examples == {exam["plain"].pk}
    for example in (exam["gold"], exam["twin"]):
        assert reader.get(f"{base}/examples/{example.pk}/verdicts/").status_code == 404
    reviewer = api("reviewer")
    assert reviewer.get(f"{base}/gold/").json()["results"][0]["reference"] == REFERENCE
    assert len(reviewer.get(f"{base}/examples/").json()["results"]) == 3

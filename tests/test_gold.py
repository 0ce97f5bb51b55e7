import pytest
from django.urls import reverse

from curation.models import Example, GoldItem, Prompt
from curation.services import gold
from curation.services.review import ReviewError
from tests.factories import ExampleFactory, PromptFactory, UserFactory
from tests.review_factories import GoldItemFactory


@pytest.fixture
def reviewer(client_as):
    return client_as("reviewer")


def test_training_eligible_drops_examples_of_gold_prompts_and_keeps_the_rest(project):
    guarded = ExampleFactory(prompt__project=project, status="approved")
    kept = ExampleFactory(prompt__project=project, status="approved")
    GoldItemFactory(prompt=guarded.prompt)
    qs = Example.objects.filter(project=project)
    assert list(gold.training_eligible(qs)) == [kept]
    assert list(gold.gold_guarded(qs)) == [guarded]


def test_the_guard_matches_by_normalised_hash_within_the_project_only(project):
    from tests.factories import ProjectFactory

    example = ExampleFactory(prompt=PromptFactory(project=project, text="Reset my PASSWORD please"))
    elsewhere = ProjectFactory()
    GoldItemFactory(prompt=PromptFactory(project=elsewhere, text="reset my   password please"))
    assert gold.training_eligible(Example.objects.filter(project=project)).count() == 1
    gold.create_gold_item(
        project, UserFactory(), prompt_text="  reset MY password   please ", reference="Use the link."
    )
    assert gold.training_eligible(Example.objects.filter(project=project)).count() == 0
    assert Prompt.objects.filter(project=project).count() == 1  # the existing prompt was reused
    assert list(gold.contamination(project)) == [example]


def test_contamination_lists_examples_still_headed_for_training(project):
    prompt = PromptFactory(project=project)
    live = ExampleFactory(prompt=prompt)
    ExampleFactory(prompt=prompt, status="rejected")
    ExampleFactory(prompt__project=project)
    GoldItemFactory(prompt=prompt)
    assert list(gold.contamination(project)) == [live]


def test_adding_from_the_page_and_the_errors_name_the_field(project, reviewer):
    url = reverse("gold-add", args=[project.slug])
    response = reviewer.post(url, {"prompt": "How do I export my data?", "reference": ""})
    assert response.status_code == 400
    page = response.content.decode()
    assert "reference: a gold item needs a reference answer" in page
    assert "How do I export my data?</textarea>" in page  # what was typed stays
    response = reviewer.post(url, {"prompt": "How do I export my data?", "reference": "Settings > Export."})
    assert response.status_code == 302
    item = GoldItem.objects.get(project=project)
    assert item.confirmed and item.reference == "Settings > Export." and item.prompt.source == "human"
    response = reviewer.post(url, {"prompt": "how do i EXPORT my data?", "reference": "again"})
    assert response.status_code == 400 and "already gold item" in response.content.decode()


def test_the_page_applies_the_same_length_limits_as_the_api(project, reviewer, settings):
    settings.IMPORT_MAX_PROMPT_CHARS = 20
    url = reverse("gold-add", args=[project.slug])
    response = reviewer.post(url, {"prompt": "A prompt well over twenty characters?", "reference": "Short."})
    assert response.status_code == 400
    assert "prompt: The prompt is 37 characters; the limit is 20." in response.content.decode()
    response = reviewer.post(url, {"prompt": "Short prompt?", "reference": "A reference over the limit."})
    assert response.status_code == 400
    assert "reference: The reference is 27 characters; the limit is 20." in response.content.decode()
    assert not GoldItem.objects.exists() and not Prompt.objects.filter(project=project).exists()
    item = gold.create_gold_item(project, None, prompt_text="Short prompt?", reference="Short.")
    with pytest.raises(ReviewError, match="reference: The reference is 27 characters"):
        gold.update_gold_item(item, {"reference": "A reference over the limit."})


def test_classification_gold_needs_one_of_the_labels(db):
    from tests.factories import ProjectFactory

    project = ProjectFactory(task_type="classification", labels=["billing", "account"])
    with pytest.raises(ReviewError, match="label"):
        gold.create_gold_item(project, None, prompt_text="Refund?", label="refunds")
    item = gold.create_gold_item(project, None, prompt_text="Refund?", label="billing")
    assert item.label == "billing"


def test_editing_a_reference(project, reviewer):
    item = GoldItemFactory(prompt__project=project)
    url = reverse("gold-edit", args=[project.slug, item.pk])
    response = reviewer.post(url, {"reference": "   "})
    assert response.status_code == 400 and "reference" in response.content.decode()
    reviewer.post(url, {"reference": "A better reference."})
    item.refresh_from_db()
    assert item.reference == "A better reference."


def test_confirming_and_discarding_imported_candidates(project, reviewer):
    a, b, c = (GoldItemFactory(prompt__project=project, confirmed=False) for _ in range(3))
    reviewer.post(reverse("gold-confirm", args=[project.slug]), {"item": [a.pk, b.pk]})
    assert set(GoldItem.objects.filter(confirmed=True).values_list("pk", flat=True)) == {a.pk, b.pk}
    reviewer.post(reverse("gold-discard", args=[project.slug, c.pk]))
    assert not GoldItem.objects.filter(pk=c.pk).exists()
    response = reviewer.post(reverse("gold-discard", args=[project.slug, a.pk]), follow=True)
    assert "Only unconfirmed candidates" in response.content.decode()
    assert GoldItem.objects.filter(pk=a.pk).exists()


def test_the_gold_page_searches_and_pages(project, client_as):
    GoldItemFactory(prompt=PromptFactory(project=project, text="Where is the invoice?"), reference="In billing.")
    for _ in range(55):
        GoldItemFactory(prompt__project=project)
    client = client_as("reviewer")
    page = client.get(reverse("gold-list", args=[project.slug]) + "?q=INVOICE").content.decode()
    assert "Where is the invoice?" in page and page.count('<tr id="gold-') == 1
    page = client.get(reverse("gold-list", args=[project.slug])).content.decode()
    assert page.count('<tr id="gold-') == 50 and "Next page" in page


def test_the_contamination_page_lists_the_examples(project, client_as):
    example = ExampleFactory(prompt=PromptFactory(project=project, text="Cancel my plan"))
    GoldItemFactory(prompt=example.prompt)
    page = client_as("reviewer").get(reverse("gold-contamination", args=[project.slug])).content.decode()
    assert "Cancel my plan" in page and f"/examples/{example.pk}/" in page


def test_the_contamination_page_says_the_shared_instruction_once(project, client_as):
    instruction = "Classify this support ticket as billing, account, technical or other."
    for ticket in ("Cancel my plan", "Reset my password"):
        example = ExampleFactory(prompt=PromptFactory(project=project, text=f"{instruction}\nTicket: {ticket}"))
        GoldItemFactory(prompt=example.prompt)
    page = client_as("reviewer").get(reverse("gold-contamination", args=[project.slug])).content.decode()
    flat = " ".join(page.split())
    assert flat.count(f">{instruction}<") == 1 and f"<q>{instruction}</q>" in flat  # said once, above the rows
    assert "</span> Ticket: Cancel my plan</td>" in flat

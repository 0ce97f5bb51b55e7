"""The dev set: expert-labelled items apart from the test set (gold proper), guarded from training
like gold, read by selection, never by a report's score. One purpose check for the page, the API
and the import."""

import io
import json

import pytest
from django.urls import reverse

from curation.models import AuditEntry, Example, GoldItem
from curation.services import gold
from curation.services.datasets import import_prompts
from curation.services.review import ReviewError
from curation.services.training.evaluation import gold_problems, gold_set
from tests.factories import ExampleFactory, ProjectFactory, PromptFactory
from tests.review_factories import GoldItemFactory


def test_the_purpose_check_takes_test_or_dev_and_names_the_field():
    assert gold.check_purpose(None) == gold.check_purpose("") == "test"
    assert gold.check_purpose(" DEV ") == "dev"
    with pytest.raises(ReviewError, match=r"purpose: a gold item's purpose is 'test' .* or 'dev' .*, not 'validation'"):
        gold.check_purpose("validation")


def test_dev_items_are_guarded_from_training_like_test_items(project):
    dev_example = ExampleFactory(prompt__project=project, status="approved")
    test_example = ExampleFactory(prompt__project=project, status="approved")
    kept = ExampleFactory(prompt__project=project, status="approved")
    GoldItemFactory(prompt=dev_example.prompt, purpose="dev")
    GoldItemFactory(prompt=test_example.prompt, purpose="test")
    assert list(gold.training_eligible(Example.objects.filter(project=project))) == [kept]


def test_reports_read_the_test_set_and_selection_the_dev_set(db):
    project = ProjectFactory(task_type="classification", labels=["billing", "account"])
    test = gold.create_gold_item(project, None, prompt_text="Refund?", label="billing")
    dev = gold.create_gold_item(project, None, prompt_text="Locked out?", label="account", purpose="dev")
    gold.create_gold_item(project, None, prompt_text="Unconfirmed", label="account", purpose="dev", confirmed=False)
    assert [i["id"] for i in gold_set(project)] == [test.pk]
    assert [i["id"] for i in gold_set(project, "dev")] == [dev.pk]
    assert list(gold.test_items(project)) == [test] and list(gold.dev_items(project)) == [dev]
    dev.delete()
    assert "no confirmed dev items" in gold_problems(project, "dev") and gold_problems(project) is None
    test.delete()
    assert "no confirmed gold items" in gold_problems(project)


def test_the_page_adds_edits_and_filters_by_purpose_with_an_audit_trail(project, client_as):
    client = client_as("reviewer")
    add = reverse("gold-add", args=[project.slug])
    response = client.post(add, {"prompt": "How do I export?", "reference": "Settings.", "purpose": "dev"})
    assert response.status_code == 302
    item = GoldItem.objects.get(project=project)
    assert item.purpose == "dev"
    bad = client.post(add, {"prompt": "Another?", "reference": "Yes.", "purpose": "train"})
    assert bad.status_code == 400 and "purpose: a gold item&#x27;s purpose is &#x27;test&#x27;" in bad.content.decode()
    assert GoldItem.objects.count() == 1
    GoldItemFactory(prompt=PromptFactory(project=project, text="A test item"), reference="T.")
    page = client.get(reverse("gold-list", args=[project.slug]) + "?purpose=dev").content.decode()
    assert "How do I export?" in page and "A test item" not in page and page.count('<tr id="gold-') == 1
    client.post(reverse("gold-edit", args=[project.slug, item.pk]), {"reference": "Settings.", "purpose": "test"})
    item.refresh_from_db()
    assert item.purpose == "test"
    entry = AuditEntry.objects.filter(action="update").latest("id")
    assert entry.before == {"purpose": "dev"} and entry.after == {"purpose": "test"}


def test_the_gold_import_reads_each_lines_purpose_and_refuses_a_bad_one(project):
    def lines(*rows):
        return io.BytesIO("\n".join(json.dumps(r) for r in rows).encode())

    result = import_prompts(
        project,
        lines(
            {"prompt": "Q1", "reference": "A.", "purpose": "dev"},
            {"prompt": "Q2", "reference": "B."},
            {"prompt": "Q3", "reference": "C.", "purpose": "holdout"},
        ),
        filename="g.jsonl",
        as_gold=True,
    )
    assert not result.ok and [(e.line, "purpose" in e.reason) for e in result.errors] == [(3, True)]
    assert not GoldItem.objects.exists()
    result = import_prompts(
        project,
        lines({"prompt": "Q1", "reference": "A.", "purpose": "dev"}, {"prompt": "Q2", "reference": "B."}),
        filename="g.jsonl",
        as_gold=True,
    )
    assert result.ok
    purposes = dict(GoldItem.objects.values_list("prompt__text", "purpose"))
    assert purposes == {"Q1": "dev", "Q2": "test"}
    assert "purpose" not in GoldItem.objects.get(purpose="dev").prompt.metadata


def test_the_model_pages_show_a_versions_dev_score_as_selections_score(project, client_as, tmp_path):
    from curation.models import ModelVersion

    dev = {"metric": "accuracy", "value": 0.9124, "ci95": [0.88, 0.94], "n": 400, "per_item": [1.0] * 400}
    scored = ModelVersion.objects.create(
        project=project, name="scored", is_final=True, artifact_path=str(tmp_path), metrics={"dev": dev}
    )
    ModelVersion.objects.create(project=project, name="unscored", is_final=True, artifact_path=str(tmp_path))
    client = client_as("reader")
    listing = client.get(reverse("model-list", args=[project.slug])).content.decode()
    assert listing.count(">0.912</span>") == 1 and "accuracy over 400 dev items" in listing
    detail = client.get(reverse("model-detail", args=[project.slug, scored.pk])).content.decode()
    assert "accuracy 0.912" in detail and "95% CI 0.880–0.940, n = 400" in detail


def test_a_dev_set_that_cannot_be_scored_is_named_not_skipped(db, tmp_path):
    from curation.models import ModelVersion
    from curation.services.training.evaluation import score_on_dev

    project = ProjectFactory(task_type="classification", labels=["billing", "account"])
    version = ModelVersion.objects.create(project=project, name="v", is_final=True, artifact_path=str(tmp_path))
    assert score_on_dev(project, version) is None  # no dev set: nothing to score
    item = gold.create_gold_item(project, None, prompt_text="Refund?", label="billing", purpose="dev")
    GoldItem.objects.filter(pk=item.pk).update(label="refunds")  # project labels changed under it
    with pytest.raises(ValueError, match="confirmed dev items carry labels that are not project labels: 'refunds'"):
        score_on_dev(project, version)


def test_a_prompt_imports_candidate_lines_read_their_purpose_and_a_later_gold_line_brings_its_own(project):
    def lines(*rows):
        return io.BytesIO("\n".join(json.dumps(r) for r in rows).encode())

    bad = import_prompts(project, lines({"prompt": "Q0", "label": "x", "purpose": "prod"}), filename="p.jsonl")
    assert not bad.ok and "purpose is 'test'" in bad.errors[0].reason
    result = import_prompts(
        project,
        lines(
            {"prompt": "Q1", "reference": "A.", "purpose": "dev"},
            {"prompt": "Q2"},
            {"prompt": "q2", "reference": "B.", "purpose": "dev"},  # the same prompt, now with an answer
            {"prompt": "Q3", "purpose": "dev"},  # a plain prompt: its metadata is its own
        ),
        filename="p.jsonl",
    )
    assert result.ok and result.gold_candidates == 2
    assert dict(GoldItem.objects.values_list("prompt__text", "purpose")) == {"Q1": "dev", "Q2": "dev"}
    assert not GoldItem.objects.filter(confirmed=True).exists()  # candidates wait for an expert
    assert project.prompts.get(text="Q3").metadata == {"purpose": "dev"}

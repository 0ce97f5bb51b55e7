import pytest
from django.urls import reverse

from curation.services.teacher import heatmap, heatmap_for, shade_of
from tests.review_factories import ModelSpecFactory, example_with_sample, write_soft_targets


@pytest.fixture(autouse=True)
def artifacts(settings, tmp_path):
    settings.ARTIFACT_DIR = tmp_path
    return tmp_path


@pytest.fixture
def tokenizer(tiny_model_dir):
    return heatmap.load_tokenizer(str(tiny_model_dir))


def test_it_decodes_tokens_with_the_teachers_tokenizer_and_shades_the_unsure_ones(project, tiny_model_dir, tokenizer):
    ids = tokenizer.encode("Please refund the payment")
    probabilities = [0.95, 0.2, 0.6, 0.99, 0.45][: len(ids)] + [0.9] * max(0, len(ids) - 5)
    pointer = write_soft_targets("ex-1", ids, probabilities)
    example = example_with_sample(
        project, spec=ModelSpecFactory(project=project, path=str(tiny_model_dir)), pointer=pointer
    )
    result = heatmap_for(example)
    assert result.decoded and not result.note
    assert "".join(t.text for t in result.tokens) == "Please refund the payment"
    assert [t.shade for t in result.tokens][:5] == [shade_of(p) for p in probabilities[:5]]
    assert result.tokens[1].shade == 4 and result.tokens[0].shade == 0
    top_text, top_p = result.tokens[1].alternatives[0]
    assert top_text == tokenizer.decode([ids[1]]) and top_p == pytest.approx(0.2, rel=1e-2)


def test_without_a_loadable_tokenizer_it_shows_ids_and_says_why(project):
    pointer = write_soft_targets("ex-2", [5, 6, 7], [0.9, 0.5, 0.1])
    example = example_with_sample(
        project, spec=ModelSpecFactory(project=project, path="/no/such/model"), pointer=pointer
    )
    result = heatmap_for(example)
    assert not result.decoded
    assert [t.text for t in result.tokens] == ["#5", "#6", "#7"]
    assert "/no/such/model" in result.note


def test_an_http_teacher_without_a_tokenizer_path_says_how_to_get_text(project):
    pointer = write_soft_targets("ex-3", [1, 2], [0.9, 0.9])
    spec = ModelSpecFactory(project=project, backend="openai", path="served-name")
    result = heatmap_for(example_with_sample(project, spec=spec, pointer=pointer))
    assert "tokenizer path" in result.note


def test_an_edited_response_explains_that_its_soft_targets_are_gone(project):
    example = example_with_sample(project)
    example.edited = True
    assert "edited" in heatmap_for(example).note


def test_an_unreadable_pointer_is_a_note_not_a_crash(project, client_as):
    example = example_with_sample(project, pointer="shards/missing-00000.safetensors#k")
    assert "cannot be read" in heatmap_for(example).note
    response = client_as("reader").get(reverse("review-heatmap", args=[project.slug, example.pk]))
    assert response.status_code == 200 and "cannot be read" in response.content.decode()


def test_the_heatmap_fragment_lists_alternatives_for_hover(project, tiny_model_dir, client_as):
    pointer = write_soft_targets("ex-4", [10, 11], [0.3, 0.95])
    example = example_with_sample(
        project, spec=ModelSpecFactory(project=project, path=str(tiny_model_dir)), pointer=pointer
    )
    page = (
        client_as("reader")
        .get(reverse("review-heatmap", args=[project.slug, example.pk]) + "?fragment=heatmap", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert page.count('class="tok s') == 2 + 5  # two tokens, five legend swatches
    assert 'role="tooltip"' in page and "30.0%" in page


def test_the_tokenizer_is_loaded_once(tiny_model_dir, monkeypatch):
    first = heatmap.load_tokenizer(str(tiny_model_dir))
    assert heatmap.load_tokenizer(str(tiny_model_dir)) is first


def test_the_end_of_the_answer_reads_as_words_not_tokenizer_markup(project, tiny_model_dir, tokenizer):
    assert tokenizer.eos_token_id is not None
    ids = tokenizer.encode("Thanks") + [tokenizer.eos_token_id]
    pointer = write_soft_targets("ex-eos", ids, [0.9] * len(ids))
    example = example_with_sample(
        project, spec=ModelSpecFactory(project=project, path=str(tiny_model_dir)), pointer=pointer
    )
    tokens = heatmap_for(example).tokens
    assert tokens[-1].text == heatmap.END_OF_TEXT and tokenizer.eos_token not in "".join(t.text for t in tokens)

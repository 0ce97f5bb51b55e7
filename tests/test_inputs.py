"""The input gate's one number parser, and the pages and endpoints that take numbers through it."""

import pytest
from django.urls import reverse

from curation.models import GoldItem
from curation.services.errors import Invalid
from curation.services.inputs import MAX_ID, check_known, parse_id, parse_number, parse_switch, to_number
from curation.services.teacher import parse_filter, parse_ids
from tests.factories import PromptFactory


@pytest.mark.parametrize("raw", ["²", "١٢", "1_000", "0x1f", " ", "1e3", "3.5", True, None, [1], "9" * 5000])
def test_only_ascii_digits_are_whole_numbers(raw):
    with pytest.raises(ValueError):
        to_number(raw, int)


@pytest.mark.parametrize(
    "raw, kind, value", [("42", int, 42), (" -7 ", int, -7), (3.0, int, 3), ("2.5e-1", float, 0.25)]
)
def test_numbers_in_ascii_text_or_as_numbers_are_read(raw, kind, value):
    assert to_number(raw, kind) == value and type(to_number(raw, kind)) is kind


def test_an_int_too_big_for_a_float_is_not_a_number():
    with pytest.raises(ValueError):
        to_number(10**400, float)


@pytest.mark.parametrize("raw", ["²", "0", "-1", str(MAX_ID + 1), 2**64, "12a", ""])
def test_an_id_is_a_whole_number_the_database_can_hold(raw):
    assert parse_id(raw) is None


def test_the_largest_id_is_an_id():
    assert parse_id(str(MAX_ID)) == MAX_ID


def test_a_number_out_of_range_is_refused_naming_the_field():
    errors = Invalid()
    assert parse_number("²", "stages.0.lr", errors) is None
    assert parse_number("0", "batch_size", errors, kind=int, minimum=1) is None
    assert parse_number("7", "n", errors, kind=int, minimum=1, maximum=5, label="") is None
    assert errors.errors == {
        "stages.0.lr": ["lr must be a number, got '²'"],
        "batch_size": ["batch_size must be at least 1, got 0"],
        "n": ["must be between 1 and 5, got 7"],
    }


@pytest.mark.parametrize("raw", ["²", "١٢", "1-²", str(MAX_ID + 1), [MAX_ID + 1], [0]])
def test_prompt_ids_beyond_what_the_database_holds_are_refused_cleanly(raw):
    with pytest.raises(ValueError):
        parse_ids(raw)


def test_a_prompt_filter_with_a_huge_id_or_a_superscript_limit_names_the_fields(project):
    with pytest.raises(Invalid) as refused:
        parse_filter({"ids": str(2**64), "limit": "²"}, project)
    assert set(refused.value.errors) == {"ids", "limit"}


def test_the_launch_page_counts_no_prompts_for_a_superscript_spec_id(project, client_as):
    url = reverse("gen-prompt-count", args=[project.slug])
    assert client_as("engineer").get(url, {"model_spec": "²"}).status_code == 200


def test_confirming_gold_candidates_ignores_ids_that_are_no_ids(project, client_as):
    item = GoldItem.objects.create(project=project, prompt=PromptFactory(project=project), reference="r")
    response = client_as("reviewer").post(
        reverse("gold-confirm", args=[project.slug]), {"item": ["²", str(2**64), str(item.pk)]}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.confirmed


@pytest.mark.parametrize("level_id", ["²", str(2**64)])
def test_a_curriculum_request_with_an_id_that_is_no_id_is_a_400(project, client_as, level_id):
    response = client_as("engineer").post(
        reverse("project-curriculum", args=[project.slug]), {"op": "remove", "kind": "tier", "id": level_id}
    )
    assert response.status_code == 400 and "not a stage or tier" in response.content.decode()


def test_the_focus_view_leases_after_an_example_id_that_is_no_id(project, client_as):
    response = client_as("reviewer").post(reverse("review-next", args=[project.slug]), {"after": "²"})
    assert response.status_code == 302


@pytest.mark.parametrize("query", [{"before": str(2**64)}, {"limit": "²"}, {"before": "-1"}])
def test_the_job_list_refuses_numbers_it_cannot_use(project, client_as, query):
    response = client_as("reader").get(reverse("api-jobs", args=[project.slug]), query)
    assert response.status_code == 400 and "limit" in response.json()


@pytest.mark.parametrize(
    ("raw", "value"),
    [(True, True), (False, False), ("on", True), ("TRUE", True), ("1", True), ("", False), ("off", False)],
)
def test_a_switch_reads_json_bools_and_form_values(raw, value):
    errors = Invalid()
    assert parse_switch(raw, "enabled", errors) is value
    assert not errors


@pytest.mark.parametrize("raw", ["yes please", 1, None, [True]])
def test_anything_else_is_no_switch_and_names_the_field(raw):
    errors = Invalid()
    assert parse_switch(raw, "semantic", errors) is None
    assert "semantic must be true or false" in str(errors.errors["semantic"])


def test_unknown_settings_are_named_with_the_known_ones():
    errors = Invalid()
    check_known({"window_size": 5, "windw": 1}, {"window_size": 100, "enabled": True}, errors)
    assert list(errors.errors) == ["windw"]
    assert "the settings are window_size, enabled" in str(errors.errors["windw"])

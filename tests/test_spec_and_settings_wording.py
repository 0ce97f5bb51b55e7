"""Model specs and project settings read as words: defaults as a definition list, checks
summarised, the pool explained."""

import pytest
from django.urls import reverse

from curation.models import ModelSpec


@pytest.mark.django_db
def test_a_specs_defaults_read_as_a_definition_list(project, client_as, tmp_path):
    ModelSpec.objects.create(
        project=project,
        name="t",
        backend="transformers",
        path=str(tmp_path),
        defaults={"n": 4, "temperature": 0.8, "stop": ["\n\n"], "distill": {"batch_size": 8}},
    )
    html = client_as("engineer").get(reverse("modelspec-list", args=[project.slug])).content.decode()
    assert "<dt>Samples per prompt</dt><dd>4</dd>" in html
    assert "<dt>Temperature</dt><dd>0.8</dd>" in html
    assert "<dt>Stop strings</dt><dd>&#x27;\\n\\n&#x27;</dd>" in html
    assert "<dt>Distillation</dt><dd>batch size: 8</dd>" in html
    assert html.index("Samples per prompt") < html.index("Temperature") < html.index("Stop strings")  # the form's order
    assert "{&#x27;" not in html and "n=4" not in html  # no Python dict, no key=value run


@pytest.mark.django_db
def test_a_spec_without_defaults_says_the_global_ones_apply(project, client_as, tmp_path):
    ModelSpec.objects.create(project=project, name="t", backend="transformers", path=str(tmp_path))
    html = client_as("engineer").get(reverse("modelspec-list", args=[project.slug])).content.decode()
    assert "none: the global defaults" in html


@pytest.mark.django_db
def test_the_saved_checks_are_listed_in_words(project, client_as):
    project.checks = [{"type": "non_empty"}, {"type": "max_length", "chars": 2000}, {"type": "regex_must_not_match",
                      "pattern": "<script", "name": "no script"}]  # fmt: skip
    project.save()
    html = client_as("engineer").get(reverse("project-settings", args=[project.slug])).content.decode()
    assert "<li>non_empty: the answer is not empty <button" in html
    assert "<li>max_length: the answer has at most 2,000 characters <button" in html
    assert "<li>no script: the answer does not match the pattern &#x27;&lt;script&#x27; <button" in html


@pytest.mark.django_db
def test_without_checks_the_page_says_every_answer_passes(project, client_as):
    html = client_as("engineer").get(reverse("project-settings", args=[project.slug])).content.decode()
    assert "no check is set: every answer passes." in html


@pytest.mark.django_db
def test_a_bad_checks_edit_keeps_the_typed_text_and_names_the_problem(project, client_as):
    response = client_as("engineer").post(
        reverse("project-settings", args=[project.slug]), {"checks": '[{"type": "max_length", "chars": "many"}]'}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "check #1 (max_length): &#x27;chars&#x27; must be int, got str" in html


@pytest.mark.django_db
def test_the_pool_says_what_it_is_and_what_to_do(project, client_as):
    html = client_as("engineer").get(reverse("project-settings", args=[project.slug])).content.decode()
    assert "not placed yet" not in html
    assert "they are not trained on until then" in html and reverse("review-board", args=[project.slug]) in html


def post_check(client, project, **data):
    return client.post(reverse("project-checks", args=[project.slug]), data)


@pytest.mark.django_db
def test_a_check_is_added_from_fields_and_removed_by_its_button(project, client_as):
    from curation.models import AuditEntry

    client = client_as("engineer")
    assert post_check(client, project, op="add", type="max_length", value="2000").status_code == 302
    assert (
        post_check(
            client, project, op="add", type="regex_must_not_match", value="<script", name="no script"
        ).status_code
        == 302
    )
    assert post_check(client, project, op="add", type="label_in_set", value="billing, account").status_code == 302
    project.refresh_from_db()
    assert project.checks == [
        {"type": "max_length", "chars": 2000},
        {"type": "regex_must_not_match", "pattern": "<script", "name": "no script"},
        {"type": "label_in_set", "labels": ["billing", "account"]},
    ]
    html = client.get(reverse("project-settings", args=[project.slug])).content.decode()
    assert 'form="check-edit" name="index" value="1"' in " ".join(html.split())
    assert '<form id="check-edit"' in html and '<form id="check-add"' in html  # the forms those fields point at
    assert post_check(client, project, op="remove", index="1").status_code == 302
    project.refresh_from_db()
    assert [c["type"] for c in project.checks] == ["max_length", "label_in_set"]
    assert AuditEntry.objects.filter(project=project, action="update").count() == 4  # every change is audited


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data, message",
    [
        ({"type": "max_length", "value": "many"}, "Give the largest number of characters"),
        ({"type": "regex_must_match", "value": "(a+)+"}, "nests repetition"),
        ({"type": "json_schema", "value": "{"}, "The schema is not valid JSON"),
        ({"type": "telepathy", "value": ""}, "Select a valid choice"),
    ],
)
def test_a_bad_check_is_refused_with_words_and_nothing_changes(project, client_as, data, message):
    response = post_check(client_as("engineer"), project, op="add", **data)
    assert response.status_code == 400 and message in response.content.decode()
    project.refresh_from_db()
    assert project.checks == []


@pytest.mark.django_db
def test_a_second_check_of_a_type_needs_a_name(project, client_as):
    client = client_as("engineer")
    post_check(client, project, op="add", type="non_empty")
    response = post_check(client, project, op="add", type="non_empty")
    assert response.status_code == 400 and "a second check named" in response.content.decode()

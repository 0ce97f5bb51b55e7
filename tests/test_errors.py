"""The one error type for refused input, and its two adapters (Django forms, DRF)."""

from django import forms

from curation.api.errors import exception_handler
from curation.forms import add_errors
from curation.services.errors import NON_FIELD, Invalid, ReviewError


def test_an_invalid_collects_messages_by_field_and_reads_as_a_sentence():
    errors = Invalid()
    assert not errors
    errors.add("batch_size", "must be at least 1")
    errors.add(None, "The request must be a JSON object.")
    errors.nest("params", Invalid({"top_k": ["must be between 1 and 1000"]}))
    assert errors and "params" in errors
    assert errors.flat() == [
        ("batch_size", "must be at least 1"),
        (NON_FIELD, "The request must be a JSON object."),
        ("params.top_k", "must be between 1 and 1000"),
    ]
    assert str(errors) == (
        "batch_size: must be at least 1; The request must be a JSON object.; params.top_k: must be between 1 and 1000"
    )


def test_a_review_error_is_one_message_about_one_field():
    refused = ReviewError("a gold item needs a reference answer.", "reference", code="required")
    assert (refused.message, refused.field, refused.code) == (
        "a gold item needs a reference answer.",
        "reference",
        "required",
    )
    assert refused.errors == {"reference": ["a gold item needs a reference answer."]}
    assert str(refused) == "reference: a gold item needs a reference answer."
    assert str(ReviewError("You already approved this example.")) == "You already approved this example."


class _Form(forms.Form):
    top_k = forms.IntegerField(required=False)
    filter = forms.CharField(required=False)


class _Row(forms.Form):
    gate_threshold = forms.FloatField(required=False)


def test_the_form_adapter_puts_each_message_under_its_input():
    form, rows = _Form({}), [_Row({}), _Row({})]
    form.is_valid()
    for row in rows:
        row.is_valid()
    add_errors(
        form,
        Invalid(
            {
                "params": {"top_k": ["must be between 1 and 1000"]},
                "filter": {"tier": ["No tier 'x' here."]},
                "stages.1.gate.threshold": ["gate threshold must be a number"],
                "stages.7.lr": ["lr must be a number"],
                "prompt_filter": ["no prompt matches this filter"],
                NON_FIELD: ["The request must be a JSON object."],
            }
        ),
        rows=rows,
    )
    assert form.errors["top_k"] == ["must be between 1 and 1000"]
    assert form.errors["filter"] == ["tier: No tier 'x' here."]
    assert rows[1].errors["gate_threshold"] == ["gate threshold must be a number"]
    assert form.non_field_errors() == [
        "Stages: lr must be a number",
        "prompt filter: no prompt matches this filter",
        "The request must be a JSON object.",
    ]


def test_the_api_adapter_answers_an_invalid_with_a_400_naming_the_fields():
    response = exception_handler(Invalid({"params": {"top_k": ["must be a whole number"]}}), {})
    assert response.status_code == 400 and response.data == {"params": {"top_k": ["must be a whole number"]}}
    response = exception_handler(ReviewError("At most 100 characters.", "name"), {})
    assert response.status_code == 400 and response.data == {"name": ["At most 100 characters."]}

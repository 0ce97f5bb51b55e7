import pytest

from workers.checks import run_checks, validate_checks_config


def result(text, entry):
    [r] = run_checks(text, [entry])
    return r


def test_non_empty_fails_on_whitespace():
    assert result("  \n", {"type": "non_empty"})["passed"] is False
    assert result("ok", {"type": "non_empty"})["passed"] is True


def test_max_length_counts_characters():
    r = result("abcdef", {"type": "max_length", "chars": 5})
    assert r["passed"] is False and "6 characters" in r["detail"]
    assert result("abcde", {"type": "max_length", "chars": 5})["passed"] is True


def test_regex_must_match_and_must_not_match():
    assert result("Category: billing", {"type": "regex_must_match", "pattern": r"^Category: \w+"})["passed"]
    assert not result("billing", {"type": "regex_must_match", "pattern": r"^Category: \w+"})["passed"]
    r = result("call 555-1234", {"type": "regex_must_not_match", "pattern": r"\d{3}-\d{4}"})
    assert r["passed"] is False and "555-1234" in r["detail"]


def test_json_parses_or_explains():
    assert result('{"a": 1}', {"type": "json"})["passed"]
    r = result("{a: 1}", {"type": "json"})
    assert not r["passed"] and r["detail"].startswith("not JSON")


def test_json_schema_reports_where_it_failed():
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    assert result('{"answer": 42}', {"type": "json_schema", "schema": schema})["passed"]
    r = result('{"answer": "x"}', {"type": "json_schema", "schema": schema})
    assert not r["passed"] and r["detail"].startswith("answer:")
    assert not result("nope", {"type": "json_schema", "schema": schema})["passed"]


def test_refusal_uses_default_and_custom_phrases():
    assert not result("I’m sorry, but I can’t help with that.", {"type": "refusal"})["passed"]
    assert result("Your refund is on its way.", {"type": "refusal"})["passed"]
    assert not result("Nope, not doing it", {"type": "refusal", "phrases": ["not doing it"]})["passed"]


def test_label_in_set_strips_whitespace():
    assert result(" billing\n", {"type": "label_in_set", "labels": ["billing", "account"]})["passed"]
    assert not result("shipping", {"type": "label_in_set", "labels": ["billing", "account"]})["passed"]


def test_results_carry_custom_names_in_order():
    out = run_checks("x", [{"type": "non_empty"}, {"type": "max_length", "chars": 0, "name": "short"}])
    assert [(r["name"], r["passed"]) for r in out] == [("non_empty", True), ("short", False)]


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({"type": "non_empty"}, "must be a list"),
        ([{"type": "spellcheck"}], r"check #1 \(spellcheck\): unknown check type 'spellcheck'"),
        (
            [{"type": "non_empty"}, {"type": "regex_must_match", "pattern": "(unclosed"}],
            r"check #2 \(regex_must_match\): invalid regular expression",
        ),
        ([{"type": "regex_must_not_match", "pattern": r"(a+)+$"}], "nests repetition"),
        ([{"type": "json_schema", "schema": {"type": "banana"}}], "invalid JSON schema"),
        ([{"type": "max_length"}], "missing 'chars'"),
        ([{"type": "max_length", "chars": "10"}], "'chars' must be int"),
        ([{"type": "label_in_set", "labels": []}], "non-empty list"),
        ([{"type": "json", "pattern": "x"}], "unexpected field"),
        ([{"type": "json"}, {"type": "json"}], "second check named 'json'"),
    ],
)
def test_bad_configs_are_refused_with_the_entry_named(cfg, message):
    with pytest.raises(ValueError, match=message):
        validate_checks_config(cfg)


def test_a_valid_config_passes_validation():
    cfg = [
        {"type": "non_empty"},
        {"type": "max_length", "chars": 2000},
        {"type": "regex_must_match", "pattern": "x"},
        {"type": "regex_must_not_match", "pattern": "y"},
        {"type": "json"},
        {"type": "json_schema", "schema": {"type": "object"}, "name": "schema"},
        {"type": "refusal"},
        {"type": "label_in_set", "labels": ["a"]},
    ]
    assert validate_checks_config(cfg) == cfg


def test_regexes_only_see_a_bounded_prefix_of_huge_texts():
    text = "a" * 100_000 + "NEEDLE"
    assert not result(text, {"type": "regex_must_match", "pattern": "NEEDLE"})["passed"]

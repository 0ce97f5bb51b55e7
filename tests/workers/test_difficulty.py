import math

import pytest

from workers.difficulty import (
    assign_tiers,
    classification_difficulty,
    generation_difficulty,
    label_entropy,
    normalize,
    sample_disagreement,
)


def test_identical_samples_do_not_disagree_and_disjoint_ones_fully_do():
    assert sample_disagreement(["the refund is sent", "The refund is sent."]) == 0.0
    assert sample_disagreement(["alpha beta", "gamma delta"]) == 1.0
    assert sample_disagreement(["only one"]) == 0.0


def test_rank_normalisation_spans_zero_to_one_and_shares_ties():
    assert normalize([3.0, 1.0, 2.0]) == [1.0, 0.0, 0.5]
    assert normalize([1.0, 1.0, 5.0]) == [0.25, 0.25, 1.0]
    assert normalize([7.0], "minmax") == [0.5]
    assert normalize([0.0, 5.0, 10.0], "minmax") == [0.0, 0.5, 1.0]


def test_uncertain_prompts_with_disagreeing_samples_score_hardest():
    keys = ["easy", "easy", "hard", "hard"]
    entropies = [0.1, 0.2, 2.0, 2.5]
    texts = ["refund sent", "refund sent", "maybe billing", "perhaps login trouble"]
    scores = generation_difficulty(keys, entropies, texts)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert max(scores[:2]) < min(scores[2:])


def test_label_entropy_is_normalised():
    assert label_entropy({"a": 0.5, "b": 0.5}) == pytest.approx(1.0)
    assert label_entropy({"a": 1.0, "b": 0.0, "c": 0.0}) == 0.0
    d = classification_difficulty([{"a": 0.9, "b": 0.1}, {"a": 0.5, "b": 0.5}])
    assert d == [0.0, 1.0]
    assert math.isclose(label_entropy({"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25}), 1.0)


def test_tiers_follow_the_quantile_cut_points():
    scores = [0.05, 0.1, 0.4, 0.5, 0.9, 0.95]
    tiers = assign_tiers(scores, [1 / 3, 2 / 3], ["easy", "medium", "hard"], [False] * 6)
    assert tiers == ["easy", "easy", "medium", "medium", "hard", "hard"]


def test_auto_tiering_never_overwrites_a_tier_a_human_set():
    scores = [0.05, 0.1, 0.4, 0.5, 0.9, 0.95]
    locked = [False, "hard", False, True, False, "easy"]
    current = [None, "hard", None, "easy", None, "easy"]
    tiers = assign_tiers(scores, [1 / 3, 2 / 3], ["easy", "medium", "hard"], locked, current)
    assert tiers[1] == "hard" and tiers[3] == "easy" and tiers[5] == "easy"
    assert tiers[0] == "easy" and tiers[4] == "hard"


@pytest.mark.parametrize(
    "quantiles, names, message",
    [
        ([0.5], ["a", "b", "c"], "need 2 tier names"),
        ([0.7, 0.3], ["a", "b", "c"], "strictly increasing"),
        ([1.5], ["a", "b"], "between 0 and 1"),
    ],
)
def test_bad_tier_configs_are_refused(quantiles, names, message):
    with pytest.raises(ValueError, match=message):
        assign_tiers([0.1, 0.2], quantiles, names, [False, False])


def test_a_locked_example_without_a_tier_is_an_error():
    with pytest.raises(ValueError, match="no current tier"):
        assign_tiers([0.1], [0.5], ["a", "b"], [True])

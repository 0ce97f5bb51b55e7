import numpy as np
import pytest

from workers.stats import (
    bootstrap_mean,
    mcnemar_exact,
    mcnemar_from_counts,
    paired_bootstrap,
    paired_permutation,
    wilson,
)


def test_the_paired_bootstrap_interval_covers_the_true_difference_about_95_times_in_100():
    # Two classifiers on 150 items, the first right 80% of the time, the second 72%,
    # correlated per item (the same hard items trouble both): the true difference is 0.08.
    rng = np.random.default_rng(1)
    trials, covered = 300, 0
    for t in range(trials):
        hard = rng.random(150)
        a = (hard > 0.20).astype(float)
        b = ((hard > 0.20) & (rng.random(150) > 0.10)).astype(float)  # P(b) = 0.8 * 0.9 = 0.72
        interval = paired_bootstrap(a, b, n_resamples=1000, seed=t)
        covered += interval.low <= 0.08 <= interval.high
    assert 0.91 <= covered / trials <= 0.985


def test_the_two_way_bootstrap_covers_a_mean_over_seeds_and_items():
    # Scores vary by seed (training noise) and by item: both must be in the interval.
    rng = np.random.default_rng(2)
    trials, covered = 200, 0
    for t in range(trials):
        seed_effect = rng.normal(0, 0.05, size=(5, 1))
        item_effect = rng.normal(0, 0.2, size=(1, 120))
        scores = 0.5 + seed_effect + item_effect + rng.normal(0, 0.05, size=(5, 120))
        interval = bootstrap_mean(scores, n_resamples=1000, seed=t)
        covered += interval.low <= 0.5 <= interval.high
    assert 0.85 <= covered / trials <= 0.99


def test_the_two_way_bootstrap_is_wider_than_an_items_only_one_when_seeds_disagree():
    rng = np.random.default_rng(3)
    a = rng.random((5, 200)) < np.array([[0.6], [0.7], [0.8], [0.65], [0.75]])
    b = rng.random((5, 200)) < 0.7
    two_way = paired_bootstrap(a, b, seed=0)
    pooled = paired_bootstrap(a.mean(0), b.mean(0), seed=0)
    assert two_way.seeds == 5 and two_way.n == 200
    assert (two_way.high - two_way.low) > (pooled.high - pooled.low)


def test_a_ratio_interval_brackets_its_estimate():
    rng = np.random.default_rng(4)
    teacher = (rng.random(200) < 0.9).astype(float)
    student = teacher * (rng.random(200) < 0.97)
    interval = paired_bootstrap(student, teacher, statistic="ratio")
    assert interval.low <= interval.estimate <= interval.high <= 1.0
    assert interval.estimate == pytest.approx(student.mean() / teacher.mean())


def test_the_bootstrap_is_deterministic_for_a_seed():
    a, b = [1, 0, 1, 1, 0, 1], [0, 0, 1, 0, 0, 1]
    assert paired_bootstrap(a, b, seed=7) == paired_bootstrap(a, b, seed=7)


def test_unpaired_or_missing_scores_are_refused():
    with pytest.raises(ValueError, match="paired"):
        paired_bootstrap([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="missing or infinite"):
        paired_bootstrap([1, float("nan")], [1, 0])
    with pytest.raises(ValueError, match="statistic"):
        paired_bootstrap([1, 0], [1, 0], statistic="median")


def test_mcnemar_on_a_known_table():
    # 1 pair only the first got right, 9 only the second: p = 2 * (1 + 10) / 2**10.
    result = mcnemar_from_counts(1, 9)
    assert result.p_value == pytest.approx(22 / 1024)
    assert result.n == 10 and result.method == "mcnemar_exact"
    # Concordant pairs do not matter; the same table from per-item outcomes:
    a = [True] * 50 + [True] * 1 + [False] * 9 + [False] * 40
    b = [True] * 50 + [False] * 1 + [True] * 9 + [False] * 40
    assert mcnemar_exact(a, b).p_value == pytest.approx(22 / 1024)


def test_mcnemar_without_discordant_pairs_finds_nothing():
    assert mcnemar_from_counts(0, 0).p_value == 1.0
    assert mcnemar_from_counts(5, 5).p_value == pytest.approx(1.0)


def test_the_paired_permutation_test_is_exact_on_a_small_sample():
    # Five items, all favour a by 1: of the 2**5 sign flips only the two extreme ones are as extreme.
    result = paired_permutation([1, 1, 1, 1, 1], [0, 0, 0, 0, 0])
    assert result.p_value == pytest.approx(2 / 32)
    assert paired_permutation([1, 0, 1], [1, 0, 1]).p_value == 1.0


def test_the_wilson_interval_matches_the_textbook_value():
    interval = wilson(81, 263)
    # Wilson 95% for 81/263 (Newcombe 1998, example): 0.2553 to 0.3662
    assert interval.low == pytest.approx(0.2553, abs=5e-4) and interval.high == pytest.approx(0.3662, abs=5e-4)
    assert wilson(0, 10).low == 0.0 and wilson(10, 10).high == 1.0
    with pytest.raises(ValueError):
        wilson(3, 0)

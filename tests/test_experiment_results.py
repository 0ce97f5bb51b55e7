"""An experiment's answers from per-item scores: paired differences, intervals, tests, the curve."""

import numpy as np
import pytest

from curation.services.experiments import compute_results
from workers.stats import mcnemar_exact


def report(scores, ids=None, teacher=None):
    ids = ids if ids is not None else list(range(1, len(scores) + 1))
    return {"gold_ids": ids, "metric": "accuracy", "student": list(scores), "teacher": teacher or [1.0] * len(scores)}


def comparison(results, key, b=None):
    question = next(q for q in results["questions"] if q["key"] == key)
    return next(c for c in question["comparisons"] if b is None or c["b"] == b)


def test_a_clear_win_gets_its_difference_an_interval_above_zero_and_exact_mcnemar_with_one_seed():
    rng = np.random.default_rng(0)
    better = (rng.random(200) < 0.85).astype(float)
    worse = np.where(rng.random(200) < 0.3, 0.0, better)  # the CE student loses ~30% of the items
    results = compute_results(
        {"curated": {0: report(better)}, "ce": {0: report(worse)}}, metric="accuracy", n_snapshots=2
    )
    kd = comparison(results, "kd")
    assert kd["difference"] == pytest.approx(better.mean() - worse.mean())
    assert kd["detectable"] and 0 < kd["ci95"][0] < kd["difference"] < kd["ci95"][1]
    assert kd["test"] == "exact McNemar" and kd["p_value"] == pytest.approx(mcnemar_exact(better, worse).p_value)
    assert kd["verdict"].startswith("Curated · curriculum · KD beats Curated · curriculum · CE only by ")
    assert "n = 200 gold items × 1 seed" in kd["verdict"]


def test_an_interval_spanning_zero_says_no_detectable_difference_at_its_n():
    a = [1.0, 0.0] * 10
    b = [0.0, 1.0] * 10
    results = compute_results(
        {"curated": {0: report(a), 1: report(b)}, "shuffled": {0: report(b), 1: report(a)}},
        metric="accuracy",
        n_snapshots=2,
    )
    c = comparison(results, "curriculum", "shuffled")
    assert not c["detectable"] and c["ci95"][0] < 0 < c["ci95"][1]
    assert c["verdict"].startswith("No detectable difference at n = 20 gold items × 2 seeds")
    assert c["test"] == "paired permutation"


def test_curation_compares_raw_with_the_curated_data_in_one_stage():
    arms = {arm: {0: report([1.0, 1.0, 0.0, 1.0])} for arm in ("curated", "shuffled", "raw")}
    two = compute_results(arms, metric="accuracy", n_snapshots=2)
    assert (comparison(two, "curation")["a"], comparison(two, "curation")["b"]) == ("shuffled", "raw")
    del arms["shuffled"]
    one = compute_results(arms, metric="accuracy", n_snapshots=1)
    assert comparison(one, "curation")["a"] == "curated"


def test_the_learning_curve_goes_from_the_smallest_share_to_all_of_the_curated_data():
    arms = {
        "curated": {0: report([1.0, 1.0, 1.0, 0.0])},
        "fraction_50": {0: report([1.0, 1.0, 0.0, 0.0])},
        "fraction_10": {0: report([1.0, 0.0, 0.0, 0.0])},
    }
    curve = compute_results(arms, metric="accuracy", n_snapshots=2)["learning_curve"]
    assert [(p["percent"], p["mean"]) for p in curve] == [(10, 0.25), (50, 0.5), (100, 0.75)]
    assert all(p["ci95"][0] <= p["mean"] <= p["ci95"][1] for p in curve)


def test_items_missing_from_some_evaluation_are_left_out_and_the_page_is_told():
    results = compute_results(
        {"curated": {0: report([1.0, 1.0, 0.0], ids=[1, 2, 3])}, "ce": {0: report([1.0, 0.0], ids=[1, 2])}},
        metric="accuracy",
        n_snapshots=2,
    )
    assert results["n_items"] == 2 and comparison(results, "kd")["difference"] == pytest.approx(0.5)
    assert any("only the 2 items every evaluation scored" in note for note in results["notes"])


def test_students_that_all_score_the_same_on_every_item_are_flagged():
    results = compute_results(
        {"curated": {0: report([0.0] * 5)}, "ce": {0: report([0.0] * 5)}}, metric="accuracy", n_snapshots=2
    )
    assert any("cannot tell these students apart" in note for note in results["notes"])
    assert comparison(results, "kd")["verdict"].startswith("No detectable difference at n = 5")


def test_the_teacher_gets_a_wilson_interval_over_the_gold_items():
    results = compute_results(
        {"curated": {0: report([1.0] * 4, teacher=[1.0, 1.0, 1.0, 0.0])}}, metric="accuracy", n_snapshots=2
    )
    teacher = results["teacher"]
    assert teacher["mean"] == 0.75 and teacher["ci95"][0] < 0.75 < teacher["ci95"][1] and teacher["n_items"] == 4

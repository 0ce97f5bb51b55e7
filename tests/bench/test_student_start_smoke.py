"""Smoke run of the demo student's recipe selection (a tiny teacher: checks the keys and that gold is never read)."""

import pytest

pytestmark = pytest.mark.slow


def test_the_student_start_bench_scores_every_arm_on_validation_only():
    import bench.student_start as bench

    out = bench.main(["--smoke", "--seeds", "0"])
    assert set(out["arms"]) == set(bench.ARMS)
    assert set(out["expert"]) == set(out["pools"]) and len(out["pools"]) > 1
    for actions in out["expert"].values():
        assert actions["reviewed"] == actions["approved"] + actions["relabelled"] + actions["rejected"]
    assert set(out["differences"]) == {f"{a}_minus_{b}" for a, b in bench.DIFFERENCES}
    for split in ("dev", "field"):
        assert out["n"][split] > 0 and 0 <= out["teacher"][split] <= 1
        for arm in out["arms"].values():
            assert 0 <= arm[split]["mean"] <= 1 and 0 <= arm[split]["agreement"] <= 1
        for diff in out["differences"].values():
            low, high = diff[split]["ci95"]
            assert low <= diff[split]["mean"] <= high

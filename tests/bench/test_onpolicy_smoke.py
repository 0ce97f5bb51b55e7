import pytest

from tests.bench._run import run_bench

pytestmark = pytest.mark.slow  # trains a tiny teacher and nine tiny students


def test_the_onpolicy_bench_smoke_run_ends_with_its_json_figures(tmp_path):
    figures, stdout = run_bench("onpolicy.py", "--smoke", "--workdir", str(tmp_path), timeout=600)
    assert "ratio on-policy / token_kd chrF" in stdout
    assert set(figures["arms"]) == {"token_kd", "token_kd_on_policy", "sequence_kd"}
    for name, arm in figures["arms"].items():
        low, high = arm["ci95"]
        assert low <= arm["chrf"] <= high and arm["seeds"] == 2 and arm["n_items"] == 4
        assert ("diff_vs_token_kd" in arm) == (name != "token_kd")
    stage = figures["on_policy_stage"]
    assert stage["samples"] >= 4 and stage["batches"] + stage["fallbacks"] >= 1
    assert figures["steps"] == 4 and figures["train_records"] >= 1

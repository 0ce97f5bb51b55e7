import pytest

from tests.bench._run import run_bench

pytestmark = pytest.mark.slow  # trains and generates with real (tiny) models
KEYS = {
    "offline_tokens_per_s",
    "online_tokens_per_s",
    "ratio",
    "offline_peak_mb",
    "online_peak_mb",
    "teacher_score",
    "arms",
    "overlap",
    "vocab_size",
    "seeds",
}
ARMS = {"ce_shuffled", "kd_shuffled", "ce_curriculum", "kd_curriculum", "random_order"}


def test_the_distill_bench_smoke_run_ends_with_its_json_figures():
    figures, stdout = run_bench("distill.py", "--smoke", timeout=300)
    assert set(figures) >= KEYS
    assert figures["offline_tokens_per_s"] > 0 and figures["online_tokens_per_s"] > 0
    # Rates are printed rounded to 0.1 token/s, the ratio from the unrounded rates: allow that rounding.
    assert figures["ratio"] == pytest.approx(figures["offline_tokens_per_s"] / figures["online_tokens_per_s"], rel=1e-3)
    assert "ratio" in stdout
    assert set(figures["arms"]) == ARMS and figures["overlap"] == 0 and figures["vocab_size"] > 256
    for arm in figures["arms"].values():
        low, high = arm["ci95"]
        assert low <= arm["mean"] <= high and set(arm["by_tier"]) == {"easy", "medium", "hard"}
    assert 0 <= figures["teacher_score"] <= 1 and figures["seeds"] >= 2

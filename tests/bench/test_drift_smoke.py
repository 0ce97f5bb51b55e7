import pytest

from tests.bench._run import run_bench

pytestmark = pytest.mark.slow


def test_the_drift_bench_smoke_run_ends_with_its_json_figures():
    figures, _ = run_bench("drift.py", "--smoke", timeout=1200)
    for key in ("shifted_detected", "false_alarms"):
        low, high = figures[f"{key}_ci95"]
        assert 0 <= low <= figures[key] <= high <= 1, key
    assert figures["shifted_n"] == figures["clean_n"] == 4 and figures["calibration_windows"] == 6
    assert set(figures["thresholds"]) == {"embedding", "length", "label"}
    assert figures["embed_prompts_per_s"] > 0 and figures["embed_baseline_prompts_per_s"] > 0
    assert figures["smoke"] is True

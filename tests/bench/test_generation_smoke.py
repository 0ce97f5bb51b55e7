import pytest

from tests.bench._run import run_bench

pytestmark = pytest.mark.slow  # trains and generates with real (tiny) models
KEYS = {
    "ours_tokens_per_s",
    "baseline_tokens_per_s",
    "ratio",
    "softtarget_bytes_per_token",
    "json_bytes_per_token",
    "hf_batched_tokens_per_s",
    "max_batch",
}


def test_the_generation_bench_runs_and_ends_with_its_figures():
    figures, _ = run_bench("generation.py", "--smoke", timeout=300)
    assert set(figures) >= KEYS
    assert figures["ours_tokens_per_s"] > 0 and figures["baseline_tokens_per_s"] > 0
    assert figures["softtarget_bytes_per_token"] < figures["json_bytes_per_token"]
    assert figures["max_batch"] == 64 and "top_k 0" in figures["sampling"]
    assert set(figures["warmed_up"]) == {"ours", "baseline", "hf_batched"}

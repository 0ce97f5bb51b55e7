import pytest

from tests.bench._run import run_bench

pytestmark = pytest.mark.slow


def test_the_decontamination_bench_smoke_run_ends_with_its_json_figures():
    figures, _ = run_bench("decontam.py", "--smoke", timeout=1200)
    for key in ("recall", "precision", "prompts_per_s", "ratio_vs_bruteforce"):
        assert isinstance(figures[key], float), key
    assert 0 <= figures["recall"] <= 1 and 0 <= figures["precision"] <= 1 and figures["prompts_per_s"] > 0
    low, high = figures["recall_ci95"]
    assert low <= figures["recall"] <= high
    assert set(figures["by_kind"]) == {
        "typo",
        "casing",
        "punctuation",
        "numbers",
        "names",
        "greeting",
        "swapped",
        "combined",
    }
    # The index proposes what brute force finds on the sample (exact Jaccard decides both).
    agree, n = figures["bruteforce_agreement"]
    assert agree == n and figures["smoke"] is True

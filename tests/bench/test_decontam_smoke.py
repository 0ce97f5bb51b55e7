import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_the_decontamination_bench_smoke_run_ends_with_its_json_figures():
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "decontam.py"), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
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

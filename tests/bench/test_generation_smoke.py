import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "generation.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(figures) >= KEYS
    assert figures["ours_tokens_per_s"] > 0 and figures["baseline_tokens_per_s"] > 0
    assert figures["softtarget_bytes_per_token"] < figures["json_bytes_per_token"]
    assert figures["max_batch"] == 64 and "top_k 0" in figures["sampling"]
    assert set(figures["warmed_up"]) == {"ours", "baseline", "hf_batched"}

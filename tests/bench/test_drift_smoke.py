import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_the_drift_bench_smoke_run_ends_with_its_json_figures():
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "drift.py"), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("shifted_detected", "false_alarms"):
        low, high = figures[f"{key}_ci95"]
        assert 0 <= low <= figures[key] <= high <= 1, key
    assert figures["shifted_n"] == figures["clean_n"] == 4 and figures["calibration_windows"] == 6
    assert set(figures["thresholds"]) == {"embedding", "length", "label"}
    assert figures["embed_prompts_per_s"] > 0 and figures["embed_baseline_prompts_per_s"] > 0
    assert figures["smoke"] is True

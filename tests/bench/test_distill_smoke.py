import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "offline_tokens_per_s",
    "online_tokens_per_s",
    "ratio",
    "offline_peak_mb",
    "online_peak_mb",
    "kd_quality",
    "ce_only_quality",
    "curriculum_quality",
    "shuffled_quality",
}


def test_the_distill_bench_smoke_run_ends_with_its_json_figures():
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "distill.py"), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(figures) >= KEYS
    assert figures["offline_tokens_per_s"] > 0 and figures["online_tokens_per_s"] > 0
    assert (
        figures["ratio"] == round(figures["offline_tokens_per_s"] / figures["online_tokens_per_s"], 3)
        or abs(figures["ratio"] - figures["offline_tokens_per_s"] / figures["online_tokens_per_s"]) < 0.01
    )
    assert "ratio" in out.stdout

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs the benchmark script in a subprocess

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_benchmark_runs_and_ends_with_its_figures(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)  # the smoke run uses a throwaway SQLite, never the CI database
    out = subprocess.run(
        [sys.executable, "bench/import_prompts.py", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["rows"] == 2000
    assert figures["ours_rows_per_s"] > 0 and figures["baseline_rows_per_s"] > 0
    # Rates are printed rounded to 0.1 row/s, the ratio from the unrounded rates: allow that rounding.
    assert figures["ratio"] == pytest.approx(figures["ours_rows_per_s"] / figures["baseline_rows_per_s"], abs=0.006)

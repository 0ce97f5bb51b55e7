import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_service

pytestmark = pytest.mark.slow  # runs the benchmark script in a subprocess

ROOT = Path(__file__).resolve().parents[2]


def test_the_export_benchmark_runs_on_postgresql_and_ends_with_its_figures(tmp_path):
    url = require_service("DATABASE_URL")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("bench/export.py measures PostgreSQL")
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "bench/export.py", "--rows", "500"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["rows"] == 500
    assert figures["ours_rows_per_s"] > 0 and figures["copy_rows_per_s"] > 0 and 0 < figures["peak_rss_mb"] < 1000
    # The rates are printed rounded to 0.1 row/s, the ratio from the unrounded rates: allow that rounding.
    assert figures["ratio"] == pytest.approx(figures["ours_rows_per_s"] / figures["copy_rows_per_s"], rel=1e-3)
    assert "ours: HTTP stream built by the database" in out.stdout


def test_the_export_benchmark_refuses_sqlite(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "bench/export.py", "--rows", "10"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0 and "refuses SQLite" in out.stderr

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_service

pytestmark = pytest.mark.slow  # runs the benchmark script in a subprocess

ROOT = Path(__file__).resolve().parents[2]


def test_the_review_queue_benchmark_runs_and_ends_with_its_figures(tmp_path):
    require_service("DATABASE_URL")  # it measures PostgreSQL and refuses SQLite
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "bench/review_queue.py", "--rows", "3000", "--requests", "5", "--baseline-rows", "20"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "OFFSET / keyset" in out.stdout
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["rows"] == 3000 and figures["bulk_rows"] == 300
    for key in ("keyset_p95_ms_first", "keyset_p95_ms_deep", "offset_p95_ms_deep", "bulk_100k_s"):
        assert figures[key] > 0, key


def test_the_review_queue_benchmark_refuses_sqlite(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "bench/review_queue.py", "--rows", "10"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0 and "refuses SQLite" in out.stderr

"""Running a benchmark script as a user would, for the smoke tests."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, env: dict | None = None, timeout: int = 600) -> tuple[dict, str]:
    """``bench/<script> args`` in a fresh interpreter from the repository root: the JSON object of its
    last line, and its whole standard output. A failed run fails the test with its output's tail."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stdout

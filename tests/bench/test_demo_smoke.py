import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {
    "teacher_accuracy": float,
    "student_accuracy": float,
    "quality_retained": float,
    "speedup": float,
    "demo_first_run_s": float,
    "demo_second_run_s": float,
}


def test_the_demo_bench_smoke_run_plays_the_journey_and_ends_with_its_json_figures(tmp_path):
    data_dir = tmp_path / "data"
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "demo.py"), "--smoke", "--data-dir", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    for key, kind in FIGURES.items():
        assert isinstance(figures[key], kind), (key, figures[key])
    assert 0 <= figures["teacher_accuracy"] <= 1 and 0 <= figures["student_accuracy"] <= 1
    assert figures["speedup"] > 0 and figures["smoke"] is True
    assert (
        figures["quality_retained"] == round(figures["student_accuracy"] / figures["teacher_accuracy"], 4)
        or abs(figures["quality_retained"] - figures["student_accuracy"] / figures["teacher_accuracy"]) < 1e-3
    )
    assert 0 < figures["demo_second_run_s"] < figures["demo_first_run_s"]  # the second run reuses the teacher
    assert figures["student_params"] < figures["teacher_params"]
    assert "quality retained" in out.stdout and "speed-up" in out.stdout
    # It ran on its own data directory: the user's var/ was not used.
    assert (data_dir / "db.sqlite3").is_file() and (data_dir / "demo" / "teacher" / "demo_teacher.json").is_file()

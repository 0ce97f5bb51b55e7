import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # trains and generates with real (tiny) models
FIGURES = {
    "teacher_accuracy": float,
    "student_accuracy": float,
    "quality_retained": (float, type(None)),
    "quality_retained_ci95": (list, type(None)),
    "speedup": float,
    "same_threads": bool,
    "curation_gain": float,
    "curation_gain_ci95": list,
    "curation_seeds": int,
    "curated_by_seed": list,
    "raw_by_seed": list,
    "demo_first_run_s": float,
    "demo_second_run_s": float,
    # the reply-drafting leg: a generation student distilled, judged and timed per token
    "gen_judged_retained": (float, type(None)),
    "gen_judged_retained_ci95": (list, type(None)),
    "gen_chrf_retained": (float, type(None)),
    "gen_chrf_retained_ci95": (list, type(None)),
    "gen_speedup_per_token": float,
    "judge_human_agreement": (float, type(None)),
    "judge_human_n": int,
}


def test_the_demo_bench_smoke_run_plays_the_journey_and_ends_with_its_json_figures(tmp_path):
    data_dir = tmp_path / "data"
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "demo.py"), "--smoke", "--data-dir", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    for key, kind in FIGURES.items():
        assert isinstance(figures[key], kind), (key, figures[key])
    assert 0 <= figures["teacher_accuracy"] <= 1 and 0 <= figures["student_accuracy"] <= 1
    assert figures["speedup"] > 0 and figures["smoke"] is True and figures["same_threads"] is True
    if figures["teacher_accuracy"] > 0:
        assert abs(figures["quality_retained"] - figures["student_accuracy"] / figures["teacher_accuracy"]) < 1e-3
    low, high = figures["curation_gain_ci95"]
    assert low <= figures["curation_gain"] <= high
    assert abs(figures["curation_gain"] - (figures["curated_gold_accuracy"] - figures["raw_gold_accuracy"])) < 1e-3
    assert len(figures["curated_by_seed"]) == len(figures["raw_by_seed"]) == figures["curation_seeds"] >= 1
    assert len(figures["curated_dev_by_seed"]) == len(figures["raw_dev_by_seed"]) == figures["curation_seeds"]
    # Selection reads the project's dev items: the recipe, then the seed that ships.
    selection = figures["recipe_selection"]
    assert selection["on"] == "dev"
    dev = [c["dev_accuracy"] for c in selection["candidates"]]
    assert selection["chosen"] == dev.index(max(dev))
    assert figures["shipped_seed"] == figures["curated_dev_by_seed"].index(max(figures["curated_dev_by_seed"]))
    if figures["teacher_accuracy"] > 0:  # the recipe's seeds: the chosen student is one draw
        low, high = figures["quality_retained_over_seeds_ci95"]
        assert low <= figures["quality_retained_over_seeds"] <= high
    # Routing at 99% of the teacher: a share with its interval, the threshold from validation rows,
    # and the cost of the mix from the demo specs' (equal, per-hour) prices.
    share, (s_low, s_high) = figures["routing_share_at_99"], figures["routing_share_at_99_ci95"]
    assert 0 <= s_low <= share <= s_high <= 1 and figures["routing_validation_n"] > 0
    assert figures["routing_cost_ratio"] > 0
    assert isinstance(figures["routing_meets_99_on_gold"], bool)
    # The expert is declared simulated; the recipe was chosen on dev, never on gold.
    assert figures["expert"]["simulated"] is True and figures["expert"]["reviewed"] > 0
    traffic = figures["traffic"]  # the second measure of curation: future traffic, not gold
    assert traffic["n"] == 40 and 0 <= traffic["n_field"] <= 40
    low, high = traffic["all"]["curation_gain_ci95"]
    assert low <= traffic["all"]["curation_gain"] <= high
    assert abs(traffic["all"]["curation_gain"] - (traffic["all"]["curated"] - traffic["all"]["raw"])) < 1e-3
    assert "future traffic: curated - raw (not gold)" in out.stdout
    assert len(figures["recipe_selection"]["candidates"]) >= 2
    assert set(figures["gold_tiers"]) <= {"easy", "medium", "hard"} and "untiered" not in figures["gold_tiers"]
    assert figures["teacher_steps"] == 6 and "targets" in figures
    assert 0 < figures["demo_second_run_s"] < figures["demo_first_run_s"]  # the second run reuses the teacher
    assert figures["student_params"] < figures["teacher_params"]
    assert "quality retained" in out.stdout and "speed-up" in out.stdout and "SIMULATED expert" in out.stdout
    assert figures["judge_human_simulated"] is True and figures["judge_human_n"] > 0
    assert figures["gen_speedup_per_token"] > 0 and "SIMULATED reviewer" in out.stdout
    if figures["gen_judged_retained"] is not None and figures["gen_judged_retained_ci95"]:
        low, high = figures["gen_judged_retained_ci95"]
        assert low <= figures["gen_judged_retained"] <= high
    # It ran on its own data directory: the user's var/ was not used.
    assert (data_dir / "db.sqlite3").is_file() and (data_dir / "demo" / "teacher" / "demo_teacher.json").is_file()

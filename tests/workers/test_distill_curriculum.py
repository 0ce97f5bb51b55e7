"""The curriculum's recipe options: pacing, visit budgets, random order, loss and LR schedules."""

from collections import Counter

import pytest

from tests.workers.test_distill_recipe import make_generation_records
from workers.distill import DistillConfig, DistillError, StageConfig, run_distillation
from workers.distill.curriculum import (
    Schedule,
    StagePlan,
    draw_sequence,
    global_lr_factor,
    loss_settings,
    plan_tier_visits,
)
from workers.distill.data import GenExample


def examples(tier, n):
    return [GenExample([1, 2, 3], 1, None, tier) for _ in range(n)]


def config(stage_sizes, *, steps, batch_size=4, **kw):
    tiers = ["easy", "medium", "hard"][: len(stage_sizes)]
    stages = [
        StageConfig(
            name=t, records=[{"prompt": "p", "response": "r"}], steps=s, replay_fraction=kw.pop(f"replay_{t}", 0)
        )
        for t, s in zip(tiers, steps)
    ]
    return DistillConfig(student="s", output_dir="/tmp/x", stages=stages, batch_size=batch_size, **kw)


def own_of(sizes):
    return [examples(t, n) for t, n in zip(["easy", "medium", "hard"], sizes)]


def tier_visits(schedule):
    counts = Counter()
    for i, steps in enumerate(schedule.train_steps):
        for m in range(steps * schedule.config.grad_accum):
            counts.update(schedule.items[i][j].tier for j in schedule.micro_indices(i, "train", m))
    return counts


def test_a_given_budget_with_replay_starves_the_hard_tier_as_issue_14_measured():
    # 3 x 40 steps, batch 16, 30% replay: the hard stage's own records are diluted.
    cfg = config([400, 400, 400], steps=[40, 40, 40], batch_size=16, replay_medium=0.3, replay_hard=0.3)
    visits = tier_visits(Schedule(own_of([400, 400, 400]), cfg))
    shuffled_hard = 120 * 16 * 400 / 1200
    assert visits["hard"] < 0.8 * shuffled_hard


def test_a_tier_visits_budget_gives_every_tier_its_shuffled_visits_in_the_same_total_steps():
    cfg = config(
        [400, 400, 400],
        steps=[40, 40, 40],
        batch_size=16,
        replay_medium=0.3,
        replay_hard=0.3,
        budget="tier_visits",
        replay_share=0.25,
    )
    schedule = Schedule(own_of([400, 400, 400]), cfg)
    visits = tier_visits(schedule)
    assert sum(schedule.train_steps) == 120  # the same total steps as entered
    shuffled = 120 * 16 / 3
    assert visits["hard"] == schedule.plans[-1].own_draws  # exactly the planned draws
    assert visits["hard"] >= shuffled - 16  # at least a shuffled run's, up to one batch of rounding
    for tier in ("easy", "medium"):
        assert visits[tier] == pytest.approx(shuffled, rel=0.05)
    assert sum(visits.values()) == 120 * 16


def test_cumulative_pacing_keeps_all_earlier_data_and_hard_weight_buys_more_hard_visits():
    cfg = config([300, 300, 300], steps=[30, 30, 30], pacing="cumulative", budget="tier_visits", hard_weight=1.5)
    schedule = Schedule(own_of([300, 300, 300]), cfg)
    assert [len(items) for items in schedule.items] == [300, 600, 900]
    visits = tier_visits(schedule)
    assert visits["hard"] == pytest.approx(1.5 * 90 * 4 / 3, abs=4)
    assert sum(visits.values()) == 90 * 4


def test_a_replay_share_that_would_over_visit_earlier_stages_is_refused():
    with pytest.raises(DistillError, match="replay_share"):
        plan_tier_visits(
            [10, 10, 1000],
            [{}, {0: 10}, {0: 10, 1: 10}],
            total_steps=100,
            draws_per_step=8,
            replay_share=0.5,
            hard_weight=1,
        )


def test_the_random_order_control_keeps_the_stage_sizes_and_shuffles_the_tiers():
    cfg = config([200, 100, 50], steps=[10, 10, 10], order="random", seed=3)
    schedule = Schedule(own_of([200, 100, 50]), cfg)
    assert [len(o) for o in schedule.own] == [200, 100, 50]
    assert len({ex.tier for ex in schedule.own[2]}) > 1  # the last stage is no longer all hard
    again = Schedule(own_of([200, 100, 50]), cfg)
    assert [[ex.tier for ex in o] for o in again.own] == [[ex.tier for ex in o] for o in schedule.own]


def test_draws_are_whole_passes_and_the_same_for_a_seed():
    plan = StagePlan(steps=5, own_draws=30, replay_draws=10)
    seq = draw_sequence(12, 7, plan, seed=1)
    assert len(seq) == 40 and seq == draw_sequence(12, 7, plan, seed=1)
    own = Counter(j for j in seq if j < 12)
    assert sum(own.values()) == 30 and set(own.values()) <= {2, 3}  # two passes and half of a third


def test_the_loss_curricula_start_with_ce_and_anneal_the_temperature():
    kw = dict(total_steps=100, ce_warmup_fraction=0.2, temperature_schedule="anneal")
    assert loss_settings(0.7, 4.0, global_step=10, **kw) == (0.0, pytest.approx(3.7))
    assert loss_settings(0.7, 4.0, global_step=50, **kw) == (0.7, pytest.approx(2.5))
    assert loss_settings(
        0.7, 4.0, global_step=50, total_steps=100, ce_warmup_fraction=0, temperature_schedule="constant"
    ) == (0.7, 4.0)


def test_one_lr_schedule_across_stages_decays_once():
    factors = [global_lr_factor(s, 10, 100) for s in range(100)]
    assert factors[0] == 0 and factors[10] == 1.0 and factors[55] == pytest.approx(0.5)
    decay = factors[10:]
    assert all(decay[i] >= decay[i + 1] for i in range(len(decay) - 1))


def test_unknown_recipe_options_are_refused_with_their_name():
    for kw, word in (
        ({"pacing": "spiral"}, "pacing"),
        ({"budget": "lots"}, "budget"),
        ({"order": "backwards"}, "order"),
        ({"replay_share": 1.0}, "replay_share"),
        ({"hard_weight": 0.5}, "hard_weight"),
        ({"ce_warmup_fraction": 1.0}, "ce_warmup_fraction"),
        ({"pacing": "cumulative", "replay_medium": 0.3}, "contradicts cumulative"),
    ):
        with pytest.raises(DistillError, match=word):
            config([1, 1], steps=[1, 1], **kw)


@pytest.mark.slow
def test_a_fixed_step_run_draws_the_budgeted_visits_per_tier(tiny_model_dir, tiny_student_dir, tmp_path):
    easy = make_generation_records(tiny_model_dir, tier="easy", repeat=2)
    hard = make_generation_records(tiny_model_dir, tier="hard", repeat=1)
    stages = [
        StageConfig(name="easy", records=easy, steps=6, lr=1e-3),
        StageConfig(name="hard", records=hard, steps=6, lr=1e-3, replay_fraction=0.5),
    ]
    cfg = DistillConfig(
        student=str(tiny_student_dir),
        output_dir=str(tmp_path),
        stages=stages,
        batch_size=4,
        progress_every_s=0,
        teacher_tokenizer=str(tiny_model_dir),
        budget="tier_visits",
        replay_share=0.25,
        lr_schedule="global",
        ce_warmup_fraction=0.25,
    )
    result = run_distillation(cfg)
    assert result.status == "completed"
    assert sum(result.visits.values()) == 12 * 4
    assert result.visits["hard"] == result.plan[1]["own_draws"]
    # a shuffled run of 12 steps visits the 6 hard of 18 records 16 times
    assert result.visits["hard"] >= 16 - 4
    assert [p["steps"] for p in result.plan] == [7, 5] and sum(p["steps"] for p in result.plan) == 12


def test_gate_records_holding_gold_items_are_refused(tiny_student_dir, tmp_path):
    records = [{"prompt": "p", "response": " r", "tier": "easy"}]
    cfg = DistillConfig(
        student=str(tiny_student_dir),
        output_dir=str(tmp_path),
        stages=[
            StageConfig(
                name="s",
                records=records,
                val_records=[{"prompt": "q", "response": " a", "gold": True}],
                steps=1,
                gate={"metric": "accuracy", "threshold": 0.0},
            )
        ],
    )
    with pytest.raises(DistillError, match="gold is a test set"):
        run_distillation(cfg)

"""The simulated expert of bench/demo.py and bench/student_start.py: one verdict table."""

from bench._demo_expert import STAGE_OF_TIER, decision, reviewed_count


def test_the_simulated_expert_approves_right_answers_rejects_wrong_mixed_ones_and_relabels_the_rest():
    assert decision("billing", "billing", ambiguous=True) == "approved"
    assert decision("account", "billing", ambiguous=True) == "rejected"
    assert decision("account", "billing", ambiguous=False) == "relabelled"
    assert reviewed_count(0.15, 2000) == 300


def test_the_demo_curriculum_puts_easy_tickets_first_and_the_rest_together():
    assert STAGE_OF_TIER == {"easy": "stage 1", "medium": "stage 2", "hard": "stage 2"}

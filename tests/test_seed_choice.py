"""bench/student_start.py's seed_choice: what choosing among students on half the tickets is worth."""

import pytest

from bench.student_start import seed_choice


def test_the_clearly_better_student_is_chosen_and_its_gain_is_its_lead_over_the_mean():
    good, poor = [1.0] * 200, [1.0, 0.0] * 100
    choice = seed_choice([poor, good], splits=200)
    assert choice["students"] == 2
    assert choice["picked"] == 1.0 and choice["picked_range95"] == [1.0, 1.0]
    assert choice["gain"] == pytest.approx(0.25, abs=0.03)  # 1.0 against the mean of 1.0 and ~0.5


def test_choosing_among_equal_students_is_worth_nothing():
    same = [1.0, 0.0, 1.0, 1.0] * 50
    choice = seed_choice([same, list(same), list(same)], splits=100)
    assert choice["gain"] == 0.0 and choice["gain_range95"] == [0.0, 0.0]


def test_one_student_offers_no_choice():
    assert seed_choice([[1.0, 0.0]]) is None

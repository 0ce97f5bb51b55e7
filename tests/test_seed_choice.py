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


def test_more_students_to_choose_from_find_the_good_one_more_often():
    good, poor = [1.0] * 200, [1.0, 0.0] * 100
    choice = seed_choice([poor, poor, poor, poor, good], splits=400)
    by_k = choice["by_k"]
    assert set(by_k) == {"2", "3", "5"} and by_k["5"]["picked"] == choice["picked"] == 1.0
    # with k of 5 drawn at random the good one is there k/5 of the time: picked ~ 0.5 + 0.5 * k/5
    assert by_k["2"]["picked"] == pytest.approx(0.7, abs=0.05)
    assert by_k["3"]["picked"] == pytest.approx(0.8, abs=0.05)
    assert by_k["2"]["gain"] < by_k["3"]["gain"] < by_k["5"]["gain"]

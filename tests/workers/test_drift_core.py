"""The drift core (workers/drift.py, workers/confidence.py): statistics, calibration, the student's confidence."""

import numpy as np
import pytest

from workers import drift as core
from workers.confidence import student_confidences


def test_the_instruction_every_prompt_shares_is_cut_before_embedding():
    prompts = [f"Classify this ticket.\nTicket: {t}\nCategory:" for t in ("refund me", "reset my password", "hi")]
    affixes = core.common_affixes(prompts)
    assert affixes == ("Classify this ticket.\nTicket: ", "\nCategory:")
    assert core.strip_affixes([*prompts, "no template here"], affixes) == [
        "refund me",
        "reset my password",
        "hi",
        "no template here",
    ]
    assert core.common_affixes(["same", "same"]) == ("", "")  # nothing would be left to embed
    assert core.common_affixes(["alpha one", "beta two"]) == ("", "")


def _unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_window_far_from_the_training_vectors_scores_a_similarity_drop():
    rng = np.random.default_rng(0)
    centre = rng.normal(size=16)
    training = _unit(centre + 0.3 * rng.normal(size=(200, 16)))
    texts = ["a b c"] * 200
    reference = core.build_reference(training, texts, ["x", "y"] * 100)
    near = core.score_window(
        reference, _unit(centre + 0.3 * rng.normal(size=(50, 16))), ["a b c"] * 50, ["x", "y"] * 25
    )
    far = core.score_window(reference, _unit(rng.normal(size=(50, 16))), ["a b c d e f g h"] * 50, ["z"] * 50)
    assert abs(near.scores["embedding"]) < 0.05 and near.scores["length"] == 0 and near.scores["label"] == 0
    assert far.scores["embedding"] > 0.3 and far.p_values["embedding"] < 1e-6
    assert far.scores["length"] == 1.0 and far.odd_length.all()
    assert far.scores["label"] == 1.0 and far.p_values["label"] < 1e-6  # every label unseen in training
    assert far.novel.mean() > 0.9 and near.novel.mean() < 0.5
    assert core.flag(far.scores, {"embedding": 0.1, "length": 0.5}) == ["embedding", "length"]
    assert core.flag(near.scores, {"embedding": 0.1, "length": 0.5}) == []


def test_label_shift_needs_ten_labels_and_measures_total_variation():
    assert core.label_shift(["a"] * 9, {"a": 0.5, "b": 0.5}) is None
    tvd, p = core.label_shift(["a"] * 30 + ["b"] * 10, {"a": 0.5, "b": 0.5})
    assert tvd == pytest.approx(0.25) and p < 0.01


def test_thresholds_come_from_the_clean_windows_upper_quantile():
    clean = [{"embedding": x / 100, "length": 0.1} for x in range(100)]
    thresholds = core.calibrate(clean, false_alarm_rate=0.1)
    # 1 - 0.1 / 2 signals = the 95th percentile, taken as an observed value
    assert thresholds["embedding"] == pytest.approx(0.95, abs=1e-6)
    assert sum(bool(core.flag(s, thresholds)) for s in clean) <= 10


def test_the_students_confidence_is_a_probability_per_prompt(tiny_student_dir):
    prompts = ["hello there", [{"role": "user", "content": "hi"}]]
    generated = student_confidences(str(tiny_student_dir), prompts, max_new_tokens=3)
    labelled = student_confidences(str(tiny_student_dir), prompts * 10, ["billing", "account", "other"])
    assert len(generated) == 2 and all(0 < c <= 1 for c in generated)
    assert len(labelled) == 20 and all(1 / 3 <= c <= 1 for c in labelled)
    assert labelled[:2] == pytest.approx(labelled[18:])  # batching does not change a prompt's score

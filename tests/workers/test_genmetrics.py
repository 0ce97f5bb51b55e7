"""Free-text metrics: chrF and ROUGE-L come from sacrebleu and rouge-score, every mean has
its interval and n, and retained ratios are paired."""

import pytest

from workers import genmetrics


def test_chrf_and_rouge_l_of_identical_and_disjoint_text():
    assert genmetrics.chrf("refund the extra charge", "refund the extra charge") == pytest.approx(100.0)
    assert genmetrics.chrf("zzz", "refund the extra charge") == pytest.approx(0.0)
    assert genmetrics.rouge_l("refund the extra charge", "refund the extra charge") == pytest.approx(1.0)
    # LCS "refund charge" (2 words): precision 2/2, recall 2/4 -> F = 2/3
    assert genmetrics.rouge_l("refund charge", "refund the extra charge") == pytest.approx(2 / 3)


def _item(chrf, check=None, chars=10, ref_chars=20, tokens=3):
    item = {"chrf": chrf, "rouge_l": chrf / 100, "chars": chars, "ref_chars": ref_chars, "tokens": tokens}
    if check is not None:
        item["check"] = check
    return item


def test_a_summary_has_means_with_intervals_a_wilson_pass_rate_and_lengths():
    items = [_item(c, check=float(c > 30), chars=c) for c in (10, 20, 40, 50, 80)]
    out = genmetrics.summarize(items)
    assert out["n"] == 5
    assert out["chrf"]["mean"] == pytest.approx(40.0) and out["chrf"]["n"] == 5
    low, high = out["chrf"]["ci95"]
    assert 10 <= low < 40 < high <= 80
    assert out["check_pass_rate"]["mean"] == pytest.approx(3 / 5)
    assert 0 < out["check_pass_rate"]["ci95"][0] < 0.6 < out["check_pass_rate"]["ci95"][1] < 1
    assert out["length"]["chars_mean"] == pytest.approx(40.0)
    assert out["length"]["ratio_to_reference"] == pytest.approx(2.0)
    assert "check_pass_rate" not in genmetrics.summarize([_item(10)])


def test_chrf_retained_is_paired_and_undefined_when_the_teacher_scores_zero():
    student = [_item(c) for c in (20, 30, 40, 10)]
    teacher = [_item(c) for c in (40, 60, 80, 20)]
    out = genmetrics.compare(student, teacher)
    assert out["chrf_retained"]["ratio"] == pytest.approx(0.5)
    # every item keeps exactly half: the paired interval collapses on 0.5
    assert out["chrf_retained"]["ci95"] == pytest.approx([0.5, 0.5])
    zero = genmetrics.compare(student, [_item(0) for _ in student])
    assert zero["chrf_retained"]["ratio"] is None


def test_the_report_groups_items_by_tier():
    student = [_item(c) for c in (20, 30, 40)]
    teacher = [_item(c) for c in (40, 60, 80)]
    out = genmetrics.report(student, teacher, ["easy", None, "easy"])
    assert set(out["by_tier"]) == {"easy", "untiered"}
    assert out["by_tier"]["easy"]["student"]["chrf"]["mean"] == pytest.approx(30.0)
    assert out["overall"]["student"]["n"] == 3

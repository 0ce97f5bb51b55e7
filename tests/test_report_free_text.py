"""The report page's free-text section: chrF, ROUGE-L, checks and lengths with their
intervals and n, by tier, and chrF retained; model text never reaches the page unescaped."""

from django.urls import reverse

from curation.models import EvalReport, ModelVersion
from workers import genmetrics

XSS = "<script>alert(1)</script>"


def _items(scores):
    return [
        {"chrf": c, "rouge_l": c / 100, "chars": 10, "ref_chars": 20, "tokens": 4, "check": float(c > 30)}
        for c in scores
    ]


def generation_report(project, tiers):
    student, teacher = _items([20, 30, 40, 50]), _items([40, 60, 80, 100])
    version = ModelVersion.objects.create(project=project, name="v1", artifact_path="/nowhere")
    return EvalReport.objects.create(
        project=project,
        model_version=version,
        metrics={
            "task": "generation",
            "n_items": 4,
            "quality_basis": "teacher_agreement",
            "notes": [],
            "samples": [{"student": XSS, "teacher": "ok"}],
            "student": {"n": 4, "normalized_match": 0.0},
            "teacher": {"n": 4, "normalized_match": 0.0},
            "generation": genmetrics.report(student, teacher, tiers),
        },
        speed={"student": {"latency_p50_ms": 1.0}, "teacher": {"latency_p50_ms": 2.0}},
    )


def test_it_shows_the_free_text_metrics_with_intervals_and_chrf_retained(project, client_as):
    report = generation_report(project, ["easy", "easy", f"hard {XSS}", f"hard {XSS}"])
    page = client_as("reader").get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    assert "Free-text quality against the gold references" in page
    assert "chrF vs the gold reference" in page and "ROUGE-L F vs the gold reference" in page
    # student chrF mean 35.0 with its interval in brackets; chrF retained 140/280 = 50%
    assert "35.0 [" in page and '<b class="chrf-retained">50.0%' in page
    assert "Automatic checks passed" in page and "Length, tokens (mean / p95)" in page
    assert "By tier" in page and "hard &lt;script&gt;" in page and XSS not in page


def test_an_untiered_gold_set_has_no_tier_table_and_an_old_report_no_section(project, client_as):
    report = generation_report(project, [None] * 4)
    client = client_as("reader")
    page = client.get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    assert "Free-text quality" in page and "By tier" not in page
    report.metrics.pop("generation")
    report.save()
    page = client.get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    assert "Free-text quality" not in page


def judge_block(agreement):
    side = {"n": 4, "expected": {"mean": 3.5, "ci95": [3.1, 3.9]}, "normalized": {"mean": 0.625, "ci95": [0.5, 0.7]}}
    return {
        "judge": f"judge {XSS}",
        "grades": ["1", "2", "3", "4", "5"],
        "rubric": f"rubric {XSS}",
        "n": 4,
        "student": side,
        "teacher": {**side, "expected": {"mean": 4.0, "ci95": [3.8, 4.2]}},
        "retained": {"ratio": 0.8, "ci95": [0.7, 0.9], "n": 4},
        "unscored": {"count": 0, "reason": None},
        "agreement": agreement,
    }


def test_the_judged_section_says_when_the_judge_is_not_trustworthy(project, client_as):
    report = generation_report(project, [None] * 4)
    report.metrics["judge"] = judge_block(
        {"n": 6, "spearman": 0.31, "weighted_kappa": 0.12, "trustworthy": False, "min_items": 20, "min_kappa": 0.4,
         "reason": "only 6 examples carry both a reviewer's grade and the judge's (at least 20 needed)"}
    )  # fmt: skip
    report.save()
    client = client_as("reader")
    page = client.get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    assert "The judge is not trustworthy for this project" in page and "only 6 examples" in page
    assert "Spearman ρ 0.31, weighted κ (quadratic) 0.12" in page
    assert '<td class="num judged-retained" colspan="2">80.0% [70.0–90.0%]' in page
    assert "3.50 [3.10–3.90]" in page and XSS not in page and "judge &lt;script&gt;" in page

    report.metrics["judge"] = judge_block(
        {"n": 40, "spearman": 0.8, "weighted_kappa": 0.7, "trustworthy": True, "min_items": 20, "min_kappa": 0.4}
    )
    report.save()
    page = client.get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    assert "not trustworthy" not in page and "The judge agrees with the reviewers" in page


def test_a_judge_that_did_not_run_is_said_so(project, client_as):
    report = generation_report(project, [None] * 4)
    report.metrics["judge"] = None
    report.save()
    page = client_as("reader").get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    assert "The judge did not run for this report" in page

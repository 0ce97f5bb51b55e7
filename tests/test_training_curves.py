"""The validation curve beside the loss curves, and memory figures that mean something."""

import re

import pytest
from django.urls import reverse

from curation.models import EvalReport, Job, MetricPoint, ModelVersion
from curation.pages.curves import validation_charts

STAGES = [
    {"name": "easy", "steps": 4, "gate": {"metric": "teacher_agreement", "threshold": 0.5, "patience": 0}},
    {"name": "hard", "steps": 4, "gate": None},
]


def trained_job(project):
    """A finished two-stage distill job with loss and validation points, and its final version."""
    job = Job.objects.create(
        project=project,
        kind="distill",
        status="succeeded",
        params={"stages": STAGES, "resumes": []},
        metrics={
            "curves": {s["name"]: [{"phase": "train", "round": 0, "offset": 0, "total": 4}] for s in STAGES},
            "memory": {"peak_rss_mb": 1234.4, "start_rss_mb": 600.0},
        },
    )
    for stage in ("easy", "hard"):
        MetricPoint.objects.bulk_create(
            [MetricPoint(job=job, stage=stage, name="loss", step=s, value=2.0 / s) for s in range(1, 5)]
            + [
                MetricPoint(job=job, stage=stage, name="val_teacher_agreement", step=s, value=v)
                for s, v in ((1, 0.2), (2, 0.4), (4, 0.7))
            ]
        )
    version = ModelVersion.objects.create(project=project, job=job, name="final", is_final=True, artifact_path="x")
    return job, version


@pytest.fixture
def trained(project):
    return trained_job(project)


def report_for(project, version, speed):
    return EvalReport.objects.create(
        project=project,
        model_version=version,
        metrics={"task": "generation", "student": {"normalized_match": 0.5}, "teacher": {"normalized_match": 0.6}},
        speed=speed,
    )


@pytest.mark.django_db
def test_the_gate_metric_is_drawn_over_the_steps_with_its_threshold(trained):
    job, _ = trained
    chart = validation_charts(job)["easy"]
    curve, threshold = chart["lines"]
    assert curve["name"] == "teacher agreement (gate metric)" and curve["css"] == "s-val"
    assert len(curve["d"].split()) == 3 and curve["last"] == "70%"
    assert [t["label"] for t in chart["yticks"]] == ["0%", "25%", "50%", "75%", "100%"]
    # The threshold is a flat line at 50%: halfway between the axis and the top, across the stage.
    (x0, y0), (x1, y1) = [tuple(map(float, p[1:].split(","))) for p in threshold["d"].split()]
    assert y0 == y1 == pytest.approx((chart["top"] + chart["bottom"]) / 2, abs=0.1)
    assert x0 == pytest.approx(chart["left"]) and x1 == pytest.approx(chart["right"])
    # A stage without a gate still shows how the student does on its validation split.
    assert validation_charts(job)["hard"]["lines"][0]["name"] == "teacher agreement"


@pytest.mark.django_db
def test_the_report_and_the_job_page_show_loss_and_validation_side_by_side(project, client_as, trained):
    job, version = trained
    report = report_for(project, version, {"student": {"peak_rss_mb": 812.3}, "teacher": {"peak_rss_mb": 830.0}})
    client = client_as("reader")
    page = client.get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    assert "easy: loss" in page and "easy: validation" in page and "hard: validation" in page
    assert page.count('class="line s-val"') == 2 and page.count('class="line s-threshold"') == 1
    assert not re.search(r"<[^>]+ style=", page.split("Loss and validation per stage")[1])  # CSP: no inline style
    panel = client.get(reverse("job-detail", args=[project.slug, job.pk])).content.decode()
    assert "<figcaption>Validation</figcaption>" in panel and 'class="line s-val"' in panel
    assert "Worker peak RSS while training: <b>1234 MB</b>" in panel


@pytest.mark.django_db
def test_the_report_gives_measured_memory_not_a_growth_of_zero(project, client_as, trained):
    _, version = trained
    speed = {
        side: {"parameters": n, "param_buffer_bytes": n * 4, "peak_rss_mb": rss}
        for side, n, rss in (("student", 1_000_000, 812.3), ("teacher", 8_000_000, 830.0))
    }
    report = report_for(project, version, speed)
    page = " ".join(
        client_as("reader").get(reverse("report-detail", args=[project.slug, report.pk])).content.decode().split()
    )
    assert (
        "Worker peak RSS while evaluated" in page
        and "both models were loaded in it" in page
        and "812 MB" in page
        and "830 MB" in page
    )
    assert "Weights in memory" in page and "3.8 MB" in page and "30.5 MB" in page
    assert page.count("Training the student took a worker peak RSS of <b>1234 MB</b>") == 1
    assert "Peak memory growth" not in page and "0.0 MB" not in page


@pytest.mark.django_db
def test_an_old_report_with_only_a_zero_growth_shows_no_memory_row(project, client_as, trained):
    _, version = trained
    version.job.metrics.pop("memory")
    version.job.save()
    report = report_for(
        project, version, {"student": {"peak_rss_delta_mb": 0.0}, "teacher": {"peak_rss_delta_mb": 0.0}}
    )
    page = client_as("reader").get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    assert "peak RSS" not in page and "0.0 MB" not in page and "Peak memory growth" not in page

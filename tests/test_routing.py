"""Routing simulation: hand-computed shares, qualities and costs; threshold from validation, checked on gold."""

import math

import pytest
from django.urls import reverse

from curation.models import EvalReport, ModelSpec, ModelVersion
from curation.services import training
from curation.services.modelspecs import check_pricing, request_costs
from tests.access_ops import routed_report
from workers import routing

ITEMS = {
    "confidence": [0.9, 0.8, 0.7, 0.6, 0.5],
    "student": [1, 1, 0, 1, 0],
    "teacher": [1, 1, 1, 1, 0],
    "student_cost": [1.0] * 5,
    "teacher_cost": [10.0] * 5,
    "student_latency_s": [0.1] * 5,
    "teacher_latency_s": [0.4] * 5,
}


def test_each_threshold_serves_the_confident_share_and_mixes_the_rest():
    row = routing.at_threshold(ITEMS, 0.8)
    assert (row["served"], row["share"]) == (2, 0.4)
    assert row["quality"] == pytest.approx(0.8)  # student on 0.9/0.8 (right), teacher on the rest
    assert row["relative"] == pytest.approx(1.0)
    # served: the student's cost; a fallback: the student's and then the teacher's
    assert row["cost_mix"] == pytest.approx((2 * 1 + 3 * 11) / 5)
    assert row["cost_ratio"] == pytest.approx(7 / 10)
    assert row["latency_s_ratio"] == pytest.approx((2 * 0.1 + 3 * 0.5) / 5 / 0.4)
    assert row["share_ci95"][0] < 0.4 < row["share_ci95"][1]
    assert row["quality_ci95"][0] <= 0.8 <= row["quality_ci95"][1]
    everyone = routing.at_threshold(ITEMS, 0.5)
    assert (everyone["share"], everyone["quality"]) == (1.0, pytest.approx(0.6))


def test_the_chosen_threshold_serves_the_most_while_keeping_the_target():
    assert routing.pick_threshold(ITEMS, 0.99)["threshold"] == 0.8
    assert routing.pick_threshold(ITEMS, 0.75)["threshold"] == 0.5  # 0.6 >= 0.75 * 0.8: everything
    hopeless = {"confidence": [0.5, 0.5], "student": [0, 0], "teacher": [1, 1]}
    assert routing.pick_threshold(hopeless, 0.99)["threshold"] == math.inf
    assert routing.at_threshold(hopeless, math.inf)["threshold"] is None  # JSON-safe: serves nothing


def test_the_threshold_comes_from_validation_and_is_checked_on_gold():
    validation = {"confidence": [0.95, 0.85, 0.3], "student": [1, 1, 0], "teacher": [1, 1, 1]}
    result = routing.simulate(ITEMS, validation, target=0.99)
    assert result["chosen"]["validation"]["threshold"] == 0.85
    gold = result["chosen"]["gold"]
    assert gold["threshold"] == 0.85 and gold["served"] == 1  # only 0.9 on gold is >= 0.85
    assert gold["meets_target"] is True
    assert len(result["curve"]) == 6  # five distinct confidences and "serve nothing"


def test_without_validation_no_threshold_is_chosen_on_gold():
    result = routing.simulate(ITEMS, None)
    assert result["chosen"] is None
    assert "no validation items" in result["notes"][0]


def test_a_missed_target_on_gold_is_reported():
    validation = {"confidence": [0.9, 0.2], "student": [1, 0], "teacher": [1, 1]}
    gold = {"confidence": [0.9, 0.95, 0.1], "student": [0, 0, 1], "teacher": [1, 1, 1]}
    check = routing.simulate(gold, validation, target=0.99)["chosen"]["gold"]
    assert check["meets_target"] is False and check["quality"] == pytest.approx(1 / 3)


def test_prices_make_per_request_costs():
    assert request_costs({}, [1], [1], [1]) is None
    costs = request_costs({"per_1k_input": 2, "per_1k_output": 4, "per_hour": 36}, [500, 0], [250, 0], [0, 10])
    assert costs == pytest.approx([1 + 1, 0.1])
    assert check_pricing({"per_hour": 2, "per_1k_input": "0.5"}) == []
    assert check_pricing({"per_day": 1}) and check_pricing({"per_hour": -1}) and check_pricing([1])


@pytest.fixture
def report(project):
    return EvalReport.objects.get(pk=routed_report(project)["pk"])


def test_a_report_costs_the_mix_from_both_specs_prices(project, report, tmp_path):
    student = ModelSpec.objects.create(project=project, name="s", role="student", path="s", pricing={"per_hour": 1})
    teacher = ModelSpec.objects.create(project=project, name="t", path="t", pricing={"per_hour": 1})
    report.model_version = ModelVersion.objects.create(
        project=project, name="v", artifact_path=str(tmp_path), student_spec=student
    )
    report.teacher_spec = teacher
    report.save()
    result = training.routing_of(report)
    gold = result["chosen"]["gold"]
    assert result["chosen"]["validation"]["threshold"] == 0.8
    assert gold["served"] == 1  # 0.9 only
    # per hour, equal prices: the cost ratio is the busy-time ratio
    assert gold["cost_ratio"] == pytest.approx((0.01 + 2 * 0.06) / 3 / 0.05)


def test_without_prices_the_cost_is_left_out_and_said(report):
    result = training.routing_of(report)
    assert "cost_ratio" not in result["chosen"]["gold"]
    assert "no prices on the student's model spec and the teacher's model spec" in result["notes"][0]


def test_the_api_answers_the_simulation_and_refuses_a_bad_target(project, report, client_as):
    client = client_as("reader")
    url = reverse("api-eval-report-routing", args=[project.slug, report.pk])
    body = client.get(url, {"target": "0.5"}).json()
    assert body["target"] == 0.5 and body["chosen"]["gold"]["share"] == 1.0  # 0.3 holds half on validation
    bad = client.get(url, {"target": "2"})
    assert bad.status_code == 400 and "(0, 1]" in bad.json()["target"][0]
    old = EvalReport.objects.create(project=project, per_item={"student": [1.0], "teacher": [1.0]})
    assert client.get(reverse("api-eval-report-routing", args=[project.slug, old.pk])).status_code == 404


def test_the_report_page_shows_the_routing_section(project, report, client_as):
    client = client_as("reader")
    page = client.get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    assert 'id="routing"' in page and "Share served by the student" in page and "33%" in page
    bad = client.get(reverse("report-detail", args=[project.slug, report.pk]), {"target": "<b>x</b>"})
    text = bad.content.decode()
    assert bad.status_code == 200 and "&lt;b&gt;x&lt;/b&gt;" in text and "<b>x</b>" not in text


def test_the_validation_items_are_the_trained_snapshots_validation_rows_once_per_prompt(project, tmp_path):
    from curation.models import Snapshot, SnapshotRow
    from curation.services.training.evaluation import validation_set

    project.task_type, project.labels = "classification", ["billing", "shipping"]
    project.save()
    snaps = [Snapshot.objects.create(project=project, name=f"s{i}", status="ready") for i in range(2)]
    rows = [
        (snaps[0], 0, "h1", "Where is it?", "shipping", "validation"),
        (snaps[1], 0, "h1", "Where is it?", "shipping", "validation"),  # the same prompt in the next stage
        (snaps[0], 1, "h2", "Refund", "billing", "validation"),
        (snaps[0], 2, "h3", "Train me", "billing", "train"),
        (snaps[1], 1, "h4", "Odd", "unknown", "validation"),  # not a project label
    ]
    for snap, ordinal, key, text, label, split in rows:
        SnapshotRow.objects.create(
            snapshot=snap, ordinal=ordinal, prompt_hash=key, prompt_text=text, label=label, split=split
        )
    version = ModelVersion.objects.create(project=project, name="v", artifact_path=str(tmp_path))
    version.snapshots.set(snaps)
    items = validation_set(project, version)
    assert [(i["prompt"], i["label"]) for i in items] == [("Where is it?", "shipping"), ("Refund", "billing")]

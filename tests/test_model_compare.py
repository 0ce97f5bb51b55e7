"""Comparing two model versions when one of them has no evaluation yet."""

import pytest
from django.urls import reverse

from curation.models import EvalReport, Job, ModelVersion

METRICS = {"task": "generation", "student": {"normalized_match": 0.8}, "teacher": {"normalized_match": 0.9}}
SPEED = {"student": {"latency_p50_ms": 5.0, "tokens_per_s": 900.0}, "teacher": {"latency_p50_ms": 20.0}}


@pytest.fixture
def versions(project):
    a = ModelVersion.objects.create(project=project, name="run one", artifact_path="x")
    b = ModelVersion.objects.create(project=project, name="run two", artifact_path="y")
    EvalReport.objects.create(
        project=project, model_version=a, metrics=METRICS, speed=SPEED, quality_retained=0.89, speedup=4.0
    )
    return a, b


def compare(client, project, a, b):
    return client.get(reverse("model-compare", args=[project.slug]), {"a": a.pk, "b": b.pk}).content.decode()


@pytest.mark.django_db
def test_an_unevaluated_b_gets_an_evaluate_button_instead_of_a_column_of_dashes(project, client_as, versions):
    a, b = versions
    html = compare(client_as("engineer"), project, a, b)
    assert "B · run two has no evaluation report yet" in html
    assert f'action="{reverse("model-evaluate", args=[project.slug, b.pk])}"' in html
    assert ">Evaluate B</button>" in html
    assert "Quality retained" not in html and "Normalized match" not in html
    assert "Evaluate A" not in html  # A has its report


@pytest.mark.django_db
def test_readers_are_told_who_can_evaluate_it(project, client_as, versions):
    a, b = versions
    html = compare(client_as("reader"), project, a, b)
    assert "has no evaluation report yet" in html and "An engineer of the project can evaluate it." in html
    assert "Evaluate B</button>" not in html


@pytest.mark.django_db
def test_an_evaluation_under_way_is_linked_not_launched_twice(project, client_as, versions):
    a, b = versions
    job = Job.objects.create(project=project, kind="evaluate", params={"model_version": b.pk}, status="running")
    html = compare(client_as("engineer"), project, a, b)
    assert reverse("job-detail", args=[project.slug, job.pk]) in html and "is running" in html
    assert "Evaluate B</button>" not in html


@pytest.mark.django_db
def test_two_evaluated_versions_compare_their_figures(project, client_as, versions):
    a, b = versions
    EvalReport.objects.create(
        project=project, model_version=b, metrics=METRICS, speed=SPEED, quality_retained=0.95, speedup=5.0
    )
    html = compare(client_as("engineer"), project, a, b)
    assert "Quality retained" in html and "+6.0 pts" in html
    assert "has no evaluation report yet" not in html

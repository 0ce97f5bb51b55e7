"""Experiments over REST: launch, field errors, access, the results as JSON, cancel."""

import pytest
from django.urls import reverse

from curation.models import Experiment
from curation.services import jobs
from curation.services.experiments import ARMS
from tests.distillkit import artifacts  # noqa: F401  (fixtures)
from tests.experimentkit import finish_run, request, triage  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(jobs, "enqueue", lambda job_id: None)


def url(project, *pk, action=""):
    if not pk:
        return reverse("api-experiments", args=[project.slug])
    return reverse("api-experiment-cancel" if action else "api-experiment", args=[project.slug, *pk])


def post(client, path, data):
    return client.post(path, data, content_type="application/json")


def test_an_engineer_launches_an_experiment_and_gets_its_runs(triage, api):
    project = triage["project"]
    response = post(api("engineer"), url(project), request(triage, seeds=1))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "preparing" and body["seeds"] == 1 and body["arms"] == list(ARMS)
    assert [(r["arm"], r["seed"], r["state"]) for r in body["runs"]] == [(arm, 0, "waiting") for arm in ARMS]
    assert body["progress"] == {"done": 0, "total": len(ARMS), "eta_s": None}
    assert body["url"].endswith(f"/p/{project.slug}/experiments/{body['id']}/")
    assert body["params"]["recipe"]["stage"] == {"steps": 2, "lr": 1e-3} and body["job"]


def test_a_bad_request_is_a_400_naming_every_field(triage, api):
    project = triage["project"]
    gate = {"metric": "accuracy", "threshold": 0.5, "split": "gold"}
    response = post(
        api("engineer"),
        url(project),
        request(triage, seeds=11, arms=["curated", "bogus"], recipe={"stage": {"steps": 2, "gate": gate}}, extra=1),
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"seeds", "arms", "recipe.stage.gate.split", "extra"}
    assert "gold is the test set" in errors["recipe.stage.gate.split"][0]
    assert not Experiment.objects.exists()
    assert post(api("engineer", "e2"), url(project), ["not", "an", "object"]).status_code == 400


def test_readers_read_reviewers_cannot_launch_outsiders_see_nothing(triage, api):
    project = triage["project"]
    experiment = post(api("engineer"), url(project), request(triage, seeds=1, arms=["curated", "ce"])).json()
    reader = api("reader")
    assert reader.get(url(project)).status_code == 200
    assert reader.get(url(project)).json()["results"][0]["id"] == experiment["id"]
    assert reader.get(url(project, experiment["id"])).status_code == 200
    assert post(reader, url(project), request(triage)).status_code == 403
    assert post(reader, url(project, experiment["id"], action="cancel"), {}).status_code == 403
    assert post(api("reviewer"), url(project), request(triage)).status_code == 403
    outsider = api("outsider")
    assert outsider.get(url(project)).status_code == 404
    assert outsider.get(url(project, experiment["id"])).status_code == 404


def test_the_results_arrive_as_json_once_runs_are_evaluated(triage, api):
    project = triage["project"]
    client = api("engineer")
    created = post(client, url(project), request(triage, seeds=1, arms=["curated", "ce"])).json()
    experiment = Experiment.objects.get(pk=created["id"])
    from curation.services.experiments import run_experiment_job

    jobs.run(experiment.job_id, run_experiment_job)
    runs = {r.arm: r for r in experiment.runs.select_related("job")}
    finish_run(runs["curated"], [1.0, 1.0, 1.0])
    finish_run(runs["ce"], [1.0, 0.0, 0.0])
    body = client.get(url(project, experiment.pk)).json()
    assert body["status"] == "done" and body["progress"]["done"] == 2
    assert {r["state"] for r in body["runs"]} == {"done"} and all(r["eval_report"] for r in body["runs"])
    kd = next(q for q in body["results"]["questions"] if q["key"] == "kd")["comparisons"][0]
    assert kd["difference"] == pytest.approx(2 / 3) and len(kd["ci95"]) == 2 and kd["test"] == "exact McNemar"
    assert kd["verdict"] and body["results"]["final"] and body["results"]["n_items"] == 3


def test_cancelling_over_the_api_then_again_is_a_conflict(triage, api):
    project = triage["project"]
    client = api("engineer")
    created = post(client, url(project), request(triage, seeds=1, arms=["curated", "ce"])).json()
    response = post(client, url(project, created["id"], action="cancel"), {})
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert post(client, url(project, created["id"], action="cancel"), {}).status_code == 409

"""An experiment end to end with the tiny models: preparation, every arm trained and evaluated, results."""

import pytest

from curation.models import Job, ModelVersion
from curation.services import jobs
from curation.services.experiments import ARMS, refresh
from tests.distillkit import artifacts  # noqa: F401  (fixtures)
from tests.experimentkit import drain, launch, triage  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(jobs, "enqueue", lambda job_id: None)


def test_every_arm_trains_is_evaluated_once_on_gold_and_the_three_questions_are_answered(triage, member):
    project = triage["project"]
    experiment = launch(triage, by=member("engineer"), seeds=1)

    ran = drain(project)

    assert all(status == "succeeded" for _, status in ran), [
        (j.kind, j.status, j.message) for j in Job.objects.exclude(status="succeeded")
    ]
    assert [kind for kind, _ in ran].count("distill") == len(ARMS)
    assert [kind for kind, _ in ran].count("evaluate") == len(ARMS)  # each student tested on gold once
    board = refresh(experiment)
    experiment.refresh_from_db()
    assert experiment.status == "done" and board.done == board.total == len(ARMS)
    runs = {v.run.arm: v for v in board.runs}
    for arm, view in runs.items():
        assert view.state == "done" and view.report.per_item["gold_ids"], arm
        assert view.run.model_version_id == view.job.metrics["final_model_version"]

    shuffled = ModelVersion.objects.get(pk=runs["shuffled"].run.model_version_id)
    assert set(shuffled.snapshots.all()) == set(triage["snapshots"])  # one stage over both snapshots
    raw = ModelVersion.objects.get(pk=runs["raw"].run.model_version_id)
    assert list(raw.snapshots.all()) == [experiment.raw_snapshot]
    assert runs["random_order"].job.params["order"] == "random"
    assert runs["fraction_25"].job.params["data_fraction"] == 0.25
    assert [s["alpha"] for s in runs["ce"].job.params["stages"]] == [0.0, 0.0]

    results = experiment.results
    assert results["final"] and results["n_items"] == 3 and set(results["arms"]) == set(ARMS)
    answered = {q["key"]: [(c["a"], c["b"]) for c in q["comparisons"]] for q in results["questions"]}
    assert answered == {
        "curation": [("shuffled", "raw")],
        "kd": [("curated", "ce")],
        "curriculum": [("curated", "shuffled"), ("curated", "random_order")],
    }
    for q in results["questions"]:
        for c in q["comparisons"]:
            assert c["ci95"][0] <= c["difference"] <= c["ci95"][1] and 0 <= c["p_value"] <= 1 and c["verdict"]
    assert [p["percent"] for p in results["learning_curve"]] == [10, 25, 50, 100]

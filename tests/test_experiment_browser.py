"""An experiment in a demo-like project, launched from the web page and from the API, to the end.

The project is ``make demo``'s ticket triage at smoke size (its corpus, its gold set, its
student recipe), with the tiny test models standing in for the demo teacher and student. The
teacher labels every ticket; approved tickets go to two stages by tier and are snapshotted. An
engineer launches an experiment on the page (one seed, two steps per stage); the jobs run in
the test process, as a worker would run them; the result page then shows the three answers
with their intervals and the learning curve. A second experiment goes through the API.
Screenshots go to ``$TEST_ARTIFACTS_DIR/experiments/``.
"""

import pytest
import requests

from curation.models import ApiToken, Example, Experiment, Membership
from curation.services import demo, jobs
from curation.services.datasets import build_snapshot, start_snapshot
from curation.services.teacher import run_generation
from tests.experimentkit import drain
from tests.factories import UserFactory
from tests.test_review_browser import ARTIFACTS, chromium, login, serial_live_server, settle  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SHOTS = ARTIFACTS / "experiments"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


@pytest.fixture
def triage(serial_live_server, settings, tmp_path, tiny_model_dir, tiny_student_dir, monkeypatch):
    settings.ARTIFACT_DIR = tmp_path / "artifacts"
    monkeypatch.setattr(jobs, "enqueue", lambda job_id: None)  # the test runs the jobs itself
    quiet = lambda *_: None  # noqa: E731
    project = demo.seed_demo(log=quiet, with_teacher=False, sizes={"triage": (36, 8), "drafting": (2, 1)})["triage"]
    teacher, _student = demo.register_demo_specs(
        project, {"teacher_dir": tiny_model_dir, "student_dir": tiny_student_dir}
    )
    engineer = UserFactory(username="eve")
    Membership.objects.create(user=engineer, project=project, role="engineer")
    generation = demo.queue_demo_generation(project, teacher, engineer, log=quiet)
    assert jobs.run(generation.pk, run_generation) == "succeeded"
    # Review: every fifth ticket rejected, the rest approved, easy ones in stage 1, the others in stage 2.
    stage1, stage2 = project.stages.get(name="stage 1"), project.stages.get(name="stage 2")
    for i, example in enumerate(Example.objects.filter(project=project).select_related("tier").order_by("id")):
        example.status = "rejected" if i % 5 == 4 else "approved"
        example.stage = stage1 if example.tier and example.tier.name == "easy" else stage2
        example.save()
    for name in ("stage 1", "stage 2"):
        build_snapshot(
            start_snapshot(
                project, engineer, name=f"{name} <i>v1</i>", stage=name, validation_fraction=0.25, launch=False
            )
        )
    return {"project": project, "engineer": engineer, "url": serial_live_server}


def test_an_experiment_launched_on_the_page_and_one_over_the_api_run_to_their_answers(chromium, triage):
    base, project = triage["url"], triage["project"]
    page = login(chromium, base, "eve")
    page.goto(f"{base}/p/{project.slug}/experiments/")
    page.click("text=New experiment")
    page.wait_for_url(f"{base}/p/{project.slug}/experiments/new/")
    assert page.locator("input[name=snapshots]:checked").count() == 2  # each stage's snapshot, preselected
    assert page.locator("input[name=arms]:checked").count() == 8
    page.fill("input[name=name]", "smoke <b>test</b>")
    page.fill("input[name=seeds]", "1")
    page.fill("input[name=batch_size]", "8")
    page.fill("input[name=max_seq_len]", "96")
    page.fill("input[name=epochs]", "")  # the demo student's recipe trains epochs; a smoke run takes steps
    page.fill("input[name=steps]", "2")
    shot(page, "launch.png")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/p/{project.slug}/experiments/*/")
    assert "Preparing" in page.inner_text("#experiment-progress")
    assert "smoke <b>test</b>" in page.inner_text("h1")  # the name is text, not markup
    shot(page, "preparing.png")
    detail = page.url

    # The worker's part, with the page closed (the test server shares one SQLite connection).
    page.goto("about:blank")
    ran = drain(project)
    assert ran and all(status == "succeeded" for _, status in ran), ran

    page.goto(detail)
    settle(page)
    assert "Done" in page.inner_text("#experiment-progress")
    answers = page.inner_text("#answers")
    for title in ("What is curation worth?", "What is KD worth?", "What is the curriculum worth?"):
        assert title in answers
    assert answers.count("95% CI") >= 4 and answers.count("[") >= 4  # four comparisons, each with its interval
    assert page.locator("#answers svg .diff").count() == 4
    assert page.locator("#learning-curve svg .point").count() == 4  # 10, 25, 50 and 100%
    assert "100%" in page.inner_text("#learning-curve")
    shot(page, "results.png")

    _, key = ApiToken.issue(triage["engineer"], "experiments")
    headers = {"Authorization": f"Bearer {key}"}
    body = {
        "name": "over the API",
        "student_spec": project.model_specs.get(role="student").pk,
        "teacher_spec": project.model_specs.get(role="teacher").pk,
        "snapshots": [s["id"] for s in Experiment.objects.get(name="smoke <b>test</b>").params["snapshots"]],
        "arms": ["curated", "ce"],
        "seeds": 1,
        "recipe": {"batch_size": 8, "max_seq_len": 96, "stage": {"steps": 2}},
    }
    response = requests.post(
        f"{base}/api/v1/projects/{project.slug}/experiments", json=body, headers=headers, timeout=60
    )
    assert response.status_code == 201, response.text
    ran = drain(project)
    assert ran and all(status == "succeeded" for _, status in ran), ran
    api = f"{base}/api/v1/projects/{project.slug}/experiments/{response.json()['id']}"
    result = requests.get(api, headers=headers, timeout=60).json()
    assert result["status"] == "done" and {r["state"] for r in result["runs"]} == {"done"}
    (kd,) = next(q for q in result["results"]["questions"] if q["key"] == "kd")["comparisons"]
    assert kd["ci95"][0] <= kd["difference"] <= kd["ci95"][1] and kd["n_items"] == 8 and kd["verdict"]

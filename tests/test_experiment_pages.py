"""The experiment pages: the launch form, the result page (progress, answers, charts), escaping."""

import pytest
from django.urls import reverse

from curation.models import Experiment, Snapshot
from curation.services import jobs
from curation.services.experiments import launch_experiment, run_experiment_job
from tests.distillkit import artifacts  # noqa: F401  (fixtures)
from tests.experimentkit import finish_run, request, triage  # noqa: F401  (fixtures)

XSS = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(jobs, "enqueue", lambda job_id: None)


def form_data(triage, **overrides):
    data = {
        "name": "from the page",
        "student_spec": triage["student"].pk,
        "teacher_spec": triage["teacher"].pk,
        "snapshots": [s.pk for s in triage["snapshots"]],
        "arms": ["curated", "ce", "shuffled"],
        "seeds": 2,
        "batch_size": 4,
        "max_seq_len": 64,
        "seed": 5,
        "steps": 3,
        "lr": 0.001,
        "warmup_steps": 0,
        "temperature": 1.0,
        "alpha": 0.5,
        "replay_fraction": 0.0,
        "gate_metric": "",
    }
    data.update(overrides)
    return data


def launch_url(project):
    return reverse("experiment-launch", args=[project.slug])


def test_the_form_preselects_each_stages_newest_snapshot_every_arm_and_the_students_recipe(triage, client_as):
    student = triage["student"]
    student.defaults = {"distill": {"batch_size": 32, "stage": {"epochs": 3, "lr": 0.003, "alpha": 0.7}}}
    student.save()
    page = client_as("engineer").get(launch_url(triage["project"])).content.decode()
    for snap in triage["snapshots"]:
        assert f'value="{snap.pk}" checked' in page or f'value="{snap.pk}" id' in page
    assert page.count('name="snapshots"') == 2 and page.count("checked") >= 2 + 8
    assert 'name="batch_size" value="32"' in page and 'name="epochs" value="3"' in page
    assert 'name="alpha" value="0.7"' in page and "Selection never touches gold" in page


def test_launching_from_the_form_records_the_request_and_opens_the_result_page(triage, client_as):
    project = triage["project"]
    response = client_as("engineer").post(launch_url(project), form_data(triage))
    experiment = Experiment.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "experiment-detail", args=[project.slug, experiment.pk]
    )
    assert experiment.arms == ["curated", "shuffled", "ce"] and experiment.seeds == 2
    assert [s["id"] for s in experiment.params["snapshots"]] == [s.pk for s in triage["snapshots"]]
    assert experiment.params["recipe"]["seed"] == 5 and experiment.params["recipe"]["stage"]["steps"] == 3
    assert set(experiment.runs.values_list("seed", flat=True)) == {5, 6}


def test_the_services_errors_land_on_the_fields_and_nothing_is_launched(triage, client_as):
    client = client_as("engineer")
    response = client.post(
        launch_url(triage["project"]), form_data(triage, arms=["curated", "raw"], gate_metric="accuracy")
    )
    assert response.status_code == 400 and not Experiment.objects.exists()
    form = response.context["form"]
    assert "add shuffled" in " ".join(form.errors["arms"])
    assert "This field is required." in " ".join(form.errors["gate_threshold"])
    response = client.post(launch_url(triage["project"]), form_data(triage, lr=-1))
    assert "learning rate must be > 0" in " ".join(response.context["form"].errors["lr"])
    response = client.post(launch_url(triage["project"]), form_data(triage, arms=[], seeds=11))
    assert set(response.context["form"].errors) == {"arms", "seeds"}
    assert not Experiment.objects.exists()


def test_a_reviewer_cannot_launch(triage, client_as):
    assert client_as("reviewer").post(launch_url(triage["project"]), form_data(triage)).status_code == 403


def test_the_result_page_shows_progress_then_the_three_answers_with_intervals_and_the_learning_curve(triage, client_as):
    project = triage["project"]
    experiment = launch_experiment(project, request(triage, seeds=1))
    client = client_as("reader")
    detail = reverse("experiment-detail", args=[project.slug, experiment.pk])
    page = client.get(detail).content.decode()
    assert "Preparing" in page and "0</b> / 8 runs ended" in page and "every 3s" in page
    assert "The answers appear as soon as" in page

    jobs.run(experiment.job_id, run_experiment_job)
    runs = {r.arm: r for r in experiment.runs.select_related("job")}
    scores = {
        "curated": [1.0, 1.0, 1.0],
        "raw": [0.0, 0.0, 1.0],
        "shuffled": [1.0, 1.0, 0.0],
        "random_order": [1.0, 0.0, 1.0],
        "ce": [1.0, 1.0, 1.0],
        "fraction_10": [0.0, 0.0, 0.0],
        "fraction_25": [1.0, 0.0, 0.0],
        "fraction_50": [1.0, 1.0, 0.0],
    }
    for arm, run in runs.items():
        finish_run(run, scores[arm])
    page = client.get(detail).content.decode()
    assert "Done" in page and "8</b> / 8 runs ended" in page and "every 3s" not in page
    for title in ("What is curation worth?", "What is KD worth?", "What is the curriculum worth?"):
        assert title in page
    assert '+33.3</span> points <span class="ci">[' in page  # curation: shuffled - raw
    assert "No detectable difference at n = 3 gold items × 1 seed" in page
    assert 'id="learning-curve"' in page and "10%" in page and "100%" in page
    assert page.count('class="whisker"') >= 3 * 4 + 4  # every difference and every curve point has its interval
    assert "The teacher scores" in page


def test_the_progress_fragment_asks_for_a_reload_when_new_results_arrive(triage, client_as):
    project = triage["project"]
    experiment = launch_experiment(project, request(triage, seeds=1, arms=["curated", "ce"]))
    jobs.run(experiment.job_id, run_experiment_job)
    client = client_as("reader")
    fragment = reverse("experiment-detail", args=[project.slug, experiment.pk]) + "?fragment=progress&results=0"
    response = client.get(fragment, HTTP_HX_REQUEST="true")
    assert 'id="experiment-progress"' in response.content.decode() and "HX-Refresh" not in response
    for run in experiment.runs.select_related("job"):
        finish_run(run, [1.0, 0.0, 1.0])
    assert client.get(fragment, HTTP_HX_REQUEST="true")["HX-Refresh"] == "true"


def test_names_people_typed_are_escaped_on_every_experiment_page(triage, client_as):
    project = triage["project"]
    Snapshot.objects.filter(pk=triage["snapshots"][0].pk).update(name=f"easy {XSS}")
    experiment = launch_experiment(project, request(triage, name=f"exp {XSS}", seeds=1, arms=["curated", "ce"]))
    client = client_as("engineer")
    for page in (
        client.get(reverse("experiment-list", args=[project.slug])),
        client.get(reverse("experiment-detail", args=[project.slug, experiment.pk])),
        client.get(launch_url(project)),
        client.get(reverse("job-detail", args=[project.slug, experiment.job_id])),
    ):
        html = page.content.decode()
        assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_engineer_cancels_an_experiment_on_its_page(triage, client_as):
    project = triage["project"]
    experiment = launch_experiment(project, request(triage, seeds=1, arms=["curated", "ce"]))
    client = client_as("engineer")
    response = client.post(reverse("experiment-cancel", args=[project.slug, experiment.pk]))
    assert response.status_code == 302
    experiment.refresh_from_db()
    assert experiment.status == "cancelled"
    page = client.get(response["Location"]).content.decode()
    assert "Cancelled" in page and "Cancel the experiment" not in page


def test_a_runs_job_page_links_back_to_its_experiment_and_says_what_data_it_trains_on(triage, client_as):
    project = triage["project"]
    experiment = launch_experiment(project, request(triage, seeds=1, arms=["curated", "random_order", "fraction_25"]))
    jobs.run(experiment.job_id, run_experiment_job)
    client = client_as("reader")
    for arm, words in (
        ("random_order", "Random-order control"),
        ("fraction_25", "Trains on 25% of each stage"),
    ):
        run = experiment.runs.get(arm=arm)
        page = client.get(reverse("job-detail", args=[project.slug, run.job_id])).content.decode()
        assert reverse("experiment-detail", args=[project.slug, experiment.pk]) in page
        assert f"arm <b>{arm}</b>" in page and words in page


def test_the_run_grid_shows_each_students_dev_score_for_choosing_the_one_to_ship(triage, client_as):
    project = triage["project"]
    experiment = launch_experiment(project, request(triage, seeds=1, arms=["curated", "ce"]))
    jobs.run(experiment.job_id, run_experiment_job)
    runs = {r.arm: r for r in experiment.runs.select_related("job")}
    for run in runs.values():
        finish_run(run, [1.0, 0.0, 1.0])
    job = runs["curated"].job
    job.metrics = {**job.metrics, "dev": {"metric": "accuracy", "value": 0.8765, "ci95": [0.8, 0.9], "n": 40}}
    job.save()
    page = client_as("reader").get(reverse("experiment-detail", args=[project.slug, experiment.pk])).content.decode()
    assert page.count(">dev 0.877</span>") == 1  # the ce run has no dev score: nothing is shown for it
    assert "choose it by its dev score" in page

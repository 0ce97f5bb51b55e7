"""The dashboard's "what to do next" panel, read from the project's state and the member's role."""

import pytest
from django.urls import reverse

from curation.models import EvalReport, Job, Snapshot
from tests.factories import ExampleFactory, JobFactory


def dashboard(client, project):
    response = client.get(reverse("project-dashboard", args=[project.slug]))
    assert response.status_code == 200
    return response.content.decode()


def panel(page):
    """Only the panel's HTML, so links elsewhere on the dashboard do not count."""
    start = page.index('id="next-steps"')
    return page[start : page.index("</section>", start)]


def stage(project, name="stage 1"):
    return project.stages.get(name=name)


@pytest.mark.django_db
def test_it_shows_nothing_when_nothing_is_to_do(project, client_as):
    assert 'id="next-steps"' not in dashboard(client_as("engineer"), project)


@pytest.mark.django_db
def test_it_sends_reviewers_to_the_queue_with_the_keys(project, client_as):
    ExampleFactory.create_batch(3, prompt__project=project)
    html = panel(dashboard(client_as("reviewer"), project))
    assert "3 examples wait for review." in html
    assert f'href="{reverse("review-queue", args=[project.slug])}?status=pending"' in html
    assert "a approve" in html


@pytest.mark.django_db
def test_the_keys_it_names_are_the_focus_views_for_the_projects_kind(project, client_as):
    ExampleFactory.create_batch(2, prompt__project=project)
    client = client_as("reviewer")
    html = panel(dashboard(client, project))
    assert ("1–9 label" in html) == project.is_classification and (
        "Shift+1–5 grade" in html
    ) == project.is_classification
    project.task_type = "classification" if not project.is_classification else "generation"
    if project.task_type == "classification":
        project.labels = ["billing", "other"]
    project.save()
    flipped = panel(dashboard(client, project))
    assert ("1–9 label" in flipped) == project.is_classification and ("e edit" in flipped) != project.is_classification


@pytest.mark.django_db
def test_readers_see_the_state_but_no_reviewer_links(project, client_as):
    ExampleFactory(prompt__project=project)
    ExampleFactory(prompt__project=project, status="approved")
    html = panel(dashboard(client_as("reader"), project))
    assert "1 example waits for a reviewer." in html
    assert "<a " not in html


@pytest.mark.django_db
def test_it_asks_to_place_approved_examples_from_the_pool(project, client_as):
    ExampleFactory.create_batch(2, prompt__project=project, status="approved")
    html = panel(dashboard(client_as("reviewer"), project))
    assert "2 approved examples are in the pool." in html
    assert reverse("review-board", args=[project.slug]) in html


@pytest.mark.django_db
def test_engineers_are_asked_to_snapshot_a_stage_without_one(project, client_as):
    ExampleFactory.create_batch(2, prompt__project=project, status="approved", stage=stage(project))
    html = panel(dashboard(client_as("engineer"), project))
    assert "2 approved examples in stage 1 have no snapshot yet." in html
    assert f"{reverse('snapshot-list', args=[project.slug])}?stage=stage+1" in html
    assert "distill" not in html


@pytest.mark.django_db
def test_reviewers_get_no_snapshot_link(project, client_as):
    ExampleFactory.create_batch(2, prompt__project=project, status="approved", stage=stage(project))
    page = dashboard(client_as("reviewer"), project)
    assert reverse("snapshot-list", args=[project.slug]) + "?" not in page


@pytest.mark.django_db
def test_the_snapshot_form_starts_on_the_stage_the_link_names(project, client_as):
    client = client_as("engineer")
    page = client.get(reverse("snapshot-list", args=[project.slug]), {"stage": "stage 2"}).content.decode()
    assert '<option value="stage 2" selected>' in page


@pytest.mark.django_db
def test_a_stage_that_grew_since_its_snapshot_is_pointed_out(project, client_as):
    ExampleFactory.create_batch(3, prompt__project=project, status="approved", stage=stage(project))
    Snapshot.objects.create(project=project, name="s1-v1", stage=stage(project), status="ready", row_count=2)
    html = panel(dashboard(client_as("engineer"), project))
    assert "3 approved examples in stage 1; its latest snapshot, s1-v1, holds 2." in html


@pytest.mark.django_db
def test_ready_snapshots_lead_to_a_distillation(project, client_as):
    ExampleFactory.create_batch(2, prompt__project=project, status="approved", stage=stage(project))
    Snapshot.objects.create(project=project, name="s1", stage=stage(project), status="ready", row_count=2)
    client = client_as("engineer")
    html = panel(dashboard(client, project))
    assert "Snapshots of 1 stage are ready." in html
    assert reverse("distill-launch", args=[project.slug]) in html
    JobFactory(project=project, kind=Job.Kind.DISTILL, status=Job.Status.SUCCEEDED)
    assert "Snapshots of" not in dashboard(client, project)


@pytest.mark.django_db
def test_it_reports_the_teacher_at_work_and_a_gated_job(project, client_as):
    JobFactory(project=project, status=Job.Status.RUNNING, progress_done=5, progress_total=20)
    gated = JobFactory(
        project=project, kind=Job.Kind.DISTILL, status=Job.Status.GATED, metrics={"gated": {"stage": "stage 2"}}
    )
    engineer = panel(dashboard(client_as("engineer"), project))
    assert "The teacher is answering 20 prompts (5 / 20 done)." in engineer
    assert f"Staged distillation #{gated.pk} waits at a gate after stage 2" in engineer
    assert "Decide: resume or stop" in engineer
    reader = panel(dashboard(client_as("reader"), project))
    assert "for an engineer to decide" in reader and "Decide" not in reader


@pytest.mark.django_db
def test_it_summarises_the_latest_evaluation(project, client_as):
    report = EvalReport.objects.create(project=project, quality_retained=0.984, speedup=5.21)
    html = panel(dashboard(client_as("reader"), project))
    assert "Latest evaluation: quality retained 98%, speed-up ×5.2." in html
    assert reverse("report-detail", args=[project.slug, report.pk]) in html


def test_an_evaluation_that_misses_its_targets_is_said_loudly_with_what_to_do(project, client_as):
    EvalReport.objects.create(project=project, quality_retained=0.934, speedup=3.21)
    html = panel(dashboard(client_as("reader"), project))
    assert html.index("TARGET MISSED") < html.index("</li>")  # the first step
    assert "TARGET MISSED in the latest evaluation: quality retained 93%, target 97% (and 1 other target)." in html
    assert "train longer, curate the stages the student gets wrong" in html


@pytest.mark.django_db
def test_an_experiment_is_one_step_for_all_its_runs_and_its_answer_follows_the_evaluation(project, client_as):
    from curation.models import Experiment, ExperimentRun

    experiment = Experiment.objects.create(project=project, name="week <b>48</b>", arms=["curated", "ce"], seeds=1)
    for arm, status in (("curated", Job.Status.SUCCEEDED), ("ce", Job.Status.QUEUED)):
        job = JobFactory(project=project, kind=Job.Kind.DISTILL, status=status)
        ExperimentRun.objects.create(experiment=experiment, arm=arm, seed_index=0, seed=0, job=job)
    html = panel(dashboard(client_as("engineer"), project))
    assert "Experiment “week &lt;b&gt;48&lt;/b&gt;”: 1 of 2 runs trained." in html
    assert "Staged distillation #" not in html  # its runs get no step of their own

    EvalReport.objects.create(project=project, quality_retained=0.9)
    verdict = "Curated · one shuffled stage beats Raw teacher output · one stage by 5.2 points (...)."
    Experiment.objects.filter(pk=experiment.pk).update(
        status="done", results={"questions": [{"key": "curation", "comparisons": [{"verdict": verdict}]}]}
    )
    html = panel(dashboard(client_as("reader"), project))
    assert f"Experiment “week &lt;b&gt;48&lt;/b&gt;”: {verdict}" in html
    assert reverse("experiment-detail", args=[project.slug, experiment.pk]) in html


@pytest.mark.django_db
def test_after_an_evaluation_engineers_are_offered_an_experiment(project, client_as):
    EvalReport.objects.create(project=project, quality_retained=0.9)
    assert reverse("experiment-launch", args=[project.slug]) in panel(dashboard(client_as("engineer"), project))
    assert "Launch an experiment" not in panel(dashboard(client_as("reader"), project))

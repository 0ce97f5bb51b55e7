import re

from django.urls import reverse

from curation.models import Job
from tests.factories import JobFactory, ProjectFactory


def test_the_job_page_shows_progress_and_escapes_messages(project, client_as):
    job = JobFactory(
        project=project,
        status="running",
        progress_done=5,
        progress_total=20,
        message="<script>alert(1)</script>",
        errors=[{"item": "prompt 3", "error": "<b>too long</b>"}],
    )
    page = client_as("reader").get(reverse("job-detail", args=[project.slug, job.pk])).content.decode()
    assert "5</b> / 20 (25%)" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;too long&lt;/b&gt;" in page
    assert 'hx-trigger="every 2s"' in page  # polls while active


def test_the_progress_fragment_stops_polling_when_the_job_ends(project, client_as):
    job = JobFactory(project=project, status="succeeded", progress_done=20, progress_total=20)
    response = client_as("reader").get(
        reverse("job-detail", args=[project.slug, job.pk]) + "?fragment=progress", HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="job-progress"')
    assert "hx-trigger" not in body


def test_an_engineer_cancels_a_queued_job(project, client_as):
    job = JobFactory(project=project, status="queued")
    response = client_as("engineer").post(reverse("job-cancel", args=[project.slug, job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"


def test_a_running_job_is_asked_to_stop(project, client_as):
    job = JobFactory(project=project, status="running")
    client_as("engineer").post(reverse("job-cancel", args=[project.slug, job.pk]))
    job.refresh_from_db()
    assert job.status == "running" and job.cancel_requested


def test_another_projects_job_is_not_found(project, client_as):
    other = JobFactory(project=ProjectFactory())
    response = client_as("engineer").get(reverse("job-detail", args=[project.slug, other.pk]))
    assert response.status_code == 404


def test_the_job_list_polls_only_while_something_runs(project, client_as):
    JobFactory(project=project, status=Job.Status.SUCCEEDED)
    page = client_as("reader").get(reverse("job-list", args=[project.slug])).content.decode()
    assert "Teacher generation" in page and "hx-trigger" not in page


def test_the_dashboard_and_the_job_list_show_a_job_with_the_same_accessible_progress_bar(project, client_as):
    JobFactory(project=project, kind="generate", status="running", progress_done=3, progress_total=12)
    client = client_as("reader")
    bar = re.compile(
        r'<div class="progress" role="progressbar" aria-label="Progress of ([^"]+)"\s+'
        r'aria-valuenow="25" aria-valuemin="0" aria-valuemax="100"'
    )
    pages = [
        client.get(reverse("project-dashboard", args=[project.slug])).content.decode(),
        client.get(reverse("job-list", args=[project.slug])).content.decode(),
        client.get(
            reverse("job-list", args=[project.slug]) + "?fragment=table", HTTP_HX_REQUEST="true"
        ).content.decode(),
    ]
    rows = [re.search(r"<tr>\s*<td><a href=\"/p/.*?</tr>", page, re.S).group(0) for page in pages]
    assert all(bar.search(row) for row in rows), rows
    # One row markup wherever the table is (the last cell, "n seconds ago", moves with the clock).
    assert len({row.rsplit("<td>", 1)[0] for row in rows}) == 1, rows

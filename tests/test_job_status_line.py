"""The job page says what the job is doing now, read at every poll: a launch that said "queued"
does not stay true once a worker runs it."""

import pytest
from django.urls import reverse
from django.utils import timezone

from curation.models import Job
from curation.services.jobs import queue_of
from tests.factories import JobFactory


def fragment(client, project, job):
    response = client.get(
        reverse("job-detail", args=[project.slug, job.pk]) + "?fragment=progress", HTTP_HX_REQUEST="true"
    )
    return " ".join(response.content.decode().split())


@pytest.mark.django_db
def test_the_status_line_follows_the_job_from_queued_to_running_to_done(project, client_as):
    client = client_as("reader")
    job = JobFactory(project=project, kind="generate", status="queued")
    queue = queue_of("generate")
    waiting = f"Queued: waiting for a worker of the “{queue}” queue; no job is ahead of it"
    assert waiting in fragment(client, project, job)

    Job.objects.filter(pk=job.pk).update(status="running", started_at=timezone.now(), phase="generating")
    html = fragment(client, project, job)
    assert "Running since" in html and ": generating." in html
    assert "Queued" not in html and "queued" not in html.replace('class="status running"', "")

    Job.objects.filter(pk=job.pk).update(status="succeeded", message="Wrote 40 samples.")
    html = fragment(client, project, job)
    assert "status-line" not in html and "Wrote 40 samples." in html


@pytest.mark.django_db
def test_a_queued_job_counts_the_jobs_ahead_of_it_on_its_queue(project, client_as):
    JobFactory(project=project, kind="generate", status="running")
    JobFactory(project=project, kind="score", status="queued")  # the same GPU queue
    job = JobFactory(project=project, kind="generate", status="queued")
    later = JobFactory(project=project, kind="generate", status="queued")
    client = client_as("reader")
    assert "2 jobs are ahead of it." in fragment(client, project, job)
    assert "3 jobs are ahead of it." in fragment(client, project, later)


@pytest.mark.django_db
def test_a_running_job_asked_to_stop_says_so(project, client_as):
    job = JobFactory(project=project, kind="generate", status="running", cancel_requested=True)
    assert "Stopping: it stops after its current batch" in fragment(client_as("reader"), project, job)

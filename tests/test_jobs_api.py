"""The jobs API: launch generate/score with validation naming the field, read progress, cancel."""

import pytest
from django.urls import reverse

from curation.models import Job
from curation.services import jobs
from tests.factories import JobFactory, ProjectFactory
from tests.genkit import TICKETS, add_prompts, teacher_spec


@pytest.fixture
def spec(project, tmp_path):
    return teacher_spec(project, tmp_path / "teacher", defaults={"n": 3, "max_new_tokens": 64})


@pytest.fixture
def prompts(project):
    return add_prompts(project, TICKETS[:4], source="synthetic") + add_prompts(project, TICKETS[4:6])


def jobs_url(project):
    return reverse("api-jobs", args=[project.slug])


def post(client, project, body):
    return client.post(jobs_url(project), body, content_type="application/json")


def test_an_engineer_launches_generation_and_gets_the_job_back(
    project, spec, prompts, client_as, monkeypatch, django_capture_on_commit_callbacks
):
    enqueued = []
    monkeypatch.setattr(jobs, "enqueue", enqueued.append)
    client = client_as("engineer")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client,
            project,
            {
                "kind": "generate",
                "model_spec": spec.pk,
                "params": {"temperature": 0.7, "stop": ["\n\n"]},
                "prompt_filter": {"source": "synthetic", "limit": 3},
            },
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    job = Job.objects.get(pk=body["id"])
    assert (
        enqueued == [job.pk] and response["Location"] == body["url"] == f"/api/v1/projects/{project.slug}/jobs/{job.pk}"
    )
    assert (body["kind"], body["status"], body["model_spec"], body["created_by"]) == (
        "generate",
        "queued",
        spec.pk,
        "engineer-" + project.slug,
    )
    generation = body["params"]["generation"]
    assert (generation["n"], generation["max_new_tokens"], generation["temperature"], generation["top_k"]) == (
        3,
        64,
        0.7,
        20,
    )
    assert generation["stop"] == ["\n\n"]
    assert body["params"]["frozen"] == {"max_prompt_id": prompts[2].pk, "count": 3}
    assert body["params"]["teacher"]["path"] == spec.path and body["samples"] == {"written": 0, "failed": 0}


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"kind": "generate", "model_spec": "x"}, ["model_spec"], "valid integer"),
        ({"kind": "dance", "model_spec": 1}, ["kind"], "not a valid choice"),
        ({"kind": "generate", "model_spec": 999}, ["model_spec"], "no model spec 999 in this project"),
        ({"params": {"top_p": 1.5}}, ["params", "top_p"], "between 0.0 and 1.0"),
        ({"params": {"n": 0}}, ["params", "n"], "between 1 and 64"),
        ({"params": {"temperature": "hot"}}, ["params", "temperature"], "must be a number"),
        ({"params": {"beam_width": 4}}, ["params", "params"], "unknown setting(s) beam_width"),
        ({"params": {"min_new_tokens": 80}}, ["params", "min_new_tokens"], "must not exceed max_new_tokens (64)"),
        ({"params": {"stop": "\n"}}, None, None),
        (
            {"prompt_filter": {"ids": ["first prompt", 999999]}},
            ["prompt_filter", "ids"],
            "1 id is not a prompt of this project: 999999",
        ),
        ({"prompt_filter": {"scope": "some"}}, ["prompt_filter", "scope"], "choose 'all' or 'missing'"),
        ({"prompt_filter": {"limit": 0}}, ["prompt_filter", "limit"], "between 1 and"),
        ({"prompt_filter": {"metadata_value": "en"}}, ["prompt_filter", "metadata_key"], "name the metadata key"),
        (
            {"prompt_filter": {"source": "retrieval"}},
            ["prompt_filter", "prompt_filter"],
            "no prompt matches this filter",
        ),
        ({"prompt_filter": {"colour": "red"}}, ["prompt_filter", "prompt_filter"], "unknown field(s) colour"),
    ],
)
def test_launch_validation_names_the_field(project, spec, prompts, client_as, body, field, message):
    body = {"kind": "generate", "model_spec": spec.pk, **body}
    if "ids" in body.get("prompt_filter", {}):
        ids = [prompts[0].pk if i == "first prompt" else i for i in body["prompt_filter"]["ids"]]
        body["prompt_filter"] = {**body["prompt_filter"], "ids": ids}
    response = post(client_as("engineer"), project, body)
    if field is None:
        assert response.status_code == 201
        return
    assert response.status_code == 400
    errors = response.json()
    for key in field:
        errors = errors[key]
    assert message in " ".join(errors), errors
    assert not Job.objects.exists()


def test_a_student_spec_cannot_generate(project, prompts, client_as, tmp_path):
    student = teacher_spec(project, tmp_path, name="student", role="student")
    response = post(client_as("engineer"), project, {"kind": "generate", "model_spec": student.pk})
    assert response.status_code == 400 and "is a student spec" in response.json()["model_spec"][0]


def test_a_score_job_takes_no_prompt_filter_and_needs_something_to_score(project, spec, prompts, client_as):
    client = client_as("engineer")
    response = post(client, project, {"kind": "score", "model_spec": spec.pk, "prompt_filter": {"limit": 3}})
    assert response.status_code == 400 and "score jobs take no prompt filter" in response.json()["prompt_filter"][0]
    response = post(client, project, {"kind": "score", "model_spec": spec.pk})
    assert response.status_code == 400 and "nothing to score" in response.json()["params"]["targets"][0]


def test_reviewers_may_not_launch_and_outsiders_do_not_see_the_project(project, spec, prompts, client_as):
    body = {"kind": "generate", "model_spec": spec.pk}
    assert post(client_as("reviewer"), project, body).status_code == 403
    assert post(client_as("outsider"), project, body).status_code == 404
    assert not Job.objects.exists()


def test_anonymous_clients_are_refused(project, client):
    assert client.get(jobs_url(project)).status_code in (401, 403)


def test_readers_read_progress_tokens_per_second_eta_and_errors(project, client_as):
    job = JobFactory(
        project=project,
        status="running",
        progress_done=30,
        progress_total=120,
        tokens_per_s=512.5,
        eta_s=42.0,
        phase="generating",
        errors=[{"item": "prompt 7", "error": "too long"}],
    )
    client = client_as("reader")
    body = client.get(reverse("api-job-detail", args=[project.slug, job.pk])).json()
    assert body["progress"] == {"done": 30, "total": 120, "percent": 25}
    assert (body["tokens_per_s"], body["eta_s"], body["phase"]) == (512.5, 42.0, "generating")
    assert body["errors"] == [{"item": "prompt 7", "error": "too long"}] and body["error_count"] == 1
    listed = client.get(jobs_url(project)).json()
    assert [j["id"] for j in listed["results"]] == [job.pk] and "errors" not in listed["results"][0]


def test_the_list_filters_by_kind_and_pages_by_id(project, client_as):
    made = [JobFactory(project=project, kind=kind) for kind in ("generate", "score", "generate", "generate")]
    JobFactory(project=ProjectFactory())  # another project's job never shows
    client = client_as("reader")
    page = client.get(jobs_url(project), {"kind": "generate", "limit": 2}).json()
    assert [j["id"] for j in page["results"]] == [made[3].pk, made[2].pk] and page["next_before"] == made[2].pk
    page = client.get(jobs_url(project), {"kind": "generate", "limit": 2, "before": page["next_before"]}).json()
    assert [j["id"] for j in page["results"]] == [made[0].pk] and page["next_before"] is None
    bad = client.get(jobs_url(project), {"status": "sleeping"})
    assert bad.status_code == 400 and "unknown status 'sleeping'" in bad.json()["status"][0]


def test_another_projects_job_is_not_found(project, client_as):
    other = JobFactory(project=ProjectFactory())
    assert client_as("engineer").get(reverse("api-job-detail", args=[project.slug, other.pk])).status_code == 404


def test_cancel_stops_a_queued_job_and_refuses_a_finished_one(project, client_as):
    queued = JobFactory(project=project, status="queued")
    done = JobFactory(project=project, status="succeeded")
    assert client_as("reviewer").post(reverse("api-job-cancel", args=[project.slug, queued.pk])).status_code == 403
    client = client_as("engineer")
    response = client.post(reverse("api-job-cancel", args=[project.slug, queued.pk]))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    response = client.post(reverse("api-job-cancel", args=[project.slug, done.pk]))
    assert response.status_code == 409 and "already succeeded" in response.json()["detail"]


def test_a_running_job_is_asked_to_stop(project, client_as):
    running = JobFactory(project=project, status="running")
    body = client_as("engineer").post(reverse("api-job-cancel", args=[project.slug, running.pk])).json()
    assert body["status"] == "running" and body["cancel_requested"] is True


def test_the_schema_documents_the_endpoints_with_examples(client_as, project):
    schema = client_as("reader").get(reverse("api-schema")).content.decode()
    assert "/api/v1/projects/{slug}/jobs/{id}/cancel" in schema
    assert "Generate for prompts the teacher has not answered" in schema and "Invalid settings" in schema

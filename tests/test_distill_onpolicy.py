"""On-policy stages through the product: the launch gate (form and REST) and a job that trains one."""

import socket

import pytest
from django.urls import reverse

from curation.models import Job, ModelSpec
from curation.services import jobs
from curation.services.training import launch_distillation, run_distill_job
from tests import distillkit as kit
from tests.distillkit import artifacts, specs  # noqa: F401  (fixtures)
from tests.test_distill_pages import form_data, launch_url

ON_POLICY = {"fraction": 0.5, "max_new_tokens": 4, "beta": 0.5, "top_k": 8}


@pytest.fixture
def snap(project, tiny_model_dir):
    return kit.generation_snapshot(project, tiny_model_dir, "easy", n_val=0)


def closed_port_url() -> str:
    """A local URL nobody listens on (the port was just free)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def body(specs, snap, **stage):
    teacher, student = specs
    return {
        "student_spec": student.pk,
        "teacher_spec": teacher.pk,
        "batch_size": 4,
        "progress_every_s": 0,
        "stages": [
            kit.stage(snap, name="offline", steps=2),
            kit.stage(snap, name="on policy", steps=3, on_policy=dict(ON_POLICY), **stage),
        ],
    }


def api(client, project, data):
    return client.post(reverse("api-distillations", args=[project.slug]), data, content_type="application/json")


def test_an_unreachable_server_teacher_is_refused_at_launch_naming_the_field(
    project, client_as, snap, tiny_model_dir, tiny_student_dir
):
    server = kit.spec(
        project,
        "teacher",
        "tiny",
        name="down teacher",
        backend=ModelSpec.Backend.OPENAI,
        base_url=closed_port_url(),
        tokenizer_path=tiny_model_dir,
    )
    student = kit.spec(project, "student", tiny_student_dir)
    response = api(client_as("engineer"), project, body((server, student), snap))
    assert response.status_code == 400
    (message,) = response.json()["teacher_spec"]
    assert "stage 'on policy' is on-policy" in message and "'down teacher' cannot be reached now" in message
    assert "cannot reach the teacher server" in message
    assert not Job.objects.exists()


def test_a_missing_local_teacher_is_refused_on_the_form(project, client_as, snap, tiny_student_dir, tmp_path):
    teacher = kit.spec(project, "teacher", tmp_path / "gone", name="gone teacher")
    student = kit.spec(project, "student", tiny_student_dir)
    data = form_data((teacher, student), [{"snapshot": snap.pk, "on_policy_fraction": 0.5}])
    response = client_as("engineer").post(launch_url(project), data)
    page = response.content.decode()
    assert response.status_code == 400 and not Job.objects.exists()
    field = page.split('name="teacher_spec"')[1].split("</div>")[0]
    assert "does not exist on this machine" in field, field


def test_the_same_launch_without_the_on_policy_option_is_not_checked_against_the_teacher(
    project, client_as, snap, tiny_student_dir, tmp_path
):
    teacher = kit.spec(project, "teacher", tmp_path / "gone", name="gone teacher")
    student = kit.spec(project, "student", tiny_student_dir)
    data = body((teacher, student), snap)
    del data["stages"][1]["on_policy"]
    assert api(client_as("engineer"), project, data).status_code == 201  # offline KD reads stored soft targets


def test_a_classification_project_has_no_on_policy_stage(project, client_as, tiny_model_dir, tiny_student_dir):
    project.task_type, project.labels = "classification", kit.LABELS
    project.save()
    specs = (kit.spec(project, "teacher", tiny_model_dir), kit.spec(project, "student", tiny_student_dir))
    snap = kit.classification_snapshot(project, "tickets")
    response = api(client_as("engineer"), project, body(specs, snap))
    assert response.status_code == 400
    (message,) = response.json()["stages.1.on_policy"]
    assert "a classification job predicts labels, so it has no on-policy stage" in message


def test_bad_on_policy_settings_name_their_field(project, client_as, specs, snap):
    data = body(specs, snap)
    data["stages"][1]["on_policy"] = {"fraction": 0, "beta": 1.5, "colour": 1}
    client = client_as("engineer")
    response = api(client, project, data)
    assert response.status_code == 400
    errors = response.json()
    assert errors["stages.1.on_policy.colour"] == ["unknown on-policy setting"]
    assert set(errors) == {"stages.1.on_policy.colour"}  # the rest is checked once the input parses
    data["stages"][1]["on_policy"] = {"fraction": 0, "beta": 0.5}
    response = api(client, project, data)
    assert "on-policy fraction" in response.json()["stages.1.on_policy.fraction"][0]


@pytest.mark.slow
def test_a_job_with_an_on_policy_stage_trains_and_records_it(project, member, specs, snap, client):
    engineer = member("engineer")
    job = launch_distillation(project, body(specs, snap), by=engineer)
    assert job.params["on_policy_teacher"]["spec_id"] == specs[0].pk
    assert jobs.run(job.pk, run_distill_job) == "succeeded"
    job.refresh_from_db()
    assert job.status == "succeeded", job.message
    op = job.metrics["on_policy"]["on policy"]
    assert op["samples"] >= 4 and op["batches"] >= 1 and op["mean_jsd"] > 0
    assert set(job.metrics["on_policy"]) == {"on policy"}
    client.force_login(engineer)
    page = client.get(reverse("job-detail", args=[project.slug, job.pk])).content.decode()
    assert "On-policy: 50% of batches" in page and f"{op['scored']} of {op['samples']} samples scored" in page


@pytest.mark.slow
def test_a_server_teacher_that_goes_away_mid_run_fails_the_job_clearly(
    project, member, snap, tiny_model_dir, tiny_student_dir
):
    from tests.workers.openai_server import TinyModelServer

    student = kit.spec(project, "student", tiny_student_dir)
    with TinyModelServer(tiny_model_dir) as server:
        teacher = kit.spec(
            project,
            "teacher",
            "tiny",
            name="server teacher",
            backend=ModelSpec.Backend.OPENAI,
            base_url=server.url,
            tokenizer_path=tiny_model_dir,
            options={"max_retries": 0},  # the backend's retries, kept out of the test's time
        )
        job = launch_distillation(project, body((teacher, student), snap), by=member("engineer"))
    assert job.params["on_policy_teacher"]["base_url"] == server.url
    assert jobs.run(job.pk, run_distill_job) == "failed"
    job.refresh_from_db()
    assert "stage 'on policy' (on-policy)" in job.message and "the teacher could not score" in job.message
    assert "cannot reach the teacher server" in job.message

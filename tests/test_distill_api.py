"""REST endpoints for distillation, evaluation, model versions and reports."""

import io
import shutil
import tarfile

import pytest
from django.urls import reverse

from curation.models import EvalReport, Job, ModelVersion
from tests import distillkit as kit
from tests.distillkit import artifacts, specs  # noqa: F401  (fixtures)


@pytest.fixture
def snap(project, tiny_model_dir):
    return kit.generation_snapshot(project, tiny_model_dir, "easy", soft=False)


@pytest.fixture
def version(project, specs, artifacts, tiny_student_dir):
    shutil.copytree(tiny_student_dir, artifacts / "jobs" / "1" / "final")
    return ModelVersion.objects.create(
        project=project,
        name="tiny student · final",
        is_final=True,
        kd_mode="token",
        artifact_path=str(artifacts / "jobs" / "1" / "final"),
        teacher_spec=specs[0],
        card={"parameters": 1234},
        metrics={"stages": {}},
    )


def url(name, project, *args):
    return reverse(name, args=[project.slug, *args])


def test_an_engineer_launches_a_distillation(project, client_as, specs, snap):
    body = {
        "student_spec": specs[1].pk,
        "teacher_spec": specs[0].pk,
        "stages": [
            {"snapshot": snap.pk, "epochs": 1, "gate": {"metric": "teacher_agreement", "threshold": 0.5, "patience": 1}}
        ],
    }
    response = client_as("engineer").post(url("api-distillations", project), body, content_type="application/json")
    assert response.status_code == 201, response.json()
    data = response.json()
    job = Job.objects.get(pk=data["id"])
    assert data["kind"] == "distill" and data["status"] == "queued" and data["url"].endswith(f"/jobs/{job.pk}/")
    assert job.params["stages"][0]["gate"] == {"metric": "teacher_agreement", "threshold": 0.5, "patience": 1}
    assert job.params["stages"][0]["name"] == "easy" and job.params["batch_size"] == 8


def test_a_bad_launch_gets_the_same_messages_as_the_form(project, client_as, specs, snap):
    body = {
        "student_spec": specs[1].pk,
        "teacher_spec": specs[0].pk,
        "learning_rate": 1,
        "stages": [{"snapshot": snap.pk, "steps": 10, "alpha": 1.5}, {"snapshot": 999999, "steps": 5}],
    }
    client = client_as("engineer")
    response = client.post(url("api-distillations", project), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "learning_rate": ["unknown setting"],
        "stages.1.snapshot": ["no snapshot #999999 in this project"],
    }
    body = {
        "student_spec": specs[1].pk,
        "teacher_spec": specs[0].pk,
        "stages": [{"snapshot": snap.pk, "steps": 10, "alpha": 1.5}],
    }
    response = client.post(url("api-distillations", project), body, content_type="application/json")
    assert response.json() == {"stages.0.alpha": ["stage 'easy': alpha must be between 0 and 1, got 1.5"]}


def test_a_student_spec_must_be_a_student_of_this_project(project, client_as, specs, snap):
    from tests.factories import ProjectFactory

    foreign = kit.spec(ProjectFactory(), "student", specs[1].path)
    body = {"student_spec": specs[0].pk, "teacher_spec": foreign.pk, "stages": [{"snapshot": snap.pk, "steps": 1}]}
    errors = client_as("engineer").post(url("api-distillations", project), body, content_type="application/json").json()
    assert errors == {
        "student_spec": ["'tiny teacher' is registered as a teacher, not a student"],
        "teacher_spec": [f"no model spec #{foreign.pk} in this project"],
    }


def test_resuming_needs_a_job_waiting_at_a_gate(project, client_as):
    job = Job.objects.create(project=project, kind="distill", status="running", params={"resumes": []})
    client = client_as("engineer")
    response = client.post(url("api-job-resume", project, job.pk), {"threshold": 0.1}, content_type="application/json")
    assert response.status_code == 409 and "not waiting at a gate" in response.json()["detail"]
    Job.objects.filter(pk=job.pk).update(
        status="gated", metrics={"gated": {"stage": "easy", "stage_index": 0, "gate": {"threshold": 0.9}}}
    )
    response = client.post(
        url("api-job-resume", project, job.pk),
        {"threshold": 0.1, "force": True, "comment": "ship it"},
        content_type="application/json",
    )
    assert response.status_code == 202 and response.json()["status"] == "queued"
    resume = Job.objects.get(pk=job.pk).params["resumes"][0]
    assert (resume["threshold"], resume["force"], resume["comment"], resume["configured_threshold"]) == (
        0.1,
        True,
        "ship it",
        0.9,
    )


def test_a_resume_with_a_bad_threshold_is_refused(project, client_as):
    job = Job.objects.create(project=project, kind="distill", status="gated", params={"resumes": []})
    response = client_as("engineer").post(
        url("api-job-resume", project, job.pk), {"threshold": "low"}, content_type="application/json"
    )
    assert response.status_code == 400 and response.json() == {"threshold": ["threshold must be a number, got 'low'"]}
    assert Job.objects.get(pk=job.pk).status == "gated"


def test_model_versions_are_listed_and_downloadable(project, client_as, version, snap, tmp_path):
    version.snapshots.add(snap)
    client = client_as("reader")
    page = client.get(url("api-model-versions", project)).json()
    assert page["count"] == 1
    row = page["results"][0]
    assert row["name"] == "tiny student · final" and row["parameters"] == 1234 and row["teacher_spec"] == "tiny teacher"
    assert row["snapshots"] == [{"id": snap.pk, "name": "easy", "content_hash": snap.content_hash}]
    detail = client.get(url("api-model-version", project, version.pk)).json()
    assert detail["card"] == {"parameters": 1234} and "artifact_path" in detail
    response = client.get(row["download_url"])
    assert response.status_code == 200 and response["Content-Type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(b"".join(response.streaming_content)), mode="r:gz") as tar:
        assert "final/config.json" in tar.getnames()


def test_another_projects_version_is_not_found(project, client_as, version):
    from tests.factories import ProjectFactory

    other = ProjectFactory()
    ModelVersion.objects.filter(pk=version.pk).update(project=other)
    client = client_as("reader")
    assert client.get(url("api-model-version", project, version.pk)).status_code == 404
    assert client.get(url("api-model-version-download", project, version.pk)).status_code == 404


def test_eval_reports_are_listed_by_version(project, client_as, version, specs):
    report = EvalReport.objects.create(
        project=project,
        model_version=version,
        teacher_spec=specs[0],
        quality_retained=0.8,
        speedup=3.0,
        metrics={"task": "generation", "student": {"normalized_match": 0.4}},
    )
    EvalReport.objects.create(project=project, quality_retained=0.1)
    client = client_as("reader")
    rows = client.get(url("api-eval-reports", project), {"model_version": version.pk}).json()["results"]
    assert [r["id"] for r in rows] == [report.pk] and rows[0]["quality_retained"] == 0.8
    detail = client.get(url("api-eval-report", project, report.pk)).json()
    assert detail["metrics"]["student"] == {"normalized_match": 0.4} and detail["teacher_spec"] == "tiny teacher"


def test_an_evaluation_is_launched_for_a_version(project, client_as, version):
    client = client_as("engineer")
    response = client.post(
        url("api-evaluations", project), {"model_version": version.pk}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "__all__": ["the project has no confirmed gold items to evaluate on; confirm some on the gold page first"]
    }
    kit.gold(project, classification=False)
    response = client.post(
        url("api-evaluations", project), {"model_version": version.pk}, content_type="application/json"
    )
    assert response.status_code == 201
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == "evaluate" and job.params["teacher_spec"] == version.teacher_spec_id


def test_an_http_teacher_cannot_be_evaluated_against(project, client_as, version):
    kit.gold(project, classification=False)
    served = kit.spec(
        project, "teacher", "big-model", name="vllm teacher", backend="openai", base_url="http://vllm:8000/v1"
    )
    response = client_as("engineer").post(
        url("api-evaluations", project),
        {"model_version": version.pk, "teacher_spec": served.pk},
        content_type="application/json",
    )
    assert response.status_code == 400 and "served over HTTP" in response.json()["teacher_spec"][0]


def test_the_schema_documents_the_endpoints_with_examples(client_as):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    launch = paths["/api/v1/projects/{slug}/distillations"]["post"]
    examples = launch["requestBody"]["content"]["application/json"]["examples"].values()
    assert any(
        e["summary"] == "Two stages, gated" and e["value"]["stages"][0]["gate"]["metric"] == "teacher_agreement"
        for e in examples
    )
    assert "400" in launch["responses"] and "201" in launch["responses"]
    assert "409" in paths["/api/v1/projects/{slug}/jobs/{id}/resume"]["post"]["responses"]
    for path in (
        "/api/v1/projects/{slug}/model-versions",
        "/api/v1/projects/{slug}/model-versions/{id}/download",
        "/api/v1/projects/{slug}/eval-reports/{id}",
        "/api/v1/projects/{slug}/evaluations",
    ):
        assert path in paths


def test_the_curriculum_recipe_options_are_set_over_the_api_with_defaults_for_the_rest(project, client_as, specs, snap):
    body = {
        "student_spec": specs[1].pk,
        "teacher_spec": specs[0].pk,
        "stages": [{"snapshot": snap.pk, "steps": 4}, {"snapshot": snap.pk, "name": "again", "steps": 4}],
        "order": "random",
        "pacing": "cumulative",
        "lr_schedule": "global",
        "ce_warmup_fraction": 0.25,
    }
    response = client_as("engineer").post(url("api-distillations", project), body, content_type="application/json")
    assert response.status_code == 201, response.json()
    params = Job.objects.get(pk=response.json()["id"]).params
    assert (params["order"], params["pacing"], params["lr_schedule"], params["ce_warmup_fraction"]) == (
        "random",
        "cumulative",
        "global",
        0.25,
    )
    assert params["budget"] == "tier_visits" and params["temperature_schedule"] == "constant"


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"pacing": "spiral"}, "pacing", "'spiral' is not supported"),
        ({"hard_weight": 20}, "hard_weight", "between 1.0 and 10.0"),
        ({"replay_share": 0.9}, "replay_share", "replay_share 0.9 is too large for a tier_visits budget"),
    ],
)
def test_a_curriculum_option_the_data_cannot_honour_is_refused_by_name(
    project, client_as, specs, snap, change, field, words
):
    body = {
        "student_spec": specs[1].pk,
        "teacher_spec": specs[0].pk,
        "stages": [
            {"snapshot": snap.pk, "steps": 10},
            {"snapshot": snap.pk, "name": "b", "steps": 10, "replay_fraction": 1.0},
            {"snapshot": snap.pk, "name": "c", "steps": 10, "replay_fraction": 1.0},
        ],
        **change,
    }
    response = client_as("engineer").post(url("api-distillations", project), body, content_type="application/json")
    assert response.status_code == 400
    assert any(words in m for m in response.json()[field]), response.json()


def test_a_snapshot_holding_a_prompt_added_to_gold_later_is_refused(project, client_as, specs, snap):
    # Gold is a test set: a stage whose snapshot now holds a gold prompt would gate (select) or train on it.
    from curation.models import GoldItem, Prompt
    from curation.normalize import content_hash

    row = snap.rows.filter(split="validation").first()
    row.prompt_hash = content_hash(row.prompt_text, None)
    row.save()
    prompt = Prompt.objects.create(project=project, text=row.prompt_text, content_hash=row.prompt_hash)
    GoldItem.objects.create(project=project, prompt=prompt, reference=" x", confirmed=True)
    body = {
        "student_spec": specs[1].pk,
        "teacher_spec": specs[0].pk,
        "stages": [{"snapshot": snap.pk, "steps": 4, "gate": {"metric": "accuracy", "threshold": 0.1}}],
    }
    response = client_as("engineer").post(url("api-distillations", project), body, content_type="application/json")
    assert response.status_code == 400
    [message] = response.json()["stages.0.snapshot"]
    assert "row(s) whose prompt is now in the gold set" in message and "gold is a test set" in message
    assert not Job.objects.exists()

"""A distillation job's run config, trained outside Celery by the launcher, registered back."""

import json
import tarfile

import pytest

from curation.models import Job, MetricPoint, ModelVersion
from curation.services.errors import Invalid
from curation.services.training import launch_distillation, register_external_run, run_config_archive
from tests import distillkit as kit
from tests.distillkit import artifacts, specs  # noqa: F401  (fixtures)
from workers.distill.__main__ import main as launcher
from workers.evaluation import evaluate
from workers.genmetrics import chrf

pytestmark = pytest.mark.slow


@pytest.fixture
def engineer(project, member):
    return member("engineer", "alice")


@pytest.fixture
def job(project, specs, engineer, tiny_model_dir):
    teacher, student = specs
    easy = kit.generation_snapshot(project, tiny_model_dir, "easy")
    hard = kit.generation_snapshot(project, tiny_model_dir, "hard", tier="hard")
    kit.gold(project, classification=False)
    stages = [
        kit.stage(easy, steps=3, gate={"metric": "val_kd_loss", "threshold": 100.0}),
        kit.stage(hard, steps=3, replay_fraction=0.5),
    ]
    request = {"student_spec": student.pk, "teacher_spec": teacher.pk, "stages": stages, "batch_size": 4}
    return launch_distillation(project, {**request, "budget": "given", "progress_every_s": 0}, by=engineer)


def unpack(archive, dest):
    """The archive's one top-level folder, extracted under ``dest`` (which may hold other things)."""
    with tarfile.open(archive) as tar:
        tops = {name.split("/", 1)[0] for name in tar.getnames()}
        assert len(tops) == 1, tops
        tar.extractall(dest, filter="data")
    return dest / tops.pop()


def test_the_run_config_is_the_jobs_config_with_its_records_and_student(job, tmp_path):
    root = unpack(run_config_archive(job), tmp_path)
    doc = json.loads((root / "config.json").read_text())
    assert doc["job"] == job.pk and doc["format"] == "distill-run-v1"
    cfg = doc["config"]
    assert cfg["student"] == "student" and (root / "student" / "config.json").exists()
    assert cfg["teacher_tokenizer"].startswith("sha256:")  # a path would mean nothing elsewhere
    assert [s["name"] for s in cfg["stages"]] == [s["name"] for s in job.params["stages"]]
    assert cfg["stages"][0]["val_records"] and cfg["stages"][1]["val_records"] is None
    first = json.loads((root / cfg["stages"][0]["records"]).read_text().splitlines()[0])
    assert first["soft"].startswith("shards/run-")


def test_a_run_outside_celery_registers_versions_curves_and_its_evaluation(job, tmp_path, engineer):
    root = unpack(run_config_archive(job), tmp_path / "cfg")
    out = tmp_path / "elsewhere" / "out"
    assert launcher(["run", str(root / "config.json"), "--output-dir", str(out)]) == 0

    dev_items = kit.gold(job.project, DEV_TICKETS, classification=False, purpose="dev")
    job = register_external_run(job, out, by=engineer)

    assert job.status == Job.Status.SUCCEEDED and "registered by alice" in job.message
    versions = ModelVersion.objects.filter(job=job)
    assert sorted(v.stage for v in versions) == ["", "easy", "hard"]
    final = versions.get(is_final=True)
    assert final.kd_mode == "token" and final.card["config"]["stages"][0]["name"] == "easy"
    # The files moved into the artifact store, the checkpoints stayed behind.
    store = job.metrics["external"]["run_dir"]
    assert final.artifact_path == f"{store}/final" and "/artifacts/jobs/" in store
    assert (tmp_path / "elsewhere" / "out" / "checkpoints").is_dir()
    assert not any(p.name == "checkpoints" for p in (tmp_path / "artifacts").rglob("*"))
    assert job.metrics["external"]["num_processes"] == 1
    points = MetricPoint.objects.filter(job=job, name="loss")
    assert sorted(points.filter(stage="hard").values_list("step", flat=True)) == [1, 2, 3]
    evaluation = Job.objects.get(kind=Job.Kind.EVALUATE, params__model_version=final.pk)
    assert job.metrics["evaluation_job"] == evaluation.pk and f"#{evaluation.pk}" in job.message
    # Registered like a worker's run: its student is scored on the dev set, free text by chrF.
    dev = final.metrics["dev"]
    items = [{"id": g.pk, "prompt": g.prompt.model_input, "reference": g.reference} for g in dev_items]
    core = evaluate(final.artifact_path, final.artifact_path, items, task="generation")
    expected = [round(chrf(o, g.reference), 4) for o, g in zip(core["per_item"]["student_outputs"], dev_items)]
    assert dev["metric"] == "chrf" and dev["n"] == len(DEV_TICKETS) and dev["per_item"] == expected
    assert dev["ci95"][0] <= dev["value"] <= dev["ci95"][1]
    assert job.metrics["dev"]["n"] == len(DEV_TICKETS) and f"Dev chrf: {dev['value']:.3f}" in job.message


DEV_TICKETS = [("refund not received", "billing", "easy"), ("export hangs", "technical", "hard")]


def test_registering_refuses_what_is_not_this_jobs_run(job, tmp_path):
    with pytest.raises(Invalid, match=r"holds no run\.json"):
        register_external_run(job, tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"format": "distill-result-v1", "job": job.pk + 1, "result": {}}))
    with pytest.raises(Invalid, match=f"job #{job.pk + 1}"):
        register_external_run(job, tmp_path)
    with pytest.raises(Invalid, match="under the artifact store"):
        register_external_run(job, tmp_path, within_store=True)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    job.refresh_from_db()
    (tmp_path / "run.json").write_text(json.dumps({"format": "distill-result-v1", "job": job.pk, "result": {}}))
    with pytest.raises(Invalid, match="running in a worker"):
        register_external_run(job, tmp_path)


def test_the_job_page_offers_the_run_config_to_engineers_only(job, client_as, client, engineer):
    page, url = f"/p/{job.project.slug}/jobs/{job.pk}/", f"/p/{job.project.slug}/jobs/{job.pk}/run-config"
    assert url not in client_as("reader").get(page).content.decode()
    client.force_login(engineer)
    assert url in client.get(page).content.decode()
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/gzip"

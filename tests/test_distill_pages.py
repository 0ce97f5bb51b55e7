"""The distillation pages: launch form, job panel and gate decision, registry, reports."""

import io
import shutil
import tarfile

import pytest
from django.urls import reverse
from transformers import AutoModelForCausalLM

from curation.models import EvalReport, Job, ModelVersion
from curation.services import jobs
from curation.services.training import run_distill_job, run_evaluation_job
from tests import distillkit as kit
from tests.distillkit import artifacts, specs  # noqa: F401  (fixtures)

XSS = "<script>alert(1)</script>"


def form_data(specs, stages, **overrides):
    teacher, student = specs
    data = {
        "student_spec": student.pk,
        "teacher_spec": teacher.pk,
        "batch_size": 4,
        "grad_accum": 1,
        "max_seq_len": 128,
        "mixed_precision": "no",
        "seed": 0,
        "checkpoint_every": 0,
        "stages-TOTAL_FORMS": len(stages),
        "stages-INITIAL_FORMS": 0,
        "stages-MIN_NUM_FORMS": 1,
        "stages-MAX_NUM_FORMS": 1000,
    }
    for i, stage in enumerate(stages):
        row = {
            "lr": 1e-3,
            "warmup_steps": 0,
            "temperature": 1.0,
            "alpha": 0.5,
            "divergence": "forward_kl",
            "jsd_beta": 0.5,
            "replay_fraction": 0.0,
            "gate_metric": "",
            "gate_threshold": "",
            "gate_patience": 1,
            "steps": 3,
            "epochs": "",
            "name": "",
        }
        row.update(stage)
        data.update({f"stages-{i}-{k}": v for k, v in row.items()})
    data.update(overrides)
    return data


def launch_url(project):
    return reverse("distill-launch", args=[project.slug])


@pytest.fixture
def snapshots(project, tiny_model_dir):
    stage1, stage2 = project.stages.filter(is_pool=False).order_by("order")[:2]
    easy = kit.generation_snapshot(project, tiny_model_dir, "easy v1", stage=stage1, soft=False)
    hard = kit.generation_snapshot(project, tiny_model_dir, "hard v1", stage=stage2, soft=False, n_val=0)
    return easy, hard


def test_the_launch_form_offers_one_row_per_curriculum_stage_with_a_ready_snapshot(
    project, client_as, specs, snapshots
):
    page = client_as("engineer").get(launch_url(project)).content.decode()
    assert 'name="stages-TOTAL_FORMS" value="2"' in page
    assert "easy v1 · stage 1 · 10 train / 2 val" in page
    assert 'name="stages-0-name" value="stage 1"' in page and 'name="stages-1-name" value="stage 2"' in page
    # The hard snapshot has no validation rows, so its row comes without a gate.
    gates = [page.split(f'name="stages-{i}-gate_metric"')[1].split("</select>")[0] for i in (0, 1)]
    assert '<option value="teacher_agreement" selected>' in gates[0]
    assert '<option value="" selected>' in gates[1]
    assert 'id="stage-template"' in page and "__prefix__" in page


def test_the_students_recipe_in_its_spec_defaults_pre_fills_the_launch_form(project, client_as, specs, snapshots):
    _, student = specs
    student.defaults = {
        "distill": {
            "batch_size": 32,
            "max_seq_len": 256,
            "stage": {"epochs": 3, "lr": 0.003, "alpha": 0.7, "temperature": 2.0, "replay_fraction": 0.25},
        }
    }
    student.save()
    client = client_as("engineer")
    page = client.get(launch_url(project)).content.decode()
    assert 'name="batch_size" value="32"' in page and 'name="max_seq_len" value="256"' in page
    for i in (0, 1):
        assert f'name="stages-{i}-epochs" value="3"' in page and f'name="stages-{i}-lr" value="0.003"' in page
        assert f'name="stages-{i}-alpha" value="0.7"' in page and f'name="stages-{i}-temperature" value="2.0"' in page
    # Replay only makes sense after the first stage.
    assert (
        'name="stages-0-replay_fraction" value="0.0"' in page and 'name="stages-1-replay_fraction" value="0.25"' in page
    )
    # Without a recipe the form keeps its own defaults.
    student.defaults = {}
    student.save()
    page = client.get(launch_url(project)).content.decode()
    assert 'name="batch_size" value="8"' in page and 'name="stages-0-epochs" value="1.0"' in page


def test_a_distill_recipe_in_spec_defaults_is_checked_and_kept_out_of_generation_settings(project, specs):
    from curation.services.modelspecs import check_spec_fields, resolve_generation_params

    _, student = specs
    recipe = {"batch_size": 32, "stage": {"epochs": 3, "lr": 0.003}}
    assert check_spec_fields("transformers", "x", "", "", {"temperature": 0.5, "distill": recipe}, {}).errors == {}
    bad = check_spec_fields(
        "transformers", "x", "", "", {"distill": {"batch": 3, "stage": {"alpha": "high", "steps": 1.5}}}, {}
    )
    assert any("distill.batch: unknown setting" in m for m in bad.errors["defaults"])
    assert any("distill.stage.alpha" in m for m in bad.errors["defaults"]) and any(
        "distill.stage.steps" in m for m in bad.errors["defaults"]
    )
    student.defaults = {"temperature": 0.5, "distill": recipe}
    assert resolve_generation_params(student, {})["temperature"] == 0.5


def test_an_engineer_launches_a_job_from_the_form(project, client_as, specs, snapshots):
    easy, hard = snapshots
    data = form_data(
        specs,
        [
            {"snapshot": easy.pk, "gate_metric": "accuracy", "gate_threshold": 0.1},
            {"snapshot": hard.pk, "epochs": 2, "steps": ""},
        ],
    )
    response = client_as("engineer").post(launch_url(project), data)
    job = Job.objects.get(kind="distill")
    assert response.status_code == 302 and response["Location"] == reverse("job-detail", args=[project.slug, job.pk])
    assert [s["name"] for s in job.params["stages"]] == ["stage 1", "stage 2"]
    assert job.params["stages"][0]["gate"] == {"metric": "accuracy", "threshold": 0.1, "patience": 1}
    assert job.params["stages"][1]["epochs"] == 2.0 and job.params["stages"][1]["gate"] is None


@pytest.mark.parametrize(
    "row, field, message",
    [
        ({"alpha": 1.5}, "alpha", "stage &#x27;stage 1&#x27;: alpha must be between 0 and 1, got 1.5"),
        ({"steps": "", "epochs": ""}, "steps", "give exactly one of steps or epochs"),
        ({"divergence": "jsd", "jsd_beta": 1.0}, "jsd_beta", "jsd_beta must be strictly between 0 and 1"),
        ({"temperature": 0}, "temperature", "temperature must be &gt; 0"),
        ({"gate_metric": "accuracy", "gate_threshold": ""}, "gate_threshold", "This field is required."),
    ],
)
def test_bad_stage_settings_come_back_as_errors_on_their_field(
    project, client_as, specs, snapshots, row, field, message
):
    easy, _ = snapshots
    response = client_as("engineer").post(launch_url(project), form_data(specs, [{"snapshot": easy.pk, **row}]))
    page = response.content.decode()
    assert response.status_code == 400 and not Job.objects.exists()
    cell = page.split(f'name="stages-0-{field}"')[1].split("</td>")[0]
    assert message in cell, cell


def test_a_gate_on_a_snapshot_without_validation_rows_is_refused_by_name(project, client_as, specs, snapshots):
    _, hard = snapshots
    response = client_as("engineer").post(
        launch_url(project), form_data(specs, [{"snapshot": hard.pk, "gate_metric": "accuracy", "gate_threshold": 0.5}])
    )
    assert response.status_code == 400
    assert (
        "a gate evaluates the snapshot&#x27;s validation rows, and &#x27;hard v1&#x27; has none"
        in response.content.decode()
    )


def test_a_bad_job_setting_is_shown_on_its_field(project, client_as, specs, snapshots):
    easy, _ = snapshots
    response = client_as("engineer").post(launch_url(project), form_data(specs, [{"snapshot": easy.pk}], max_seq_len=4))
    page = response.content.decode()
    assert response.status_code == 400
    assert "max_seq_len must be at least 8" in page.split('name="max_seq_len"')[1].split("</div>")[0]


def test_adding_and_removing_a_stage_without_javascript_rerenders_the_form(project, client_as, specs, snapshots):
    easy, hard = snapshots
    client = client_as("engineer")
    data = form_data(specs, [{"snapshot": easy.pk}], add_stage="1")
    page = client.post(launch_url(project), data).content.decode()
    assert 'name="stages-TOTAL_FORMS" value="2"' in page and 'name="stages-1-snapshot"' in page
    assert "This field is required" not in page and not Job.objects.exists()
    data = form_data(specs, [{"snapshot": easy.pk}, {"snapshot": hard.pk}], remove_stage="0")
    page = client.post(launch_url(project), data).content.decode()
    assert 'name="stages-0-DELETE" value="True"' in page
    data["stages-0-DELETE"] = "on"
    data.pop("remove_stage")
    client.post(launch_url(project), data)
    assert [s["snapshot"] for s in Job.objects.get().params["stages"]] == [hard.pk]


def test_model_names_and_messages_are_escaped_on_the_job_page(
    project, client_as, tiny_model_dir, tiny_student_dir, snapshots
):
    teacher = kit.spec(project, "teacher", tiny_model_dir, name=f"teacher {XSS}")
    job = Job.objects.create(
        project=project,
        kind="distill",
        status="gated",
        model_spec=teacher,
        message=f"gate {XSS}",
        params={
            "stages": [
                {
                    "name": "stage 1",
                    "snapshot": snapshots[0].pk,
                    "steps": 3,
                    "lr": 1e-3,
                    "gate": {"metric": "accuracy", "threshold": 0.9, "patience": 0},
                }
            ],
            "resumes": [],
        },
        metrics={
            "kd_mode": "sequence",
            "kd_note": f"note {XSS}",
            "stages": {
                "0": {
                    "name": "stage 1",
                    "outcome": "gated",
                    "gate": {"metric": "accuracy", "value": 0.25, "threshold": 0.9, "passed": False, "metrics": {}},
                    "model_version": None,
                }
            },
            "gated": {
                "stage": "stage 1",
                "stage_index": 0,
                "gate": {
                    "metric": "accuracy",
                    "value": 0.25,
                    "threshold": 0.9,
                    "passed": False,
                    "metrics": {"accuracy": 0.25},
                },
            },
        },
        errors=[{"item": "warning", "error": f"teacher and student tokenizers differ {XSS}"}],
    )
    page = client_as("engineer").get(reverse("job-detail", args=[project.slug, job.pk])).content.decode()
    assert XSS not in page and "&lt;script&gt;" in page
    assert "Sequence-level KD (fallback)" in page and "tokenizers differ" in page
    assert "<b>accuracy</b> = <b>0.2500</b>; the gate needs ≥ <b>0.9000</b>" in page
    assert reverse("job-resume", args=[project.slug, job.pk]) in page


def test_readers_see_the_gate_but_not_the_resume_form(project, client_as):
    job = Job.objects.create(
        project=project,
        kind="distill",
        status="gated",
        params={"stages": [], "resumes": []},
        metrics={
            "gated": {
                "stage": "s",
                "stage_index": 0,
                "gate": {"metric": "val_kd_loss", "value": 2.0, "threshold": 1.0, "passed": False, "metrics": {}},
            }
        },
    )
    page = client_as("reader").get(reverse("job-detail", args=[project.slug, job.pk])).content.decode()
    assert "the gate needs ≤ <b>1.0000</b>" in page
    assert reverse("job-resume", args=[project.slug, job.pk]) not in page


def test_an_engineer_resumes_a_gated_job_from_its_page(project, client_as, member):
    job = Job.objects.create(
        project=project,
        kind="distill",
        status="gated",
        params={"stages": [], "resumes": []},
        metrics={
            "gated": {"stage": "easy", "stage_index": 0, "gate": {"metric": "accuracy", "value": 0.4, "threshold": 0.9}}
        },
    )
    client = client_as("engineer")
    response = client.post(
        reverse("job-resume", args=[project.slug, job.pk]), {"threshold": "0.35", "extra_epochs": "1", "comment": "ok"}
    )
    job.refresh_from_db()
    assert response.status_code == 302 and job.status == "queued"
    assert job.params["resumes"][0] | {"at": None} == {
        "threshold": 0.35,
        "extra_epochs": 1,
        "force": False,
        "comment": "ok",
        "by": "engineer-" + project.slug,
        "at": None,
        "stage": "easy",
        "stage_index": 0,
        "configured_threshold": 0.9,
    }
    expected = (
        f"Resumed at the gate of stage 'easy' by engineer-{project.slug}: threshold 0.35 (was 0.9), 1 extra epoch."
    )
    assert job.message == expected + " “ok”"


@pytest.fixture
def trained(project, specs, tiny_model_dir):
    """A real two-stage job, its versions, and its evaluation report."""
    from curation.services.training import launch_distillation

    easy = kit.generation_snapshot(project, tiny_model_dir, "easy")
    hard = kit.generation_snapshot(project, tiny_model_dir, "hard", tier="hard")
    kit.gold(project, classification=False)
    job = launch_distillation(
        project,
        {
            "student_spec": specs[1].pk,
            "teacher_spec": specs[0].pk,
            "batch_size": 4,
            "progress_every_s": 0,
            "stages": [kit.stage(easy, gate={"metric": "teacher_agreement", "threshold": 0.0}), kit.stage(hard)],
        },
    )
    assert jobs.run(job.pk, run_distill_job) == "succeeded"
    job.refresh_from_db()
    evaluation = Job.objects.get(pk=job.metrics["evaluation_job"])
    assert jobs.run(evaluation.pk, run_evaluation_job) == "succeeded"
    return job, ModelVersion.objects.get(job=job, is_final=True), EvalReport.objects.get(job=evaluation)


@pytest.mark.slow
def test_a_finished_job_page_shows_curves_gates_and_links(project, client_as, trained):
    job, final, report = trained
    page = client_as("reader").get(reverse("job-detail", args=[project.slug, job.pk])).content.decode()
    assert page.count('<path class="line s-total"') == 2 and "Token-level KD" in page
    assert "teacher_agreement ≥ 0" in page and reverse("model-detail", args=[project.slug, final.pk]) in page
    assert reverse("report-detail", args=[project.slug, report.pk]) in page


@pytest.mark.slow
def test_the_report_page_draws_every_chart(project, client_as, trained):
    _, _final, report = trained
    page = client_as("reader").get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    assert "Quality retained" in page and "Speed-up" in page
    assert "Normalized match by tier" in page and "hard (1)" in page
    assert "Latency per request" in page and "Loss and validation per stage" in page
    assert "easy: validation" in page and "teacher agreement (gate metric)" in page  # the easy stage's gate
    assert page.count("<svg") >= 5
    assert "Reference perplexity" in page


@pytest.mark.slow
def test_the_registry_lists_versions_with_lineage_and_downloads_a_loadable_archive(
    project, client_as, trained, tmp_path
):
    job, final, _ = trained
    client = client_as("reader")
    page = client.get(reverse("model-list", args=[project.slug])).content.decode()
    assert "stage 1 · easy" in page and "stage 2 · hard" in page and "<b>final</b>" in page
    detail = client.get(reverse("model-detail", args=[project.slug, final.pk])).content.decode()
    assert "stage 2/2 hard" in detail and final.card["code_version"] in detail
    assert f"torch {final.card['environment']['torch']}, {final.card['environment']['cpu_threads']} CPU" in detail
    response = client.get(reverse("model-download", args=[project.slug, final.pk]))
    assert response.status_code == 200 and response["Content-Disposition"].endswith(
        f'{project.slug}-job{job.pk}-final.tar.gz"'
    )
    with tarfile.open(fileobj=io.BytesIO(b"".join(response.streaming_content)), mode="r:gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "unpacked" / "final")
    assert model.num_parameters() == final.card["parameters"]
    # The archive is packed once and reused.
    archive = tmp_path / "artifacts" / "jobs" / str(job.pk) / "final.tar.gz"
    mtime = archive.stat().st_mtime_ns
    client.get(reverse("model-download", args=[project.slug, final.pk]))
    assert archive.stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_two_versions_compare_side_by_side(project, client_as, trained):
    job, final, _ = trained
    stage1 = ModelVersion.objects.get(job=job, stage="easy")
    page = (
        client_as("reader")
        .get(reverse("model-compare", args=[project.slug]), {"a": stage1.pk, "b": final.pk})
        .content.decode()
    )
    # The stage version has no report: the page says so instead of a column of dashes.
    assert f"A · {stage1.name} has no evaluation report yet" in page and "not evaluated" in page and "B − A" in page
    assert "A: gates" in page and "B: gates" in page


def test_an_engineer_evaluates_a_version_from_its_page(project, client_as, specs, artifacts, tiny_student_dir):
    kit.gold(project, classification=False)
    shutil.copytree(tiny_student_dir, artifacts / "copy" / "final")
    version = ModelVersion.objects.create(
        project=project, name="v", artifact_path=str(artifacts / "copy" / "final"), teacher_spec=specs[0]
    )
    response = client_as("engineer").post(
        reverse("model-evaluate", args=[project.slug, version.pk]), {"teacher_spec": specs[0].pk}
    )
    job = Job.objects.get(kind="evaluate")
    assert response.status_code == 302 and response["Location"] == reverse("job-detail", args=[project.slug, job.pk])
    judge = job.params.pop("judge")  # a generation project's evaluation also judges: the teacher by default
    assert judge["spec"]["spec_id"] == specs[0].pk and judge["rubric"] and judge["grades"]
    assert job.params == {"model_version": version.pk, "teacher_spec": specs[0].pk, "max_new_tokens": 32, "auto": False}


def test_an_evaluation_without_gold_is_refused_with_the_reason(project, client_as, specs, artifacts, tiny_student_dir):
    shutil.copytree(tiny_student_dir, artifacts / "copy" / "final")
    version = ModelVersion.objects.create(
        project=project, name="v", artifact_path=str(artifacts / "copy" / "final"), teacher_spec=specs[0]
    )
    response = client_as("engineer").post(reverse("model-evaluate", args=[project.slug, version.pk]), follow=True)
    assert "Not launched: the project has no confirmed gold items" in response.content.decode()
    assert not Job.objects.filter(kind="evaluate").exists()


def test_a_version_whose_files_are_outside_the_artifact_store_is_not_served(project, client_as, specs):
    version = ModelVersion.objects.create(project=project, name="v", artifact_path=str(specs[1].path))
    client = client_as("reader")
    assert client.get(reverse("model-download", args=[project.slug, version.pk])).status_code == 404
    assert (
        "its files are not under the artifact store"
        in client.get(reverse("model-detail", args=[project.slug, version.pk])).content.decode()
    )


def test_report_and_tier_names_are_escaped_in_charts(project, client_as):
    version = ModelVersion.objects.create(project=project, name=f"student {XSS}", artifact_path="/nowhere")
    report = EvalReport.objects.create(
        project=project,
        model_version=version,
        quality_retained=0.9,
        speedup=2.0,
        metrics={
            "task": "classification",
            "n_items": 2,
            "quality_basis": "accuracy",
            "notes": [f"note {XSS}"],
            "samples": [{"student": XSS, "teacher": "ok"}],
            "student": {"n": 2, "accuracy": 0.5},
            "teacher": {"n": 2, "accuracy": 1.0},
        },
        by_tier={
            "student": {f"tier {XSS}": {"n": 2, "accuracy": 0.5}},
            "teacher": {f"tier {XSS}": {"n": 2, "accuracy": 1.0}},
        },
        speed={
            "student": {"latency_p50_ms": 2.0, "latency_p95_ms": 3.0, "tokens_per_s": 100, "parameters": 10},
            "teacher": {"latency_p50_ms": 4.0, "latency_p95_ms": 6.0, "tokens_per_s": 50, "parameters": 100},
        },
        reliability={
            "student": {
                "ece": 0.1,
                "bins": [{"lower": 0.6, "upper": 0.7, "confidence": 0.65, "accuracy": 0.5, "count": 2}],
            }
        },
    )
    page = client_as("reader").get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    assert XSS not in page and page.count("&lt;script&gt;") >= 4
    assert "ECE 0.100" in page and "90%" in page and "×2.00" in page and "10%" in page


def test_long_curves_are_thinned_by_the_database_keeping_both_ends(project):
    from curation.models import MetricPoint
    from curation.pages.curves import CURVE_POINTS, loss_charts

    job = Job.objects.create(
        project=project,
        kind="distill",
        params={"stages": [{"name": "long"}], "resumes": []},
        metrics={"curves": {"long": [{"phase": "train", "round": 0, "offset": 0, "total": 2000}]}},
    )
    MetricPoint.objects.bulk_create(
        MetricPoint(job=job, stage="long", name=name, step=step, value=1.0 / step)
        for name in ("loss", "kd_loss", "ce_loss")
        for step in range(1, 2001)
    )
    chart = loss_charts(job)[0]["chart"]
    for line in chart["lines"]:
        steps = line["d"].split()
        assert CURVE_POINTS / 2 < len(steps) <= CURVE_POINTS + 2
    first_x = float(chart["lines"][0]["d"].split()[0][1:].split(",")[0])
    assert first_x < chart["left"] + 1  # step 1 is kept
    assert chart["lines"][0]["last"] == "0.0005"  # and step 2000


def _report(project, *, teacher_accuracy, quality_retained, speedup, by_tier):
    return EvalReport.objects.create(
        project=project,
        quality_retained=quality_retained,
        speedup=speedup,
        metrics={
            "task": "classification",
            "n_items": 200,
            "quality_basis": "accuracy",
            "quality_retained_ci95": [0.93, 1.01],
            "same_threads": True,
            "student": {"n": 200, "accuracy": teacher_accuracy * quality_retained},
            "teacher": {"n": 200, "accuracy": teacher_accuracy},
        },
        by_tier=by_tier,
        speed={
            "student": {"latency_p50_ms": 1.0, "latency_p95_ms": 2.0, "tokens_per_s": 100, "parameters": 10},
            "teacher": {"latency_p50_ms": speedup, "latency_p95_ms": 6.0, "tokens_per_s": 50, "parameters": 100},
        },
    )


def test_a_report_marks_every_missed_target_and_says_what_to_do(project, client_as):
    report = _report(
        project,
        teacher_accuracy=0.84,
        quality_retained=0.98,
        speedup=4.0,
        by_tier={"student": {"easy": {"n": 200, "accuracy": 0.8}}, "teacher": {"easy": {"n": 200, "accuracy": 0.84}}},
    )
    client = client_as("reader")
    page = client.get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    missed = page.split('class="card error-card missed-targets"')[1].split("</div>")[0]
    assert "2 targets missed" in missed
    assert "teacher accuracy on gold: 84%</b>, target 90% — MISSED" in missed and "learns its mistakes" in missed
    assert "speed-up: ×4.00</b>, target ×5.00 — MISSED" in missed and "quality retained" not in missed
    assert "95% CI 93%–101% over 200 items" in " ".join(page.split()) and "same thread count" in page
    # The dashboard says it first, loudly, with the advice.
    dashboard = client.get(reverse("project-dashboard", args=[project.slug])).content.decode()
    assert "TARGET MISSED in the latest evaluation: teacher accuracy on gold 84%, target 90%" in dashboard


def test_a_report_on_untiered_gold_says_so_instead_of_one_bar(project, client_as):
    report = _report(
        project,
        teacher_accuracy=0.95,
        quality_retained=0.99,
        speedup=6.0,
        by_tier={
            "student": {"untiered": {"n": 200, "accuracy": 0.94}},
            "teacher": {"untiered": {"n": 200, "accuracy": 0.95}},
        },
    )
    page = client_as("reader").get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    assert "The gold set has no tiers" in page and "Accuracy by tier" not in page
    assert "missed-targets" not in page and page.count(">met<") == 3

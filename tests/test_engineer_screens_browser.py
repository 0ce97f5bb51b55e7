"""The engineer's screens of issue 19 in Chromium: the job page's live status, the snapshot form the
"Build one" link opens, Compare's Evaluate button, the import's way on to Generate, and the report's
validation curve (its threshold drawn flat at its value). Each screen is captured."""

import json
import shutil

import pytest
from django.utils import timezone

from curation.models import EvalReport, Job, ModelVersion, Prompt
from tests import distillkit as kit
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.genkit import teacher_spec
from tests.test_review_browser import chromium, login, screenshot, serial_live_server, settle  # noqa: F401
from tests.test_training_curves import trained_job

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lab(serial_live_server):
    project = ProjectFactory(name="Support answers", slug="support")
    MembershipFactory(user=UserFactory(username="erin"), project=project, role="engineer")
    return {"url": serial_live_server, "project": project, "base": f"{serial_live_server}/p/support"}


def test_the_job_page_says_queued_then_running_without_a_reload(chromium, lab):
    job = Job.objects.create(project=lab["project"], kind="generate", status="queued", progress_total=40)
    page = login(chromium, lab["url"], "erin")
    page.goto(f"{lab['base']}/jobs/{job.pk}/")
    assert "Queued: waiting for a worker" in page.locator(".status-line").inner_text()
    Job.objects.filter(pk=job.pk).update(
        status="running", started_at=timezone.now(), phase="generating", progress_done=12
    )
    page.wait_for_function("() => document.querySelector('.status-line').textContent.includes('Running since')")
    settle(page)
    assert "queued" not in page.locator("main").inner_text().lower()
    screenshot(page, "job-running.png")
    page.context.close()


def test_build_one_opens_a_named_form_and_an_emptied_name_gets_the_servers_words(chromium, lab):
    page = login(chromium, lab["url"], "erin")
    before = timezone.localdate()
    page.goto(f"{lab['base']}/snapshots/?stage=stage+1")
    name = page.locator("input[name=name]")
    days = {f"{day:%Y-%m-%d}" for day in (before, timezone.localdate())}  # a run may cross midnight
    assert name.is_visible() and name.input_value() in {f"stage 1 {day}" for day in days}
    screenshot(page, "snapshot-form.png")
    name.fill("")
    page.locator("button", has_text="Build snapshot").click()
    page.wait_for_load_state()
    assert "Give the snapshot a name" in page.locator(".snapshot-form").inner_text()
    screenshot(page, "snapshot-form-error.png")
    page.context.close()


def test_compare_launches_the_evaluation_b_lacks(chromium, lab, tiny_model_dir, tiny_student_dir):
    project = lab["project"]
    teacher = kit.spec(project, "teacher", tiny_model_dir, name="tiny teacher")
    kit.gold(project, classification=False)
    from django.conf import settings

    shutil.copytree(tiny_student_dir, settings.ARTIFACT_DIR / "copy" / "final")
    a = ModelVersion.objects.create(project=project, name="run one", artifact_path="x", teacher_spec=teacher)
    EvalReport.objects.create(project=project, model_version=a, quality_retained=0.9, speedup=4.0,
                              metrics={"task": "generation", "student": {}, "teacher": {}})  # fmt: skip
    b = ModelVersion.objects.create(
        project=project,
        name="run two",
        artifact_path=str(settings.ARTIFACT_DIR / "copy" / "final"),
        teacher_spec=teacher,
    )
    page = login(chromium, lab["url"], "erin")
    page.goto(f"{lab['base']}/models/compare/?a={a.pk}&b={b.pk}")
    assert "run two has no evaluation report yet" in page.locator(".unevaluated").inner_text()
    screenshot(page, "compare-evaluate-b.png")
    page.locator("button", has_text="Evaluate B").click()
    page.wait_for_url(f"{lab['base']}/jobs/**")
    job = Job.objects.get(kind="evaluate")
    assert job.params["model_version"] == b.pk and page.url.endswith(f"/jobs/{job.pk}/")
    page.context.close()


def test_an_import_leads_to_generate_on_its_prompts_only(chromium, lab, tmp_path):
    project = lab["project"]
    spec = teacher_spec(project, tmp_path / "teacher")
    answered = Prompt.objects.create(project=project, text="answered before", content_hash="h0")
    answered.samples.create(model_spec=spec, text="an answer")
    page = login(chromium, lab["url"], "erin")
    page.goto(f"{lab['base']}/import/")
    rows = [{"prompt": f"new question {i}"} for i in range(3)] + [{"prompt": "gold q", "reference": "gold a"}]
    page.set_input_files(
        "input[type=file]",
        {"name": "p.jsonl", "mimeType": "application/json", "buffer": "\n".join(map(json.dumps, rows)).encode()},
    )
    page.locator("form button[type=submit]").first.click()
    page.wait_for_selector(".ok-card")
    settle(page)
    screenshot(page, "import-result.png")
    page.locator("a", has_text="Let the teacher answer the 3 new prompts").click()
    page.wait_for_url("**/generate/**")
    settle(page)
    assert page.locator("input[name=scope][value=missing]").is_checked()
    assert page.locator("#prompt-count .big-number").inner_text() == "3"
    assert "Prompts without an answer from this teacher: 3" in page.locator("[data-filter]").inner_text()
    screenshot(page, "generate-from-import.png")
    page.context.close()


THRESHOLD = """() => {
  const figures = Array.from(document.querySelectorAll('figure.chart'));
  const svg = figures.find((f) => f.textContent.includes('easy: validation')).querySelector('svg');
  const line = svg.querySelector('path.s-threshold').getBoundingClientRect();
  const axis = svg.querySelector('line.axis').getBoundingClientRect();
  const ticks = Array.from(svg.querySelectorAll('text.tick')).filter((t) => t.textContent === '50%');
  const tick = ticks[0].getBoundingClientRect();
  return {height: line.height, width: line.width, axis: axis.width, y: line.top, tick: tick.top + tick.height / 2};
}"""


def test_the_report_draws_the_validation_curve_with_a_flat_threshold_at_its_value(chromium, lab):
    project = lab["project"]
    _, version = trained_job(project)
    report = EvalReport.objects.create(
        project=project,
        model_version=version,
        metrics={"task": "generation", "student": {"normalized_match": 0.5}, "teacher": {"normalized_match": 0.6}},
        speed={"student": {"parameters": 10**6, "param_buffer_bytes": 4 * 10**6, "peak_rss_mb": 812.0},
               "teacher": {"parameters": 8 * 10**6, "param_buffer_bytes": 32 * 10**6, "peak_rss_mb": 830.0}},
    )  # fmt: skip
    page = login(chromium, lab["url"], "erin")
    page.goto(f"{lab['base']}/reports/{report.pk}/")
    settle(page)
    geometry = page.evaluate(THRESHOLD)
    assert geometry["height"] < 1 and geometry["width"] > 0.95 * geometry["axis"], geometry
    assert abs(geometry["y"] - geometry["tick"]) < 2, geometry  # drawn at the 50% tick
    page.locator("text=Loss and validation per stage").scroll_into_view_if_needed()
    screenshot(page, "report-validation-memory.png")
    page.goto(f"{lab['base']}/jobs/{version.job_id}/")
    settle(page)
    screenshot(page, "job-distill-validation.png")
    page.context.close()


def test_specs_and_settings_read_as_words(chromium, lab, tmp_path):
    project = lab["project"]
    teacher_spec(project, tmp_path / "teacher", defaults={"n": 4, "temperature": 0.8, "stop": ["\n\n"]})
    project.checks = [{"type": "non_empty"}, {"type": "max_length", "chars": 2000}]
    project.save()
    page = login(chromium, lab["url"], "erin")
    page.goto(f"{lab['base']}/model-specs/")
    assert page.locator("dl.defaults dt", has_text="Samples per prompt").is_visible()
    screenshot(page, "modelspecs.png")
    page.goto(f"{lab['base']}/settings/")
    assert "the answer has at most 2,000 characters" in page.locator(".checks-now").inner_text()
    assert "not trained on until then" in page.locator(".pool-note").inner_text()
    # A check from fields (its inputs sit in the settings form and belong to their own form), then removed.
    page.select_option("select[form=check-add]", "regex_must_not_match")
    page.fill("input[form=check-add][name=value]", "<script")
    with page.expect_navigation():
        page.locator("button[form=check-add]").click()
    assert "does not match the pattern '<script'" in page.locator(".checks-now").inner_text()
    screenshot(page, "settings-checks-pool.png")
    with page.expect_navigation():
        page.locator(".checks-now button", has_text="remove").first.click()
    project.refresh_from_db()
    assert [c["type"] for c in project.checks] == ["max_length", "regex_must_not_match"]
    page.context.close()

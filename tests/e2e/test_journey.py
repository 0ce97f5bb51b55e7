"""The whole journey, end to end, through the browser and the API, on a real Celery worker.

An engineer registers the demo teacher and student, uploads the ticket-triage prompts
and confirms the gold candidates; the teacher labels every prompt (a generation job);
a reviewer works the queue (keyboard approvals, a label change, a rejection, bulk
approval of each tier by filter) and moves the approved examples into two curriculum
stages on the board; the engineer snapshots both stages and launches a two-stage
distillation with gates; training ends with the automatic evaluation on the gold set;
a token created on its page pulls the snapshot over the REST API.

The student must agree with the teacher on the gold set at least 90% as often as the
teacher is right. Screenshots go to ``$TEST_ARTIFACTS_DIR/journey/``.

The demo teacher is trained once per session into a temporary directory (set
``E2E_DEMO_MODELS`` to a directory to keep it between runs). On 2 busy cores the test
takes about 3.5 minutes: 1.5 for the teacher, 1.5 for the journey (half of it in the
worker: generation, snapshots, training, evaluation). With 2,500 tickets the student
agreed with the teacher on 86-88% of the gold items, the teacher was right on 86%.
"""

import gzip
import json
import os
import re
import time
from pathlib import Path

import pytest
import requests

from curation.models import EvalReport, Example, GoldItem, Job, Project, Snapshot
from curation.services.demo import GUIDELINES, TRIAGE_LABELS, _prompt_lines
from tests.factories import MembershipFactory, UserFactory
from tests.test_review_browser import ARTIFACTS, chromium, login, serial_live_server, settle  # noqa: F401  (fixtures)
from workers.demo.teacher import TeacherRecipe

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SHOTS = ARTIFACTS / "journey"
SLUG = "triage"
N_TRAIN, N_GOLD = 2500, 200
# A smaller teacher than `make demo`'s (4x192, 150 s): triage only needs a few hundred
# steps, and a step budget (not a time budget) keeps its quality the same on a busy machine.
TEACHER_RECIPE = TeacherRecipe(
    n_layer=2,
    n_head=4,
    n_embd=128,
    n_positions=128,
    vocab_size=1200,
    n_train_tickets=4000,
    n_gold_tickets=200,
    batch_size=32,
    lr=3e-3,
    warmup_steps=20,
    steps=300,
    max_len=128,
)
STAGE = {"epochs": "3", "lr": "0.003", "temperature": "2", "alpha": "0.7"}
GATE_THRESHOLD = "0.6"
TERMINAL = {"succeeded", "failed", "cancelled", "gated"}


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory):
    from workers.demo.student import build_demo_student
    from workers.demo.teacher import build_demo_teacher

    root = Path(os.environ.get("E2E_DEMO_MODELS") or tmp_path_factory.mktemp("demo-models"))
    started = time.monotonic()
    teacher = build_demo_teacher(root / "teacher", recipe=TEACHER_RECIPE, log=None)
    if not (root / "student" / "demo_student.json").is_file() or not teacher["cached"]:
        build_demo_student(root / "teacher", root / "student", latency_runs=5)
    return {
        "teacher": root / "teacher",
        "student": root / "student",
        "info": teacher,
        "build_s": time.monotonic() - started,
    }


def shot(page, name, full_page=True):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=full_page)


def job_id_from(page) -> int:
    return int(re.search(r"/jobs/(\d+)/", page.url).group(1))


def wait_for_job_page(page, worker, *, timeout):
    """Watch the job page (it polls itself) until the job ends; return its status."""
    deadline = time.monotonic() + timeout
    status = page.locator("#job-progress h1 .status")
    while time.monotonic() < deadline:
        state = (status.get_attribute("class") or "").split()
        ended = TERMINAL & set(state)
        if ended:
            return ended.pop()
        if not worker.alive():
            pytest.fail(f"the worker died while {page.url} ran:\n{worker.log_tail()}")
        page.wait_for_timeout(500)
    pytest.fail(f"{page.url} did not finish within {timeout} s:\n{worker.log_tail()}")


def assert_job_succeeded(page, worker, *, timeout):
    state = wait_for_job_page(page, worker, timeout=timeout)
    job = Job.objects.get(pk=job_id_from(page))
    assert state == "succeeded", f"{job}: {state}: {job.message}\n{job.errors}\n{worker.log_tail()}"
    return job


def filter_queue(page, base, query):
    page.goto(f"{base}/p/{SLUG}/review/?{query}")
    settle(page)


def bulk_apply(page, expected_description_start):
    page.wait_for_selector("#bulk-description")
    description = page.locator("#bulk-description").inner_text()
    assert description.startswith(expected_description_start), description
    count = int(re.search(r"(\d[\d,]*) examples?", description).group(1).replace(",", ""))
    page.click("#bulk-apply")
    settle(page)
    return count


def test_the_whole_journey_from_prompts_to_a_student_that_keeps_the_teachers_triage(
    chromium, serial_live_server, real_worker, demo_models, tmp_path
):
    timings = {"teacher build (fixture)": demo_models["build_s"]}
    started = last = time.monotonic()

    def lap(name):
        nonlocal last
        now = time.monotonic()
        timings[name] = now - last
        last = now

    base = serial_live_server
    project = Project.create_with_defaults(
        slug=SLUG,
        name="Ticket triage",
        task_type="classification",
        labels=TRIAGE_LABELS,
        guidelines=GUIDELINES["triage"],
    )
    for username, role in (("erin", "engineer"), ("rita", "reviewer")):
        MembershipFactory(user=UserFactory(username=username), project=project, role=role)
    worker = real_worker().start()

    # --- Engineer: register the teacher and the student, import the prompts, confirm gold.
    erin = login(chromium, base, "erin")
    erin.goto(f"{base}/p/{SLUG}/model-specs/")
    for name, role, path in (
        ("demo teacher", "teacher", demo_models["teacher"]),
        ("demo student", "student", demo_models["student"]),
    ):
        erin.fill("input[name=name]", name)
        erin.select_option("select[name=role]", role)
        erin.select_option("select[name=backend]", "transformers")
        erin.fill("input[name=path]", str(path))
        erin.click("button:has-text('Register')")
        erin.wait_for_selector(f"table.specs a:has-text('{name}')")
        erin.goto(f"{base}/p/{SLUG}/model-specs/")
    erin.locator("table.specs tr", has_text="demo teacher").locator("button:has-text('Check')").click()
    erin.wait_for_selector(".check-row .check-report")
    assert "ok-card" in erin.locator(".check-row .check-report").get_attribute("class"), erin.locator(
        ".check-report"
    ).inner_text()

    prompts = tmp_path / "tickets.jsonl"
    prompts.write_bytes(_prompt_lines("triage", N_TRAIN, N_GOLD, dev=False))  # a test set only, as before
    erin.goto(f"{base}/p/{SLUG}/import/")
    erin.set_input_files("input[name=file]", str(prompts))
    erin.click("form button[type=submit]:has-text('Import')")
    erin.wait_for_selector("#import-result h2:has-text('Imported')")
    assert f"Imported {N_TRAIN + N_GOLD:,} prompts" in erin.locator("#import-result h2").inner_text()
    assert f"{N_GOLD} gold candidates" in erin.locator("#import-result").inner_text()

    while True:  # the gold page confirms the ticked candidates, a page of 50 at a time
        erin.goto(f"{base}/p/{SLUG}/gold/?state=candidates")
        boxes = erin.locator("input[name=item]")
        if not boxes.count():
            break
        for i in range(boxes.count()):
            boxes.nth(i).check()
        erin.click("button:has-text('Confirm the ticked candidates')")
        erin.wait_for_selector("text=Confirmed")
    assert GoldItem.objects.filter(project=project, confirmed=True).count() == N_GOLD
    lap("import + gold")

    # --- The teacher labels every prompt.
    erin.goto(f"{base}/p/{SLUG}/generate/")
    teacher_option = erin.locator("#id_model_spec option", has_text="demo teacher").get_attribute("value")
    if erin.locator("#id_model_spec").input_value() != teacher_option:
        erin.select_option("#id_model_spec", teacher_option)
        settle(erin)
    erin.click("button:has-text('Launch generation')")
    erin.wait_for_url(re.compile(r"/jobs/\d+/"))
    generation = assert_job_succeeded(erin, worker, timeout=240)
    shot(erin, "job-generation.png")
    assert project.examples.filter(status="pending").count() == N_TRAIN  # gold prompts are never generated for
    lap("generation")

    # --- Reviewer: filter the queue, decide with the keyboard in the focus view, change a label.
    rita = login(chromium, base, "rita")
    filter_queue(rita, base, "status=pending")
    rita.select_option("select[name=tier]", "easy")
    rita.wait_for_function("() => location.search.includes('tier=easy')")
    settle(rita)
    shot(rita, "queue.png", full_page=False)  # the first screen; the whole page below
    shot(rita, "queue-full.png")
    rita.keyboard.press("Escape")  # leave the select: keys are shortcuts again
    rita.keyboard.press("j")
    rita.keyboard.press("Enter")
    rita.wait_for_url(re.compile(r"/examples/\d+/"))
    settle(rita)
    shot(rita, "focus.png")

    def current():
        return int(rita.locator("#focus").get_attribute("data-example"))

    def decide(key):
        before = current()
        rita.keyboard.press(key)
        rita.wait_for_function(
            f"() => document.querySelector('#focus') && document.querySelector('#focus').dataset.example != '{before}'"
        )
        settle(rita)
        return before

    approved_by_key = [decide("a") for _ in range(3)]
    relabelled = current()
    teacher_label = rita.locator("#current-label").inner_text()
    new_label = next(label for label in TRIAGE_LABELS if label != teacher_label)
    rita.keyboard.press(str(TRIAGE_LABELS.index(new_label) + 1))  # each label's number key
    rita.wait_for_function(f"() => document.querySelector('#current-label').textContent.trim() == '{new_label}'")
    settle(rita)
    assert "set label" in rita.locator("#history").inner_text()
    decide("a")
    rejected = decide("r")
    for pk in approved_by_key + [relabelled]:
        assert Example.objects.get(pk=pk).status == "approved"
    assert Example.objects.get(pk=relabelled).label == new_label
    assert Example.objects.get(pk=rejected).status == "rejected"
    lap("keyboard review")

    # --- Reviewer: approve the rest, one tier at a time, by filter ("Apply to all matching").
    bulk_approved = 0
    for tier in ("easy", "medium", "hard"):
        filter_queue(rita, base, f"status=pending&tier={tier}")
        rita.click("text=Apply to all matching…")
        rita.select_option(".bulk-form select[name=action]", "approve")
        rita.click("text=Continue: count and confirm")
        n = bulk_apply(rita, "Approve")
        rita.wait_for_selector(f"text=Approved {n:,} example")
        bulk_approved += n
    assert bulk_approved == N_TRAIN - 5
    assert project.examples.filter(status="approved").count() == N_TRAIN - 1
    lap("bulk approval")

    # --- Reviewer: the curriculum board moves the approved examples out of the pool into two stages.
    for tier, to_stage in (("easy", "stage 1"), ("", "stage 2")):
        rita.goto(f"{base}/p/{SLUG}/board/")
        pool = rita.locator("section.column", has=rita.locator("h2 a", has_text="pool"))
        pool.locator("details.move summary").click()
        pool.locator("select[name=status]").select_option("approved")
        pool.locator("select[name=tier]").select_option(tier)
        pool.locator("select[name=to_stage]").select_option(to_stage)
        pool.locator("button:has-text('Count and confirm')").click()
        bulk_apply(rita, "Move")
    rita.goto(f"{base}/p/{SLUG}/board/")
    settle(rita)
    shot(rita, "board.png")
    stage_1 = project.examples.filter(stage__name="stage 1", status="approved")
    stage_2 = project.examples.filter(stage__name="stage 2", status="approved")
    assert stage_1.exists() and stage_2.exists() and stage_1.count() + stage_2.count() == N_TRAIN - 1
    assert set(stage_1.values_list("tier__name", flat=True)) == {"easy"}
    lap("board")

    # --- Engineer: one snapshot per stage.
    snapshots = {}
    for stage in ("stage 1", "stage 2"):
        erin.goto(f"{base}/p/{SLUG}/snapshots/")
        erin.click("summary:has-text('New snapshot')")
        erin.fill("input[name=name]", f"triage {stage}")
        erin.check("input[name=source][value=stage]")
        erin.select_option("select[name=stage]", stage)
        erin.click("button:has-text('Build snapshot')")
        erin.wait_for_url(re.compile(r"/snapshots/\d+/"))
        erin.wait_for_selector(
            "#snapshot-status h1 .status.succeeded, #snapshot-status h1 .status.failed", timeout=120_000
        )
        snapshot = Snapshot.objects.get(pk=int(re.search(r"/snapshots/(\d+)/", erin.url).group(1)))
        assert snapshot.status == "ready", snapshot.message
        assert snapshot.excluded.get("gold_prompt", 0) == 0  # gold prompts never reached the queue
        snapshots[stage] = snapshot
    for stage, approved in (("stage 1", stage_1), ("stage 2", stage_2)):
        # Every approved example of the stage, but those the snapshot says it left out and why (the
        # data-hygiene guard: a near-duplicate of a gold ticket, one example per duplicate cluster).
        left_out = snapshots[stage].excluded
        assert snapshots[stage].row_count == approved.count() - sum(left_out.values()), left_out
        assert sum(left_out.values()) <= 0.01 * approved.count(), left_out
    lap("snapshots")

    # --- Engineer: a two-stage distillation with gates, from the launch form.
    erin.goto(f"{base}/p/{SLUG}/distill/new/")
    assert erin.locator("tr.stage-row").count() == 2  # one row per stage with a ready snapshot, in order
    for row, stage in enumerate(("stage 1", "stage 2")):
        prefix = f"stages-{row}-"
        assert erin.locator(f"select[name={prefix}snapshot]").input_value() == str(snapshots[stage].pk)
        for field, value in STAGE.items():
            erin.fill(f"input[name={prefix}{field}]", value)
        erin.select_option(f"select[name={prefix}gate_metric]", "accuracy")
        erin.fill(f"input[name={prefix}gate_threshold]", GATE_THRESHOLD)
    erin.click("summary:has-text('Training settings')")
    erin.fill("input[name=batch_size]", "16")
    erin.fill("input[name=max_seq_len]", "128")
    erin.click("button:has-text('Launch distillation')")
    erin.wait_for_url(re.compile(r"/jobs/\d+/"))
    distill = assert_job_succeeded(erin, worker, timeout=420)
    settle(erin)
    shot(erin, "job-distillation.png")
    assert erin.locator(".stage-card.passed").count() == 2
    distill.refresh_from_db()
    lap("distillation")

    # --- The evaluation launched itself when training finished; its report answers the question.
    evaluation = Job.objects.filter(project=project, kind="evaluate").order_by("-id").first()
    assert evaluation is not None and evaluation.params.get("auto"), "training did not launch the evaluation"
    erin.goto(f"{base}/p/{SLUG}/jobs/{evaluation.pk}/")
    assert_job_succeeded(erin, worker, timeout=240)
    erin.click("a:has-text('Open the report')")
    erin.wait_for_url(re.compile(r"/reports/\d+/"))
    settle(erin)
    shot(erin, "report.png")
    report = EvalReport.objects.get(job=evaluation)
    lap("evaluation")

    erin.goto(f"{base}/p/{SLUG}/")
    settle(erin)
    shot(erin, "dashboard.png")

    # --- A REST client pulls the stage 1 snapshot with a token created on its page.
    erin.goto(f"{base}/tokens/")
    erin.fill("input[name=name]", "training pipeline")
    erin.click("button:has-text('Create token')")
    key = erin.locator("#new-token-key").inner_text().strip()
    assert key.startswith("cc_")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    root = f"{base}/api/v1/projects/{SLUG}"
    listed = api.get(f"{root}/snapshots/", params={"status": "ready"}, timeout=30)
    assert listed.status_code == 200, listed.text
    assert {s["id"] for s in listed.json()["results"]} == {s.pk for s in snapshots.values()}
    wanted = snapshots["stage 1"]
    manifest = api.get(f"{root}/snapshots/{wanted.pk}/", timeout=30).json()
    assert manifest["content_hash"] == wanted.content_hash
    download = api.get(
        f"{root}/snapshots/{wanted.pk}/download/", params={"format": "jsonl", "compression": "gzip"}, timeout=60
    )
    assert download.status_code == 200, download.text[:500]
    rows = [json.loads(line) for line in gzip.decompress(download.content).decode().splitlines()]
    assert len(rows) == wanted.row_count
    assert {r["split"] for r in rows} == {"train", "validation"}
    assert {r["stage"] for r in rows} == {"stage 1"} and {r["tier"] for r in rows} == {"easy"}
    assert {r["completion"] for r in rows} <= set(TRIAGE_LABELS)
    by_example = {r["example_id"]: r for r in rows}
    assert by_example[relabelled]["completion"] == new_label  # the reviewer's label, not the teacher's
    assert rejected not in by_example
    gold_prompts = set(GoldItem.objects.filter(project=project).values_list("prompt__text", flat=True))
    assert not gold_prompts & {r["prompt"] for r in rows}
    via_api = api.get(f"{root}/eval-reports/{report.pk}", timeout=30).json()
    lap("API")

    # --- Can the student replace the teacher at triage?
    teacher_accuracy = via_api["metrics"]["teacher"]["accuracy"]
    agreement = via_api["metrics"]["student"]["teacher_agreement"]
    timings["total (test body)"] = time.monotonic() - started
    summary = {
        "teacher_gold_accuracy": teacher_accuracy,
        "student_teacher_agreement": agreement,
        "student_gold_accuracy": via_api["metrics"]["student"]["accuracy"],
        "quality_retained": report.quality_retained,
        "speedup": report.speedup,
        "teacher_build": {k: demo_models["info"].get(k) for k in ("gold_accuracy", "steps", "train_time_s", "cached")},
        "generation_job": generation.message,
        "distillation_job": distill.message,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "numbers.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    assert report.metrics["teacher"]["accuracy"] == teacher_accuracy
    assert teacher_accuracy >= 0.5, f"the teacher barely beats chance on gold: {summary}"
    assert agreement >= 0.9 * teacher_accuracy, summary

"""The demo's journey, headless, with full-length training: the README's headline figures.

What a person does after ``make demo``, played through the product's own services on a
fresh, private data directory (SQLite, filesystem broker; the user's ``var/`` is never
touched):

1. ``manage.py demo --setup-only`` in a subprocess, twice: the first run migrates,
   seeds and trains the demo teacher for its fixed number of steps (``demo_first_run_s``;
   its quality is the same on every machine, only the time differs); the second finds
   everything in place (``demo_second_run_s``, must stay small);
2. the teacher's queued generation job over the triage tickets, run by the same job
   body a Celery worker runs (``jobs.run``), in this process;
3. two datasets from the same teacher output, each as two stage snapshots (easy, then
   medium and hard): **raw** = the teacher's labels as they came, every example approved;
   **curated** = a **simulated expert** (declared as such in the output: the corpus's true
   labels stand in for a person) reviews the teacher's least confident examples (lowest
   margin) and approves the right ones, relabels the wrong ones, and rejects the wrong ones
   whose ticket mixes intents; the rest is approved as it came;
4. the student's recipe **chosen on dev**: each of ``DISTILL_CANDIDATES`` trains a student on
   the curated snapshots through the launch form's request, and the one whose student scores
   best on the project's *dev* items (drawn like gold, kept out of training by the gold guard;
   each finished job scores its student there: ``ModelVersion.metrics["dev"]``) wins; the
   snapshots' validation rows are reported too (``validation_accuracy``) but choose nothing:
   every student scores near 1.0 on them;
5. ``curation_gain``: the winning recipe trains on the curated and on the raw snapshots with
   ``GAIN_SEEDS`` training seeds each, and the students' gold accuracies are compared item by
   item (curated minus raw, a 95% paired bootstrap interval over gold items and seeds); the same
   students on a sample of future traffic (``bench/_demo_traffic.py``: drawn like the pool, in
   its wordings, none of its tickets; not gold) give ``traffic``; the curated students' gold
   scores give ``quality_retained_over_seeds`` (the recipe, whichever seed ships). The student
   that ships is the curated seed with the best dev score (``shipped_seed``): its job's
   evaluation is the report (teacher and student on the gold set, timed at the same thread
   count), the headline ``quality_retained``;
6. the reply-drafting leg (``bench/_demo_drafting.py``): a generation student distilled end to
   end and judged (``gen_judged_retained``, ``gen_chrf_retained``, ``gen_speedup_per_token``,
   ``judge_human_agreement`` against a simulated reviewer).

Targets: the teacher >= 90% on gold; the student keeps >= 97% of it (the interval's lower
end >= 95%) at >= 5x lower latency; curation_gain's interval above zero. The figures are
reported as they come, met or not.

    .venv/bin/python bench/demo.py                          # the full run (tens of minutes)
    .venv/bin/python bench/demo.py --data-dir /tmp/d --keep # keep it: a rerun reuses the teacher
    .venv/bin/python bench/demo.py --smoke                  # tiny sizes, for the test suite
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # this directory: its private modules
import _demo_traffic as demo_traffic
from _demo_expert import EXPERT_SHARE, STAGES, _bulk, simulated_expert, stage_by_tier
from _demo_report import report

ROOT = Path(__file__).resolve().parent.parent
# Smoke: a handful of tickets, a teacher trained for a few steps, a few steps per stage.
SMOKE_SIZES = "triage=120:40,drafting=8:4"
SMOKE_TEACHER_STEPS = 6
SMOKE_STEPS = 4
# Training seeds per arm of curation_gain: one student per seed is noise in the data order too,
# which a bootstrap over gold items alone would not see (one seed gave -0.037 [-0.067, -0.010]).
GAIN_SEEDS = 5
# Tickets of future traffic (bench/_demo_traffic.py): the second measure of curation, not gold.
TRAFFIC, SMOKE_TRAFFIC = 600, 40


def _env(data_dir: Path, smoke: bool) -> dict:
    """The embedded default on ``data_dir``, whatever services the caller's shell points at."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "CACHE_URL",
            "ARTIFACT_DIR",
            "CELERY_TASK_ALWAYS_EAGER",
            "DEMO_TEACHER_STEPS",
            "DEMO_SIZES",
        }
    }
    env.update(DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="webapp.settings", PYTHONUNBUFFERED="1")
    env.setdefault("DEBUG", "1")  # development mode, as `manage.py demo` runs (DEBUG is off unless set)
    if smoke:
        env["DEMO_SIZES"] = SMOKE_SIZES
        env["DEMO_TEACHER_STEPS"] = str(SMOKE_TEACHER_STEPS)
    return env


def run_setup(env: dict, label: str) -> float:
    """``manage.py demo --setup-only`` in a subprocess; its wall time (interpreter start included)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "manage.py", "demo", "--setup-only"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    took = time.perf_counter() - started
    for line in proc.stdout.splitlines():
        print(f"  [{label}] {line}", file=sys.stderr)
    if proc.returncode != 0:
        raise SystemExit(
            f"`manage.py demo --setup-only` ({label}) failed with code {proc.returncode}:\n{proc.stderr[-4000:]}"
        )
    return took


def _run_job(job, body) -> tuple[str, float]:
    from curation.services import jobs

    started = time.perf_counter()
    status = jobs.run(job.pk, body, node="bench@demo")
    took = time.perf_counter() - started
    job.refresh_from_db()
    return status, took


def _must(status: str, job, what: str) -> None:
    if status != "succeeded":
        raise SystemExit(f"{what} ({job}) ended {status}: {job.message}")


def generate(project) -> float:
    """Run the project's queued teacher generation job (the Celery task's body, here)."""
    from curation.models import Job
    from curation.services.teacher import run_generation

    job = project.jobs.filter(kind=Job.Kind.GENERATE).order_by("id").last()
    if job is None:
        raise SystemExit(f"{project.name}: `manage.py demo` queued no generation job")
    if job.status == Job.Status.SUCCEEDED:
        return 0.0
    status, took = _run_job(job, run_generation)
    _must(status, job, f"{project.name}: teacher generation")
    print(f"  {project.name}: {job.message}", file=sys.stderr)
    return took


def snapshots(project, user, stages, label) -> list:
    from curation.services.datasets import run_build_job, start_snapshot

    out = []
    for stage in stages:
        snap = start_snapshot(project, user, name=f"bench {label} {stage}", stage=stage, validation_fraction=0.1)
        status, _ = _run_job(snap.job, run_build_job)
        _must(status, snap.job, f"snapshot of {stage}")
        snap.refresh_from_db()
        out.append(snap)
    return out


def distill_request(project, student, teacher, snaps, smoke: bool, candidate: dict) -> dict:
    """The launch form's pre-filled request with a candidate recipe (job settings and a "stage" part)."""
    from curation.forms_training import initial_stages, stage_of_row

    rows = initial_stages(project, student)
    by_stage = {s.stage_id: s for s in snaps}
    stages = []
    for row, stage_obj in zip(rows, project.stages.filter(is_pool=False).order_by("order", "id")):
        row = {**row, **{k: v for k, v in candidate.get("stage", {}).items() if k != "replay_fraction" or stages}}
        row["snapshot"] = by_stage[stage_obj.pk].pk  # this dataset's snapshot of the stage
        stage = stage_of_row(row)
        if smoke:
            stage.pop("epochs", None)
            stage["steps"] = SMOKE_STEPS
        stages.append(stage)
    job_settings = {k: v for k, v in candidate.items() if k != "stage"}
    return {"student_spec": student.pk, "teacher_spec": teacher.pk, "stages": stages, **job_settings}


def train(project, engineer, request) -> tuple:
    """Launch and run a distillation (gates that fail are forced, and counted); the job and its final model dir."""
    from curation.models import ModelVersion
    from curation.services.training import launch_distillation, resume_distillation, run_distill_job

    job = launch_distillation(project, request, by=engineer)
    status, took = _run_job(job, run_distill_job)
    forced = []
    while status == "gated" and len(forced) < len(request["stages"]):
        # A gate that fails waits for a person; the bench forces it (recorded in the job and
        # the model card) and says so, so the figures still come out for what was reached.
        gate = job.metrics["gated"]["gate"]
        forced.append(f"{gate['metric']} {gate['value']:.3f} < {gate['threshold']}")
        resume_distillation(job, by=engineer, force=True, comment="bench/demo.py: forced to measure the student anyway")
        status, more = _run_job(job, run_distill_job)
        took += more
    _must(status, job, "the distillation")
    final = ModelVersion.objects.get(job=job, is_final=True)
    return job, final.artifact_path, took, forced


def validation_accuracy(project, model_dir, snaps) -> float:
    """The student's accuracy on the snapshots' validation rows (reported; it chooses nothing)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from curation.services.training import snapshot_records
    from workers.distill.data import label_token_ids, prepare_classification
    from workers.distill.gates import classification_metrics

    labels = list(project.labels)
    records = [r for s in snaps for r in snapshot_records(s.pk, "validation", task="classification", labels=labels)]
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    examples = prepare_classification(records, tok, labels, max_seq_len=256, where="validation")
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    metrics = classification_metrics(
        model, examples, label_ids=label_token_ids(tok, labels), pad_id=pad, device="cpu", batch_size=64
    )
    return metrics["accuracy"]


def dev_score(job) -> float:
    """The product's dev score of ``job``'s final student (``job.metrics["dev"]``: accuracy on the
    project's dev items, drawn like gold, never trained on). Selection reads it."""
    dev = (job.metrics or {}).get("dev")
    if not dev:
        raise SystemExit(f"job #{job.pk}: its student has no dev score (does the project have dev items?)")
    return dev["value"]


def _cancel_evaluation(job) -> None:
    """Gold is read by one evaluation job, the shipped student's; the other jobs' are cancelled unrun
    (the per-seed gold scores of ``curation_gain`` are read directly, once per student)."""
    from curation.models import Job
    from curation.services import jobs

    if job.metrics.get("evaluation_job"):
        jobs.request_cancel(Job.objects.get(pk=job.metrics["evaluation_job"]))


def gold_correct(project, model_dir) -> list[float]:
    """1.0 / 0.0 per confirmed gold item: the model's best label is the gold label."""
    from curation.services.gold import test_items
    from workers.demo.evaluation import label_logprobs, load

    model, tok = load(model_dir)
    gold = list(test_items(project).select_related("prompt").order_by("id"))
    scores = label_logprobs(model, tok, [g.prompt.text for g in gold], labels=list(project.labels))
    best = scores.argmax(1).tolist()
    return [float(project.labels[b] == g.label) for b, g in zip(best, gold)]


def journey(data_dir: Path, smoke: bool) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model

    if data_dir is not None and Path(settings.DATA_DIR) != Path(data_dir).resolve():
        raise SystemExit(f"DATA_DIR is {settings.DATA_DIR}, not {data_dir}: refusing to play the journey elsewhere")

    from curation.models import EvalReport, Job, ModelSpec, Project
    from curation.services.demo import DISTILL_CANDIDATES
    from curation.services.training import routing_of, run_evaluation_job
    from workers.stats import paired_bootstrap

    project = Project.objects.get(slug="ticket-triage")
    engineer = get_user_model().objects.get(username="engineer")
    teacher = ModelSpec.objects.get(project=project, name="demo teacher")
    student = ModelSpec.objects.get(project=project, name="demo student")
    say = lambda msg: print(f"  {msg}", file=sys.stderr, flush=True)  # noqa: E731

    generation_s = generate(project)
    started = time.perf_counter()
    moved = {"approved": _bulk(project, engineer, "approve", {"status": "pending"}), **stage_by_tier(project, engineer)}
    raw = snapshots(project, engineer, list(STAGES), "raw")
    expert = simulated_expert(project, engineer, EXPERT_SHARE)
    say(f"simulated expert (the corpus's true labels, not a person): {expert}")
    curated = snapshots(project, engineer, list(STAGES), "curated")
    curation_s = time.perf_counter() - started
    for snap in raw + curated:
        say(f"snapshot {snap.name}: {snap.train_count} train / {snap.validation_count} validation rows")

    selection, trained, distill_s, forced = [], {}, 0.0, []
    for i, candidate in enumerate(DISTILL_CANDIDATES):
        request = distill_request(project, student, teacher, curated, smoke, candidate)
        job, model_dir, took, gates = train(project, engineer, request)
        distill_s += took
        forced += gates
        trained[i] = (job, model_dir, request)
        selection.append(
            {
                "candidate": candidate,
                "dev_accuracy": dev_score(job),
                "validation_accuracy": validation_accuracy(project, model_dir, curated),
                "job": job.pk,
            }
        )
        say(f"candidate {i}: dev accuracy {selection[-1]['dev_accuracy']:.3f} ({took:.0f} s) {json.dumps(candidate)}")
    best = max(range(len(selection)), key=lambda i: (selection[i]["dev_accuracy"], -i))
    job, curated_dir, request = trained[best]
    say(f"recipe chosen on dev: candidate {best}")
    # Jobs launched for the other candidates evaluate nothing on gold: they are cancelled unrun.
    for i, (other, _, _) in trained.items():
        if i != best:
            _cancel_evaluation(other)

    raw_request = distill_request(project, student, teacher, raw, smoke, selection[best]["candidate"])
    # curation_gain: the chosen recipe on curated and on raw data, GAIN_SEEDS training seeds each
    # (seed 0 of curated is the chosen candidate); [seeds, items] scores, bootstrapped over both.
    curated_gold, raw_gold = [gold_correct(project, curated_dir)], []
    dirs = {"curated": [curated_dir], "raw": []}
    dev = {"curated": [selection[best]["dev_accuracy"]], "raw": []}
    curated_jobs = [job]
    for seed in range(1 if smoke else GAIN_SEEDS):
        arms = [(raw_gold, raw_request, "raw")] + ([(curated_gold, request, "curated")] if seed else [])
        for rows, arm_request, arm in arms:
            arm_job, arm_dir, took, gates = train(project, engineer, {**arm_request, "seed": seed})
            distill_s += took
            forced += gates
            rows.append(gold_correct(project, arm_dir))
            dirs[arm].append(arm_dir)
            dev[arm].append(dev_score(arm_job))
            if arm == "curated":
                curated_jobs.append(arm_job)
            else:
                _cancel_evaluation(arm_job)
    # The student to ship: the curated seed with the best dev score. Its job's evaluation is the
    # report (gold, teacher and student timed at the same thread count); the others' are cancelled.
    shipped = max(range(len(curated_jobs)), key=lambda i: (dev["curated"][i], -i))
    say(f"student chosen on dev: seed {shipped} of the chosen recipe (dev {dev['curated'][shipped]:.3f})")
    for i, other in enumerate(curated_jobs):
        if i != shipped:
            _cancel_evaluation(other)
    job = curated_jobs[shipped]
    evaluation = Job.objects.get(pk=job.metrics["evaluation_job"])
    status, evaluation_s = _run_job(evaluation, run_evaluation_job)
    _must(status, evaluation, "the evaluation")
    report = EvalReport.objects.get(job=evaluation)
    gain = paired_bootstrap(curated_gold, raw_gold)
    # The recipe's quality retained over its training seeds (the chosen student is one draw of it).
    teacher_gold = gold_correct(project, teacher.path)
    over_seeds = paired_bootstrap(curated_gold, [teacher_gold] * len(curated_gold), statistic="ratio")
    say(f"curation gain over {len(raw_gold)} seed(s): {gain.estimate:+.3f} {gain.ci}")
    tickets = demo_traffic.future_traffic(project, SMOKE_TRAFFIC if smoke else TRAFFIC)
    traffic = demo_traffic.figures(tickets, teacher.path, dirs["curated"], dirs["raw"])
    say(f"future traffic: {json.dumps(traffic)}")
    routed = routing_of(
        EvalReport.objects.select_related("model_version__student_spec", "teacher_spec").get(pk=report.pk)
    )
    chosen = (routed or {}).get("chosen") or {}
    import _demo_drafting as demo_drafting  # this directory is the script's: sys.path[0]

    drafting = demo_drafting.journey(sys.modules[__name__], engineer, smoke, say)
    s, t = report.metrics["student"], report.metrics["teacher"]
    return {
        "report": report.pk,
        "moved": moved,
        "expert": expert,
        "selection": selection,
        "chosen": best,
        "shipped_seed": shipped,
        "generation_s": generation_s,
        "curation_s": curation_s,
        "distill_s": distill_s,
        "evaluation_s": evaluation_s,
        "gold_items": report.metrics["n_items"],
        "gold_tiers": sorted(report.by_tier.get("teacher", {})),
        "teacher_accuracy": t["accuracy"],
        "student_accuracy": s["accuracy"],
        "teacher_by_tier": {k: v["accuracy"] for k, v in report.by_tier.get("teacher", {}).items()},
        "student_by_tier": {k: v["accuracy"] for k, v in report.by_tier.get("student", {}).items()},
        "agreement": s.get("teacher_agreement"),
        "quality_retained": report.quality_retained,
        "quality_retained_ci95": report.metrics.get("quality_retained_ci95"),
        "speedup": report.speedup,
        "same_threads": bool(report.metrics.get("same_threads")),
        "student_p50_ms": report.speed["student"]["latency_p50_ms"],
        "teacher_p50_ms": report.speed["teacher"]["latency_p50_ms"],
        "student_params": report.speed["student"]["parameters"],
        "teacher_params": report.speed["teacher"]["parameters"],
        "threads": [report.speed["student"].get("threads"), report.speed["teacher"].get("threads")],
        "curated_gold_accuracy": sum(map(sum, curated_gold)) / sum(map(len, curated_gold)),
        "raw_gold_accuracy": sum(map(sum, raw_gold)) / sum(map(len, raw_gold)),
        "curation_seeds": len(raw_gold),
        "curated_by_seed": [round(sum(r) / len(r), 4) for r in curated_gold],
        "raw_by_seed": [round(sum(r) / len(r), 4) for r in raw_gold],
        "curated_dev_by_seed": [round(x, 4) for x in dev["curated"]],
        "raw_dev_by_seed": [round(x, 4) for x in dev["raw"]],
        "quality_retained_over_seeds": over_seeds.estimate,
        "quality_retained_over_seeds_ci95": over_seeds.ci,
        "curation_gain": gain.estimate,
        "curation_gain_ci95": gain.ci,
        "traffic": traffic,
        "kd_mode": job.metrics.get("kd_mode"),
        "recipe": request,
        "gates_forced": forced,
        "missed": [t["name"] for t in report.missed_targets()],
        # Routing at 99% of the teacher's quality: threshold chosen on the dev set, checked on gold.
        "routing": {
            "validation": chosen.get("validation"),
            "gold": chosen.get("gold"),
            "notes": (routed or {}).get("notes"),
            "basis": (routed or {}).get("basis"),
        },
        **drafting,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data-dir",
        help="use (and keep) this data directory instead of a fresh temporary one; "
        "one that already holds the demo reports cached times (the teacher is reused)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory (its path is printed)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes and steps: checks the journey, not the figures")
    ap.add_argument("--journey", help=argparse.SUPPRESS)  # internal: run steps 2-5 in this process on that data dir
    args = ap.parse_args()

    if args.journey:
        print(json.dumps(journey(Path(args.journey), args.smoke)))
        return

    data_dir = Path(args.data_dir).resolve() if args.data_dir else Path(tempfile.mkdtemp(prefix="bench-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    keep = args.keep or bool(args.data_dir)
    env = _env(data_dir, args.smoke)
    try:
        first = run_setup(env, "first run")
        second = run_setup(env, "second run")
        # Steps 2-5 in a fresh interpreter whose Django settings point at the data directory.
        proc = subprocess.run(
            [sys.executable, __file__, "--journey", str(data_dir)] + (["--smoke"] if args.smoke else []),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        sys.stderr.write(proc.stderr[-20000:] if proc.returncode == 0 else "")
        if proc.returncode != 0:
            raise SystemExit(f"the journey failed (code {proc.returncode}):\n{proc.stderr[-6000:]}")
        f = json.loads(proc.stdout.strip().splitlines()[-1])
        info = json.loads((data_dir / "demo" / "teacher" / "demo_teacher.json").read_text())
    finally:
        if keep:
            print(f"data directory kept: {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)

    report(f, info, first, second, smoke=args.smoke)


if __name__ == "__main__":
    main()

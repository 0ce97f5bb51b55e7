"""Experiments without training: the arms' requests, the launch rules, the preparation job, progress."""

import pytest

from curation.models import Experiment, ExperimentRun, GoldItem, Job, ModelSpec, Snapshot, SnapshotRow
from curation.services import jobs, webhooks
from curation.services.errors import Invalid
from curation.services.experiments import (
    ARMS,
    GOLD_RULE,
    arm_request,
    cancel_experiment,
    launch_experiment,
    refresh,
    run_experiment_job,
)
from tests import distillkit as kit
from tests.distillkit import artifacts  # noqa: F401  (fixtures)
from tests.experimentkit import finish_run, launch, request, triage  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    queued = []
    monkeypatch.setattr(jobs, "enqueue", queued.append)
    return queued


@pytest.fixture
def engineer(member):
    return member("engineer", "alice")


def errors_of(triage, **kw):
    with pytest.raises(Invalid) as exc:
        launch_experiment(triage["project"], request(triage, **kw))
    return exc.value.errors


# ------------------------------------------------------------------ arms
def test_each_arm_differs_from_curated_in_one_thing(triage):
    easy, hard = triage["snapshots"]
    params = {
        "student_spec": 2,
        "teacher_spec": 1,
        "snapshots": [{"id": easy.pk}, {"id": hard.pk}],
        "recipe": {"batch_size": 4, "seed": 0, "stage": {"steps": 5, "lr": 1e-3, "alpha": 0.7, "replay_fraction": 0.2}},
    }
    curated = arm_request(params, "curated", 7)
    assert curated["seed"] == 7 and curated["batch_size"] == 4
    assert [s["snapshot"] for s in curated["stages"]] == [easy.pk, hard.pk]
    assert "replay_fraction" not in curated["stages"][0] and curated["stages"][1]["replay_fraction"] == 0.2
    assert "order" not in curated and "data_fraction" not in curated

    ce = arm_request(params, "ce", 7)
    assert [s["alpha"] for s in ce["stages"]] == [0.0, 0.0]
    assert {k: v for k, v in ce.items() if k != "stages"} == {k: v for k, v in curated.items() if k != "stages"}

    assert arm_request(params, "random_order", 7)["order"] == "random"
    assert arm_request(params, "random_order", 7)["stages"] == curated["stages"]
    assert arm_request(params, "fraction_25", 7)["data_fraction"] == 0.25

    (shuffled,) = arm_request(params, "shuffled", 7)["stages"]
    assert (shuffled["snapshot"], shuffled["extra_snapshots"]) == (easy.pk, [hard.pk])
    assert shuffled["steps"] == 10 and "replay_fraction" not in shuffled  # the same budget, all in one stage
    (raw,) = arm_request(params, "raw", 7, raw_snapshot=99)["stages"]
    assert raw["snapshot"] == 99 and "extra_snapshots" not in raw and raw["steps"] == 10


# ---------------------------------------------------------------- launch
def test_launching_records_every_arm_at_every_seed_a_raw_snapshot_and_the_preparation_job(triage, engineer, no_broker):
    experiment = launch(triage, by=engineer)
    assert experiment.status == "preparing" and experiment.arms == list(ARMS) and experiment.seeds == 2
    runs = list(experiment.runs.order_by("seed_index", "id").values_list("arm", "seed_index", "seed"))
    assert runs == [(arm, k, k) for k in (0, 1) for arm in ARMS]
    raw = experiment.raw_snapshot
    easy = triage["snapshots"][0]
    assert (raw.content, raw.status, raw.seed, raw.validation_fraction) == (
        "raw",
        "building",
        easy.seed,
        easy.validation_fraction,
    )
    assert experiment.job.kind == "experiment" and raw.job == experiment.job
    assert experiment.params["metric"] == "accuracy" and experiment.params["gold_items"] == 3
    assert list(experiment.snapshots.order_by("id")) == sorted(triage["snapshots"], key=lambda s: s.pk)


def test_the_recipe_starts_from_the_students_own_and_the_request_wins(triage):
    student = triage["student"]
    student.defaults = {"distill": {"batch_size": 16, "stage": {"epochs": 3, "lr": 3e-3, "temperature": 4.0}}}
    student.save()
    experiment = launch(triage, recipe={"max_seq_len": 64, "stage": {"steps": 2}}, arms=["curated"])
    recipe = experiment.params["recipe"]
    assert recipe["batch_size"] == 16 and recipe["max_seq_len"] == 64
    assert recipe["stage"] == {"steps": 2, "lr": 3e-3, "temperature": 4.0}  # the request's budget replaces epochs


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"seeds": 11}, "seeds", "between 1 and 10"),
        ({"seeds": 0}, "seeds", "between 1 and 10"),
        ({"arms": ["curated", "bogus"]}, "arms", "unknown arm 'bogus'"),
        ({"arms": ["raw", "ce"]}, "arms", "the curated arm is the reference"),
        ({"arms": ["curated", "raw"]}, "arms", "add shuffled"),
        ({"name": " "}, "name", "Give the experiment a name"),
        ({"snapshots": []}, "snapshots", "Choose at least one snapshot"),
        ({"snapshots": [10**6]}, "snapshots", "no snapshot #1000000"),
        ({"recipe": {"stage": {"lr": 1e-3}}}, "recipe.stage.steps", "fixed budget"),
        ({"recipe": {"stage": {"steps": 2, "lr": -1}}}, "recipe.stage.lr", "learning rate must be > 0"),
        ({"recipe": {"batch_size": 0, "stage": {"steps": 2}}}, "recipe.batch_size", "batch_size"),
        ({"recipe": {"stage": {"steps": 2, "alpha": 0.0}}, "arms": ["curated", "ce"]}, "recipe.stage.alpha", "ce arm"),
        ({"recipe": {"stage": {"steps": 2, "wobble": 1}}}, "recipe.stage.wobble", "unknown stage setting"),
        ({"student_spec": 10**6}, "student_spec", "no model spec"),
        ({"recipe": {"seed": 2**31, "stage": {"steps": 2}}}, "recipe.seed", "between 0 and"),
    ],
)
def test_a_bad_request_is_refused_naming_the_field(triage, change, field, words):
    errors = errors_of(triage, **change)
    assert field in errors, errors
    assert any(words in message for message in errors[field]), errors[field]
    assert not Experiment.objects.exists() and not Job.objects.exists()


def test_one_stage_arms_need_two_snapshots_and_raw_is_then_compared_with_curated(triage):
    easy = triage["snapshots"][0]
    assert "two snapshots or more" in " ".join(
        errors_of(triage, snapshots=[easy.pk], arms=["curated", "shuffled"])["arms"]
    )
    experiment = launch(triage, snapshots=[easy.pk], arms=None)
    assert "shuffled" not in experiment.arms and "random_order" not in experiment.arms and "raw" in experiment.arms


# ----------------------------------------------------- selection never touches gold
def test_a_gate_on_gold_is_refused_with_the_rule(triage):
    gate = {"metric": "accuracy", "threshold": 0.5, "split": "gold"}
    errors = errors_of(triage, recipe={"stage": {"steps": 2, "gate": gate}})
    assert errors == {"recipe.stage.gate.split": [f"'gold': selection never touches gold: {GOLD_RULE}"]}


def test_early_stopping_is_refused_with_the_rule(triage):
    errors = errors_of(triage, recipe={"stage": {"steps": 2, "early_stopping": {"on": "gold"}}})
    assert list(errors) == ["recipe.stage.early_stopping"] and GOLD_RULE in errors["recipe.stage.early_stopping"][0]


def test_a_gate_on_the_validation_split_is_kept_for_every_arm(triage):
    gate = {"metric": "accuracy", "threshold": 0.1, "patience": 0, "split": "validation"}
    experiment = launch(triage, recipe={"stage": {"steps": 2, "gate": gate}}, arms=["curated", "shuffled"])
    assert experiment.params["recipe"]["stage"]["gate"] == {"metric": "accuracy", "threshold": 0.1, "patience": 0}


def test_a_snapshot_holding_a_prompt_that_became_gold_is_refused(triage):
    easy = triage["snapshots"][0]
    gold = GoldItem.objects.filter(project=triage["project"]).first()
    SnapshotRow.objects.filter(snapshot=easy, split="train").update(prompt_hash=gold.content_hash)
    errors = errors_of(triage)
    assert list(errors) == ["snapshots"] and "whose prompt is now in the gold set" in errors["snapshots"][0]


def test_without_confirmed_gold_or_with_an_http_teacher_nothing_is_launched(triage):
    GoldItem.objects.update(confirmed=False)
    assert "no confirmed gold items" in errors_of(triage)["__all__"][0]
    GoldItem.objects.update(confirmed=True)
    ModelSpec.objects.filter(pk=triage["teacher"].pk).update(backend="openai", base_url="http://x/v1")
    assert "local transformers teacher" in " ".join(errors_of(triage)["teacher_spec"])


def test_raw_snapshots_cannot_be_chosen_as_curriculum_stages(triage):
    Snapshot.objects.filter(pk=triage["snapshots"][1].pk).update(content="raw")
    assert "raw teacher output" in errors_of(triage)["snapshots"][0]


# ------------------------------------------------------- the preparation job
def test_the_preparation_job_builds_the_raw_snapshot_and_launches_every_run_once(triage, engineer, no_broker):
    experiment = launch(triage, by=engineer)
    assert jobs.run(experiment.job_id, run_experiment_job) == "succeeded"
    experiment.refresh_from_db()
    assert experiment.status == "running"
    raw = Snapshot.objects.get(pk=experiment.raw_snapshot_id)
    # Every teacher example, whatever its status (approved, pending, rejected), with the teacher's label.
    assert raw.status == "ready" and raw.row_count == len(kit.TICKETS)
    runs = list(experiment.runs.select_related("job"))
    assert all(r.job and r.job.kind == "distill" and r.job.status == "queued" for r in runs)
    assert {(r.job.params["experiment"]["arm"], r.job.params["seed"]) for r in runs} == {
        (arm, k) for arm in ARMS for k in (0, 1)
    }
    raw_job = next(r.job for r in runs if r.arm == "raw")
    assert raw_job.params["stages"][0]["snapshot"] == raw.pk

    Job.objects.filter(pk=experiment.job_id).update(status="queued")
    assert jobs.run(experiment.job_id, run_experiment_job) == "succeeded"
    assert Job.objects.filter(kind="distill").count() == len(runs)  # a redelivery launches nothing twice


def test_a_raw_arm_without_teacher_examples_is_reported_and_the_rest_runs(triage, no_broker):
    triage["project"].examples.all().delete()
    experiment = launch(triage, arms=["curated", "raw", "shuffled"], seeds=1)
    assert jobs.run(experiment.job_id, run_experiment_job) == "succeeded"
    raw = experiment.runs.get(arm="raw")
    assert raw.job is None and "no training rows" in raw.error
    board = refresh(experiment)
    assert [v.state for v in board.runs if v.run.arm == "raw"] == ["failed"]
    assert board.done == 1 and board.total == 3


def test_cancelling_an_experiment_cancels_its_queued_runs(triage, no_broker):
    experiment = launch(triage, arms=["curated", "ce"], seeds=1)
    jobs.run(experiment.job_id, run_experiment_job)
    cancel_experiment(experiment)
    experiment.refresh_from_db()
    assert experiment.status == "cancelled"
    assert set(Job.objects.filter(kind="distill").values_list("status", flat=True)) == {"cancelled"}
    assert {v.state for v in refresh(experiment).runs} == {"cancelled"}


# ----------------------------------------------------------- progress, results
def test_progress_counts_runs_across_arms_and_results_come_when_runs_are_evaluated(triage, no_broker):
    experiment = launch(triage, arms=["curated", "ce"], seeds=2)
    hook = webhooks.subscribe(experiment.project, "http://127.0.0.1:9/hook", ["experiment.ready"])
    jobs.run(experiment.job_id, run_experiment_job)
    board = refresh(experiment)
    assert (board.done, board.total, board.eta_s) == (0, 4, None)
    assert experiment.status == "running" and not experiment.results

    runs = {(r.arm, r.seed_index): r for r in experiment.runs.select_related("job")}
    finish_run(runs["curated", 0], [1.0, 1.0, 0.0])
    finish_run(runs["ce", 0], [0.0, 1.0, 0.0])
    board = refresh(experiment)
    assert board.done == 2 and board.eta_s == pytest.approx(2 * 60, abs=1)  # two runs to go, a minute each
    assert experiment.status == "running" and not experiment.results["final"]  # provisional, from seed 0

    finish_run(runs["curated", 1], [1.0, 0.0, 1.0])
    finish_run(runs["ce", 1], [0.0, 0.0, 1.0])
    board = refresh(experiment)
    experiment.refresh_from_db()
    assert experiment.status == "done" and experiment.finished_at and experiment.results["final"]
    (kd,) = next(q for q in experiment.results["questions"] if q["key"] == "kd")["comparisons"]
    assert kd["difference"] == pytest.approx((2 + 2 - 1 - 1) / 6)
    assert kd["seeds"] == 2 and kd["n_items"] == 3 and kd["test"] == "paired permutation"
    assert experiment.results["arms"]["curated"]["mean"] == pytest.approx(4 / 6)
    assert {r.eval_report_id is not None for r in ExperimentRun.objects.filter(experiment=experiment)} == {True}
    refresh(experiment)  # a later page load does not announce the end again
    (ready,) = hook.deliveries.all()
    assert ready.event == "experiment.ready" and ready.payload["data"]["experiment"]["status"] == "done"


def test_a_snapshot_that_is_not_ready_is_refused_by_the_runs_own_rule(triage):
    Snapshot.objects.filter(pk=triage["snapshots"][1].pk).update(status="building")
    assert any("is building, not ready" in m for m in errors_of(triage)["snapshots"])

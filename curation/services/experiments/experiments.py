"""Launching an experiment: the request, its checks (selection never touches gold), and cancel.

A request (launch form or ``POST /api/v1/projects/<slug>/experiments``)::

    {"name": "Is curation worth it?", "student_spec": 3, "teacher_spec": 1,
     "snapshots": [10, 11],                     # curriculum stages, in order (curated snapshots)
     "arms": ["curated", "raw", "shuffled", "random_order", "ce", "fraction_10", "fraction_25", "fraction_50"],
     "seeds": 3,                                # 1..10
     "recipe": {"batch_size": 8, "max_seq_len": 256, "seed": 0,
                "stage": {"steps": 200, "lr": 5e-4, "temperature": 2.0, "alpha": 0.5, "replay_fraction": 0.2,
                          "gate": {"metric": "accuracy", "threshold": 0.5, "split": "validation"}}}}

The recipe starts from the student spec's own (``defaults["distill"]``), like the distillation
form. Every arm's run request is checked by ``validate_distillation`` now, so what a run would
refuse later is refused at launch, named after the experiment's field (``recipe.stage.lr``).

Selection never touches gold: gates read the snapshots' validation split (``split`` may only
be ``validation``), every arm trains a fixed budget (no early stopping), and a snapshot that
holds a prompt which has since become a gold item is refused. Gold is the test set: each
trained student is evaluated on it once, by its run's automatic evaluation.
"""

from __future__ import annotations

from django.db import transaction

from curation.models import Experiment, ExperimentRun, GoldItem, Job, ModelSpec, Project, Snapshot
from curation.services import gold, jobs
from curation.services.datasets import MAX_NAME, start_snapshot
from curation.services.errors import NON_FIELD, Invalid
from curation.services.experiments.arms import ARMS, ONE_STAGE_ARMS, arm_request, curation_reference
from curation.services.inputs import by_id, parse_number
from curation.services.recipes import DISTILL_JOB_KEYS, DISTILL_STAGE_KEYS, distill_defaults
from curation.services.training import gold_problems, validate_distillation

DEFAULT_SEEDS, MAX_SEEDS = 3, 10
MAX_SEED = 2**31 - 1 - MAX_SEEDS  # the runs' seeds count up from it
MAX_SNAPSHOTS = 20
GOLD_RULE = (
    "gates read the snapshots' validation split only, and gold is the test set, evaluated once per trained student"
)
EARLY_STOPPING = (
    "no early stopping in an experiment: every arm trains its fixed budget (steps or epochs), so no arm is "
    "stopped by a look at any score; selection never touches gold: " + GOLD_RULE
)


def _ids(raw, field, errors) -> list[int]:
    if not isinstance(raw, list) or not raw:
        errors.add(field, "Choose at least one snapshot (the curriculum stages, in order).")
        return []
    out = []
    for value in raw:
        text = str(value)
        if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or int(text) >= 2**63:
            errors.add(field, f"{value!r} is not a snapshot id")
        else:
            out.append(int(text))
    return out


def _snapshots(project: Project, raw, errors) -> list[Snapshot]:
    ids = _ids(raw, "snapshots", errors)
    if len(ids) > MAX_SNAPSHOTS:
        errors.add("snapshots", f"at most {MAX_SNAPSHOTS} snapshots")
    if len(set(ids)) != len(ids):
        errors.add("snapshots", "a snapshot can be chosen once")
    found = Snapshot.objects.filter(project=project, pk__in=ids).select_related("stage").in_bulk()
    chosen = []
    # Whether each is ready, with training rows, is checked with the arms' run requests.
    for i in ids:
        snap = found.get(i)
        if snap is None:
            errors.add("snapshots", f"no snapshot #{i} in this project")
        elif snap.content != Snapshot.Content.CURATED:
            errors.add(
                "snapshots",
                f"snapshot {snap.name!r} is raw teacher output; choose curated snapshots (the experiment builds "
                "the raw arm's data itself)",
            )
        else:
            chosen.append(snap)
    return chosen


def _arms(raw, n_snapshots: int, errors) -> list[str]:
    """The chosen arms in their canonical order (default: every arm this many stages can tell apart)."""
    if raw in (None, "", []):
        arms = [a for a in ARMS if n_snapshots > 1 or a not in ONE_STAGE_ARMS]
    elif not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        errors.add("arms", f"a list of arms: {', '.join(ARMS)}")
        return []
    else:
        arms = list(dict.fromkeys(raw))
        unknown = [a for a in arms if a not in ARMS]
        if unknown:
            errors.add("arms", f"unknown arm {', '.join(map(repr, unknown))}; choose from {', '.join(ARMS)}")
        for arm in ONE_STAGE_ARMS:
            if arm in arms and n_snapshots < 2:
                errors.add("arms", f"{arm} needs two snapshots or more (with one stage it trains exactly like curated)")
    if "curated" not in arms:
        errors.add("arms", "the curated arm is the reference every question compares with: keep it")
    if "raw" in arms and curation_reference(n_snapshots) not in arms:
        errors.add("arms", "raw is compared with shuffled (both one stage, so only the data differ): add shuffled")
    return [a for a in ARMS if a in arms]


def _recipe(raw, student: ModelSpec | None, errors) -> dict:
    """The base recipe: the student's own (``defaults["distill"]``) overridden by the request's."""
    if raw in (None, ""):
        raw = {}
    if not isinstance(raw, dict):
        errors.add("recipe", 'an object of job settings with the stage settings under "stage"')
        return {"stage": {}}
    own = distill_defaults(student)
    asked_stage = raw.get("stage") if isinstance(raw.get("stage"), dict) else {}
    if raw.get("stage") not in (None, {}) and not isinstance(raw.get("stage"), dict):
        errors.add("recipe.stage", "an object of stage settings")
    for where, settings in (("recipe", raw), ("recipe.stage", asked_stage)):
        if "early_stopping" in settings:
            errors.add(f"{where}.early_stopping", EARLY_STOPPING)
    for key in sorted(set(raw) - {*DISTILL_JOB_KEYS, "stage", "early_stopping"}):
        errors.add(f"recipe.{key}", f"unknown setting; known: {', '.join(DISTILL_JOB_KEYS)}, stage")
    for key in sorted(set(asked_stage) - {*DISTILL_STAGE_KEYS, "gate", "early_stopping"}):
        errors.add(f"recipe.stage.{key}", f"unknown stage setting; known: {', '.join(DISTILL_STAGE_KEYS)}, gate")
    recipe = {k: raw.get(k, own.get(k)) for k in DISTILL_JOB_KEYS if raw.get(k, own.get(k)) is not None}
    # The seeds of the runs count up from the recipe's seed.
    recipe["seed"] = (
        parse_number(recipe.get("seed"), "recipe.seed", errors, kind=int, default=0, minimum=0, maximum=MAX_SEED) or 0
    )
    stage = {k: v for k, v in (own.get("stage") or {}).items() if v is not None}
    if "steps" in asked_stage or "epochs" in asked_stage:  # the request's budget replaces the student's
        stage.pop("steps", None)
        stage.pop("epochs", None)
    stage.update({k: v for k, v in asked_stage.items() if k in DISTILL_STAGE_KEYS and v not in (None, "")})
    if stage.get("steps") is None and stage.get("epochs") is None:
        errors.add("recipe.stage.steps", "Give every stage a fixed budget: steps (or epochs).")
    gate = asked_stage.get("gate")
    if isinstance(gate, dict) and gate:
        split = gate.get("split", "validation")
        if split != "validation":
            errors.add("recipe.stage.gate.split", f"{split!r}: selection never touches gold: {GOLD_RULE}")
        stage["gate"] = {k: v for k, v in gate.items() if k != "split"}
    elif gate not in (None, {}, ""):
        errors.add("recipe.stage.gate", "a gate is an object {metric, threshold, patience, split}")
    recipe["stage"] = stage
    return recipe


def _field(key: str) -> str:
    """An arm request's error field as the experiment's field."""
    head, _, rest = key.partition(".")
    if head in ("student_spec", "teacher_spec", NON_FIELD):
        return head
    if head in ("data_fraction", "order"):
        return "arms"
    if head == "stages":
        _index, _, field = rest.partition(".")
        if not field or field.startswith(("snapshot", "extra_snapshots", "name")):
            return "snapshots"
        return f"recipe.stage.{field}"
    return f"recipe.{key}"


def validate_experiment(project: Project, data: dict) -> dict:
    """The experiment's params for a request; raises ``Invalid`` naming the fields."""
    if not isinstance(data, dict):
        raise Invalid({NON_FIELD: ["The request must be a JSON object."]})
    errors = Invalid()
    known = {"name", "student_spec", "teacher_spec", "snapshots", "arms", "seeds", "recipe"}
    for key in sorted(set(data) - known):
        errors.add(key, "unknown setting" if key != "early_stopping" else EARLY_STOPPING)
    name = str(data.get("name") or "").strip()
    if not name:
        errors.add("name", "Give the experiment a name.")
    elif len(name) > MAX_NAME:
        errors.add("name", f"At most {MAX_NAME} characters.")
    seeds = parse_number(
        data.get("seeds"), "seeds", errors, kind=int, default=DEFAULT_SEEDS, minimum=1, maximum=MAX_SEEDS
    )
    snapshots = _snapshots(project, data.get("snapshots"), errors)
    arms = _arms(data.get("arms"), len(snapshots) or len(data.get("snapshots") or []), errors)
    student = by_id(ModelSpec.objects.filter(project=project), data.get("student_spec"))
    recipe = _recipe(data.get("recipe"), student, errors)
    teacher = by_id(ModelSpec.objects.filter(project=project), data.get("teacher_spec"))
    if teacher is not None and teacher.backend != ModelSpec.Backend.TRANSFORMERS:
        errors.add(
            "teacher_spec",
            f"{teacher.name!r} is served over HTTP; every student is evaluated against the teacher on this worker, "
            "which needs a local transformers teacher",
        )
    problem = gold_problems(project)
    if problem:
        errors.add(NON_FIELD, f"Every student is evaluated on the gold set, and {problem}.")
    params = {
        "student_spec": data.get("student_spec"),
        "teacher_spec": data.get("teacher_spec"),
        "snapshots": [
            {"id": s.pk, "name": s.name, "hash": s.content_hash, "stage": s.stage.name if s.stage_id else ""}
            for s in snapshots
        ],
        "arms": arms,
        "seeds": seeds,
        "recipe": recipe,
    }
    blocked = any(k == "snapshots" or k.startswith("recipe") for k in errors.errors)
    if snapshots and not blocked:
        # Each arm's run request, checked as the run will be (raw's data is built later; its
        # stage is shaped like shuffled's, which is checked), even when other fields are wrong,
        # so one answer names every problem.
        base_seed, base_alpha = int(recipe.get("seed") or 0), None
        for arm in [a for a in arms if a != "raw"] or ["curated"]:
            try:
                checked, _specs = validate_distillation(project, arm_request(params, arm, base_seed))
            except Invalid as exc:
                for key, message in exc.flat():
                    if message not in errors.errors.get(_field(key), []):
                        errors.add(_field(key), message)
            else:
                params["student_spec"], params["teacher_spec"] = checked["student_spec"], checked["teacher_spec"]
                if arm == "curated":
                    base_alpha = checked["stages"][0]["alpha"]
        if "ce" in arms and base_alpha == 0.0:
            errors.add(
                "recipe.stage.alpha", "the base recipe's alpha is 0 (CE only) already: the ce arm would equal it"
            )
    errors.raise_if_any()
    params["metric"] = "accuracy" if project.is_classification else "normalized_match"
    params["gold_items"] = gold.test_items(project).count()
    params["gold_check"] = {
        "snapshot_rows": sum(s.row_count for s in snapshots),
        "gold_prompts": GoldItem.objects.filter(project=project).count(),
    }
    params["name"] = name
    return params


def launch_experiment(project: Project, data: dict, by=None) -> Experiment:
    """Validate (``Invalid`` names the fields), record the runs, queue the preparation job."""
    params = validate_experiment(project, data)
    name = params.pop("name")
    base_seed = int(params["recipe"].get("seed") or 0)
    first = Snapshot.objects.get(pk=params["snapshots"][0]["id"])
    with transaction.atomic():
        experiment = Experiment.objects.create(
            project=project, name=name, params=params, arms=params["arms"], seeds=params["seeds"], created_by=by
        )
        experiment.snapshots.set([s["id"] for s in params["snapshots"]])
        ExperimentRun.objects.bulk_create(
            ExperimentRun(experiment=experiment, arm=arm, seed_index=k, seed=base_seed + k)
            for k in range(params["seeds"])
            for arm in params["arms"]
        )
        job = jobs.launch(project, Job.Kind.EXPERIMENT, {"experiment": experiment.pk}, by=by)
        experiment.job = job
        if "raw" in params["arms"]:
            # The raw arm's data: every teacher example as it came, split like the first
            # curated snapshot (same seed and fraction: a prompt lands on the same side).
            experiment.raw_snapshot = start_snapshot(
                project,
                by,
                name=f"{name[: MAX_NAME - 40]} · raw teacher output",
                content=Snapshot.Content.RAW,
                seed=first.seed,
                validation_fraction=first.validation_fraction,
                launch=False,
            )
            experiment.raw_snapshot.job = job
            experiment.raw_snapshot.save(update_fields=["job"])
        experiment.save(update_fields=["job", "raw_snapshot"])
    return experiment


def cancel_experiment(experiment: Experiment, *, by=None) -> Experiment:
    """Stop everything: the preparation job, every run's training and evaluation (queued ones at once)."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if experiment.status not in Experiment.ACTIVE:
            return experiment
        job_ids = [experiment.job_id] if experiment.job_id else []
        for run in experiment.runs.select_related("job"):
            if run.job_id:
                job_ids.append(run.job_id)
                evaluation = (run.job.metrics or {}).get("evaluation_job")
                if evaluation:
                    job_ids.append(evaluation)
        for job in Job.objects.filter(pk__in=job_ids):
            if job.status in (*Job.ACTIVE, Job.Status.GATED):
                jobs.request_cancel(job, by=by)
        experiment.status = Experiment.Status.CANCELLED
        experiment.message = "Cancelled: queued runs were dropped, running ones stop after their current step."
        experiment.save(update_fields=["status", "message"])
    return experiment

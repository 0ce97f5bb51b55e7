"""The arms of an experiment, and the ordinary distillation request each arm's run launches.

Every arm starts from the same base recipe (job settings, and stage settings applied to every
stage) and the same seeds, and differs from the reference arm, ``curated``, in one thing only,
so a paired difference between two arms measures that one thing:

- ``curated``: the chosen snapshots (approved examples, reviewers' edits and labels win) as
  curriculum stages in order, KD with the recipe's alpha. The product as it is used.
- ``ce``: the same with alpha = 0 (cross-entropy on the labels or responses only).
- ``shuffled``: the same data in one shuffled stage (all the snapshots' rows together), the
  same total budget: the stages' steps added up, or the same epochs.
- ``random_order``: the same stages (sizes, settings, gates, replay), the rows dealt to them at
  random: a curriculum's pacing without its order.
- ``raw``: the teacher's output as it came (a raw snapshot: every teacher example, whatever
  its review status, with the teacher's own text or label) in one shuffled stage, budgeted
  like ``shuffled``; compared with ``shuffled`` (with ``curated`` when there is one stage), the
  difference is what review did to the data.
- ``fraction_10`` / ``fraction_25`` / ``fraction_50``: ``curated`` on a seeded subsample of
  each stage's rows, for the learning curve (``curated`` is its 100% point).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arm:
    key: str
    label: str
    description: str
    fraction: float = 1.0


ARMS = {
    arm.key: arm
    for arm in (
        Arm(
            "curated",
            "Curated · curriculum · KD",
            "the chosen snapshots as curriculum stages in order, with the base recipe: the reference arm",
        ),
        Arm("raw", "Raw teacher output · one stage", "every teacher example as it came, unreviewed, in one stage"),
        Arm("shuffled", "Curated · one shuffled stage", "the curated rows in one shuffled stage, the same budget"),
        Arm(
            "random_order",
            "Curated · random order",
            "the curated rows dealt to the stages at random: same sizes, settings and gates",
        ),
        Arm("ce", "Curated · curriculum · CE only", "alpha 0: the labels or responses only, no teacher distribution"),
        Arm("fraction_10", "Curated · 10% of the data", "a seeded 10% of each stage's rows", 0.10),
        Arm("fraction_25", "Curated · 25% of the data", "a seeded 25% of each stage's rows", 0.25),
        Arm("fraction_50", "Curated · 50% of the data", "a seeded 50% of each stage's rows", 0.50),
    )
}
FRACTION_ARMS = [key for key, arm in ARMS.items() if arm.fraction < 1.0]
# Arms of one stage: they need two stages or more to differ from ``curated``.
ONE_STAGE_ARMS = ("shuffled", "random_order")


def curation_reference(n_snapshots: int) -> str:
    """The arm ``raw`` is compared with: the curated data in one stage, like raw's."""
    return "shuffled" if n_snapshots > 1 else "curated"


def arm_request(params: dict, arm: str, seed: int, *, raw_snapshot: int | None = None) -> dict:
    """The distillation launch request of ``arm`` at ``seed`` (``params``: a validated experiment)."""
    recipe = params["recipe"]
    snapshots = [s["id"] for s in params["snapshots"]]
    base = {key: value for key, value in recipe.items() if key != "stage"}
    request = {
        "student_spec": params["student_spec"],
        "teacher_spec": params["teacher_spec"],
        **base,
        "seed": seed,
    }
    if arm in ("shuffled", "raw"):
        first, rest = (raw_snapshot, []) if arm == "raw" else (snapshots[0], snapshots[1:])
        stage = one_stage(recipe["stage"], len(snapshots))
        stage.update(snapshot=first, name="raw teacher output" if arm == "raw" else "all stages")
        if rest:
            stage["extra_snapshots"] = rest
        request["stages"] = [stage]
        return request
    stages = []
    for i, snapshot in enumerate(snapshots):
        stage = {k: v for k, v in recipe["stage"].items() if k != "replay_fraction" or i > 0}
        stage["snapshot"] = snapshot
        if arm == "ce":
            stage["alpha"] = 0.0
        stages.append(stage)
    request["stages"] = stages
    if arm == "random_order":
        request["order"] = "random"
    if ARMS[arm].fraction < 1.0:
        request["data_fraction"] = ARMS[arm].fraction
    return request


def one_stage(stage_settings: dict, n_stages: int) -> dict:
    """The recipe's stage settings for one stage holding all ``n_stages`` stages' rows: the
    same total budget (steps added up; epochs stay epochs) and no replay (nothing comes before)."""
    stage = {k: v for k, v in stage_settings.items() if k != "replay_fraction"}
    if stage.get("steps") is not None:
        stage["steps"] = stage["steps"] * n_stages
    return stage

"""The curriculum's recipe options: which data each stage sees, how many visits each stage's
records get, and how the loss and the learning rate move across the run.

- ``order``: ``"curriculum"`` (the stages as given) or ``"random"``, the control arm: the
  same stage sizes and pacing, with the examples assigned to stages at random (seeded), so
  "does the order matter?" is measured against the same schedule without the order.
- ``pacing``: what a stage's pool of earlier data holds. ``"replay"``: a
  ``replay_fraction`` sample of all earlier stages' records (0 to 1.0). ``"cumulative"``:
  every earlier record (each stage keeps all earlier data).
- ``budget``: how many draws (example visits) each stage gets.
  ``"given"``: each stage's own steps or epochs, drawn uniformly from its records plus its
  pool (so with replay the last stage's records are diluted: the issue #14 measurement
  had 37.5% fewer hard visits than a shuffled run). ``"tier_visits"``: the total of the
  stages' steps is kept and re-split so that every stage's records get the visits a
  shuffled run of the same total steps gives them (the last stage's ``hard_weight`` times
  that, the others scaled down to keep the total), and a ``replay_share`` of every later
  stage's draws revisits its pool. Curriculum and shuffled then differ in order only.
- ``lr_schedule``: ``"per_stage"`` (a fresh warmup and linear decay in every stage) or
  ``"global"`` (one warmup and linear decay over the whole run, from the first stage's
  learning rate and warmup).
- ``ce_warmup_fraction``: the first share of the run's steps trains on CE only (alpha 0),
  then each stage's alpha applies (a CE warm start, then KD).
- ``temperature_schedule``: ``"constant"`` (each stage's temperature) or ``"anneal"``
  (from the stage's temperature linearly to 1 over the run).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from workers.distill.errors import DistillError

ORDERS = ("curriculum", "random")
PACINGS = ("replay", "cumulative")
BUDGETS = ("given", "tier_visits")
LR_SCHEDULES = ("per_stage", "global")
TEMPERATURE_SCHEDULES = ("constant", "anneal")


def assign_random_order(own: list[list], seed: int) -> list[list]:
    """The same stage sizes, the examples dealt to stages at random (the random-order control)."""
    pooled = [ex for stage in own for ex in stage]
    random.Random(f"random-order:{seed}").shuffle(pooled)
    out, start = [], 0
    for stage in own:
        out.append(pooled[start : start + len(stage)])
        start += len(stage)
    return out


def replay_pools(own: list[list], fractions: list[float], pacing: str, seed: int) -> list[list[tuple[int, object]]]:
    """Per stage, the earlier records it may revisit, each tagged with the stage it came from."""
    pools = []
    for i, fraction in enumerate(fractions):
        earlier = [(g, ex) for g in range(i) for ex in own[g]]
        if pacing == "cumulative":
            pools.append(earlier)
            continue
        n = round(fraction * len(earlier))
        pools.append(random.Random(seed * 1009 + i).sample(earlier, n) if n else [])
    return pools


@dataclass
class StagePlan:
    """One stage's share of a ``tier_visits`` budget, in optimizer steps and in draws."""

    steps: int
    own_draws: int
    replay_draws: int


def plan_tier_visits(
    own_sizes: list[int],
    pool_groups: list[dict[int, int]],
    *,
    total_steps: int,
    draws_per_step: int,
    replay_share: float,
    hard_weight: float,
) -> list[StagePlan]:
    """Split ``total_steps`` across stages so each stage's records get their shuffled-run visits.

    A shuffled run of ``total_steps`` visits a record ``total_steps * draws_per_step / N``
    times on average. Stage g's records are to get that (the last stage's ``hard_weight``
    times that, the earlier ones scaled to keep the total), counting both their own
    stage's draws and the replay draws later stages spend on them (``pool_groups[j][g]``:
    how many of stage j's pool came from stage g).
    """
    n_stages, total_n = len(own_sizes), sum(own_sizes)
    draws = total_steps * draws_per_step
    if n_stages < 1 or total_n < 1:
        raise DistillError("a tier_visits budget needs records in every stage", "budget")
    last = n_stages - 1
    if n_stages == 1:
        return [StagePlan(total_steps, draws, 0)]
    target_last = draws * hard_weight * own_sizes[last] / total_n
    if target_last >= draws:
        raise DistillError(
            f"hard_weight {hard_weight} would give the last stage every step of the run; lower it "
            f"(at most {total_n / own_sizes[last]:.2f} here)",
            "hard_weight",
        )
    rest = total_n - own_sizes[last]
    targets = [(draws - target_last) * n / rest for n in own_sizes[:last]] + [target_last]
    shares = [replay_share if j > 0 and sum(pool_groups[j].values()) else 0.0 for j in range(n_stages)]
    stage_draws = [0.0] * n_stages
    for g in range(last, -1, -1):
        by_replay = sum(
            stage_draws[j] * shares[j] * pool_groups[j].get(g, 0) / sum(pool_groups[j].values())
            for j in range(g + 1, n_stages)
            if shares[j]
        )
        need = targets[g] - by_replay
        if need <= 0:
            raise DistillError(
                f"replay_share {replay_share} is too large for a tier_visits budget: later stages would revisit "
                f"stage {g + 1}'s records more often than a shuffled run visits them; lower replay_share",
                "replay_share",
            )
        stage_draws[g] = need / (1.0 - shares[g])
    steps = _round_to_total([d / draws_per_step for d in stage_draws], total_steps)
    plans = []
    for j, s in enumerate(steps):
        replay = round(shares[j] * s * draws_per_step)
        plans.append(StagePlan(s, s * draws_per_step - replay, replay))
    return plans


def _round_to_total(values: list[float], total: int) -> list[int]:
    """Whole numbers >= 1 summing to ``total``, as close to ``values`` as largest remainders get."""
    if total < len(values):
        raise DistillError(
            f"a tier_visits budget needs at least one step per stage ({len(values)}), got {total}", "budget"
        )
    floors = [max(1, math.floor(v)) for v in values]
    order = sorted(range(len(values)), key=lambda i: values[i] - math.floor(values[i]), reverse=True)
    i = 0
    while sum(floors) < total:
        floors[order[i % len(order)]] += 1
        i += 1
    while sum(floors) > total:
        j = max((k for k in range(len(floors)) if floors[k] > 1), key=lambda k: floors[k] - values[k])
        floors[j] -= 1
    return floors


def draw_sequence(n_own: int, n_pool: int, plan: StagePlan, seed: int) -> list[int]:
    """Indices into ``own + pool`` for a stage's draws: exactly ``plan.own_draws`` of its own
    records (whole shuffled passes, then part of one) and ``plan.replay_draws`` of its pool,
    interleaved at random. Deterministic for a seed, so a restart draws the same batches."""
    rng = random.Random(f"draws:{seed}")

    def cycle(start: int, n: int, count: int) -> list[int]:
        out = []
        while len(out) < count and n:
            block = list(range(start, start + n))
            rng.shuffle(block)
            out.extend(block)
        return out[:count]

    seq = cycle(0, n_own, plan.own_draws) + cycle(n_own, n_pool, plan.replay_draws)
    rng.shuffle(seq)
    return seq


def loss_settings(
    alpha: float,
    temperature: float,
    *,
    global_step: int,
    total_steps: int,
    ce_warmup_fraction: float,
    temperature_schedule: str,
) -> tuple[float, float]:
    """(alpha, temperature) at ``global_step`` of a run of ``total_steps``."""
    progress = global_step / max(total_steps, 1)
    if progress < ce_warmup_fraction:
        alpha = 0.0
    if temperature_schedule == "anneal":
        temperature = temperature + (1.0 - temperature) * min(progress, 1.0)
    return alpha, temperature


def global_lr_factor(step: int, warmup: int, total: int) -> float:
    """One linear warmup and linear decay to zero over the whole run (as transformers' schedule)."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


class Schedule:
    """Per stage: the items it trains on (its own records, then its pool of earlier ones), the
    optimizer steps of its train phase, and the items each micro-batch draws.

    ``own``: each stage's prepared examples. Built once at setup from the config alone, so
    a resumed run rebuilds exactly the same schedule.
    """

    def __init__(self, own: list[list], config, num_processes: int = 1):
        cfg = self.config = config
        if cfg.order == "random":
            own = assign_random_order(own, cfg.seed)
        self.own = own
        fractions = [s.replay_fraction if i else 0.0 for i, s in enumerate(cfg.stages)]
        pools = replay_pools(own, fractions, cfg.pacing, cfg.seed)
        self.items = [own[i] + [ex for _, ex in pools[i]] for i in range(len(own))]
        self.global_size = cfg.batch_size * num_processes
        self.draws_per_step = self.global_size * cfg.grad_accum
        given = [self._given_steps(i) for i in range(len(own))]
        self.total_steps = sum(given)
        self.plans: list[StagePlan] | None = None
        self.train_steps = given
        if cfg.budget == "tier_visits":
            groups = [{g: sum(1 for h, _ in pool if h == g) for g in range(i)} for i, pool in enumerate(pools)]
            self.plans = plan_tier_visits(
                [len(o) for o in own],
                groups,
                total_steps=self.total_steps,
                draws_per_step=self.draws_per_step,
                replay_share=cfg.replay_share,
                hard_weight=cfg.hard_weight,
            )
            self.train_steps = [p.steps for p in self.plans]
        self.offsets = [sum(self.train_steps[:i]) for i in range(len(own))]
        self._draws: dict[int, list[int]] = {}

    def micro_per_epoch(self, i: int) -> int:
        return math.ceil(len(self.items[i]) / self.global_size)

    def _given_steps(self, i: int) -> int:
        stage = self.config.stages[i]
        if stage.steps is not None:
            return stage.steps
        per_epoch = math.ceil(self.micro_per_epoch(i) / self.config.grad_accum)
        return max(1, math.ceil(stage.epochs * per_epoch))

    def phase_steps(self, i: int, phase: str) -> int:
        if phase == "train":
            return self.train_steps[i]
        return math.ceil(self.micro_per_epoch(i) / self.config.grad_accum)

    def micro_indices(self, i: int, phase: str, m: int) -> list[int]:
        """Indices into ``items[i]`` of micro-batch ``m`` of a phase (all processes' rows)."""
        cfg = self.config
        if phase == "train" and self.plans is not None:
            if i not in self._draws:
                plan = self.plans[i]
                n_own = len(self.own[i])
                self._draws[i] = draw_sequence(n_own, len(self.items[i]) - n_own, plan, cfg.seed * 7919 + i)
            seq = self._draws[i]
            start = m * self.global_size
            return [seq[(start + j) % len(seq)] for j in range(self.global_size)]
        epoch, offset = divmod(m, self.micro_per_epoch(i))
        seed = (cfg.seed * 1_000_003 + i * 10_007 + sum(map(ord, phase)) * 101 + epoch) % (2**63)
        import torch

        perm = torch.randperm(len(self.items[i]), generator=torch.Generator().manual_seed(seed)).tolist()
        start = offset * self.global_size
        return [perm[(start + j) % len(perm)] for j in range(self.global_size)]

    def planned_visits(self) -> list[dict]:
        """Per stage: its train steps and draws (own records, pool), for the job page and tests."""
        out = []
        for i, steps in enumerate(self.train_steps):
            draws = steps * self.draws_per_step
            if self.plans is not None:
                own, replay = self.plans[i].own_draws, self.plans[i].replay_draws
            else:  # uniform over own + pool: each item alike
                share = len(self.own[i]) / max(len(self.items[i]), 1)
                own, replay = round(draws * share), draws - round(draws * share)
            out.append({"steps": steps, "own_draws": own, "replay_draws": replay, "records": len(self.own[i])})
        return out

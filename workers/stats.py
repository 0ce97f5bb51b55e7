"""Statistics for comparing students: intervals and paired tests (pure numpy/scipy; no Django).

Every quality claim the product or a benchmark makes carries a 95% interval and its n,
and every comparison is *paired*: two students scored on the same gold items (and, in an
experiment, over the same seeds). What lives here:

- ``wilson(successes, n)``: the Wilson score interval of a proportion (scipy's
  ``binomtest(...).proportion_ci("wilson")``).
- ``paired_bootstrap(a, b, statistic=...)``: a percentile interval of ``mean(a) - mean(b)``
  (``"difference"``) or ``mean(a) / mean(b)`` (``"ratio"``, e.g. quality retained) for
  scores ``a`` and ``b`` of shape ``[items]`` or ``[seeds, items]``. With seeds, items and
  seeds are resampled independently (a two-way bootstrap), so the interval carries both
  the noise of a finite gold set and the run-to-run noise of training; scipy's
  ``bootstrap`` resamples one axis only, hence the few lines of numpy here.
- ``bootstrap_mean(x)``: the interval of a mean (e.g. one arm's score over seeds).
- ``mcnemar_exact(a_correct, b_correct)`` / ``mcnemar_from_counts(b, c)``: the exact
  McNemar test on the discordant pairs (a two-sided binomial test, scipy's ``binomtest``).
- ``paired_permutation(a, b)``: a sign-flip permutation test of the mean paired
  difference (scipy's ``permutation_test``; exact when there are few items).

Resampling is seeded: the same inputs give the same interval on every machine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

STATISTICS = ("difference", "ratio")


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval, the confidence level and what it was computed from."""

    estimate: float
    low: float
    high: float
    n: int  # items (for a paired bootstrap: gold items; for a proportion: trials)
    level: float = 0.95
    seeds: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def ci(self) -> list[float]:
        return [self.low, self.high]

    def excludes(self, value: float) -> bool:
        """True when ``value`` lies outside the interval (e.g. zero for a difference)."""
        return value < self.low or value > self.high


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float
    n: int  # pairs (McNemar: discordant pairs; permutation: items)
    method: str

    def to_dict(self) -> dict:
        return asdict(self)


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")


def wilson(successes: int, n: int, level: float = 0.95) -> Interval:
    """The Wilson score interval of ``successes`` out of ``n``."""
    from scipy.stats import binomtest

    _check_level(level)
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return Interval(successes / n, float(ci.low), float(ci.high), int(n), level)


def _as_matrix(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] < 1 or arr.shape[0] < 1:
        raise ValueError(f"{name} must be scores of shape [items] or [seeds, items], got shape {np.shape(x)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds a missing or infinite score")
    return arr


def _weights(rng: np.random.Generator, n: int, resamples: int) -> np.ndarray:
    """[resamples, n] bootstrap weights: multinomial counts / n (a resample with replacement)."""
    if n == 1:
        return np.ones((resamples, 1))
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples) / n


def paired_bootstrap(
    a,
    b,
    *,
    statistic: str = "difference",
    n_resamples: int = 4000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile interval of ``mean(a) - mean(b)`` or ``mean(a) / mean(b)``, paired.

    ``a`` and ``b`` are per-item scores (1.0/0.0 for a correct/wrong answer, or any
    per-item metric) of the same items, shape ``[items]`` or ``[seeds, items]`` (row s:
    the students trained with seed s). Items are resampled together for both arms, and,
    with more than one seed, seeds are resampled too, independently of items.
    """
    _check_level(level)
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    if n_resamples < 100:
        raise ValueError(f"n_resamples must be at least 100, got {n_resamples}")
    A, B = _as_matrix(a, "a"), _as_matrix(b, "b")
    if A.shape != B.shape:
        raise ValueError(f"a and b must be paired (the same shape), got {A.shape} and {B.shape}")
    n_seeds, n_items = A.shape

    def stat(mean_a, mean_b):
        if statistic == "difference":
            return mean_a - mean_b
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(mean_b != 0, mean_a / np.where(mean_b != 0, mean_b, 1.0), np.nan)

    estimate = float(stat(A.mean(), B.mean()))
    rng = np.random.default_rng(seed)
    ws, wi = _weights(rng, n_seeds, n_resamples), _weights(rng, n_items, n_resamples)
    # mean over the resampled seeds x items grid = w_seeds @ scores @ w_items, per resample
    mean_a = np.einsum("rs,si,ri->r", ws, A, wi)
    mean_b = np.einsum("rs,si,ri->r", ws, B, wi)
    values = stat(mean_a, mean_b)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Interval(estimate, float("nan"), float("nan"), n_items, level, n_seeds)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(estimate, float(low), float(high), n_items, level, n_seeds)


def bootstrap_mean(x, *, n_resamples: int = 4000, level: float = 0.95, seed: int = 0) -> Interval:
    """Percentile interval of the mean of ``x`` (``[items]`` or ``[seeds, items]``, resampled like the paired one)."""
    X = _as_matrix(x, "x")
    return paired_bootstrap(X, np.zeros_like(X), n_resamples=n_resamples, level=level, seed=seed)


def mcnemar_from_counts(b: int, c: int) -> TestResult:
    """Exact McNemar: ``b`` pairs only the first got right, ``c`` only the second; two-sided.

    Under the null each discordant pair goes either way with probability 1/2, so the
    p-value is a two-sided binomial test of ``b`` out of ``b + c``.
    """
    from scipy.stats import binomtest

    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got {b} and {c}")
    n = int(b + c)
    p = 1.0 if n == 0 else float(binomtest(int(b), n, 0.5).pvalue)
    return TestResult(statistic=float(min(b, c)), p_value=min(p, 1.0), n=n, method="mcnemar_exact")


def mcnemar_exact(a_correct, b_correct) -> TestResult:
    """Exact McNemar on two paired boolean vectors (item i right or wrong for each model)."""
    A = np.asarray(a_correct, dtype=bool)
    B = np.asarray(b_correct, dtype=bool)
    if A.shape != B.shape or A.ndim != 1:
        raise ValueError(f"need two paired 1-D vectors, got shapes {A.shape} and {B.shape}")
    return mcnemar_from_counts(int((A & ~B).sum()), int((~A & B).sum()))


def paired_permutation(a, b, *, n_resamples: int = 9999, seed: int = 0) -> TestResult:
    """Two-sided sign-flip permutation test of the mean paired difference ``a - b``.

    ``a``/``b``: ``[items]`` or ``[seeds, items]`` (then each item's scores are averaged
    over seeds first: the item is the unit that is exchanged).
    """
    from scipy.stats import permutation_test

    A, B = _as_matrix(a, "a").mean(0), _as_matrix(b, "b").mean(0)
    if A.shape != B.shape:
        raise ValueError(f"a and b must be paired (the same shape), got {A.shape} and {B.shape}")
    diff = A - B
    if not diff.any():
        return TestResult(statistic=0.0, p_value=1.0, n=int(diff.size), method="paired_permutation")
    result = permutation_test(
        (A, B),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return TestResult(
        statistic=float(result.statistic),
        p_value=float(min(result.pvalue, 1.0)),
        n=int(diff.size),
        method="paired_permutation",
    )

"""Smoke run of bench/gold_overlap.py: what the gold guard would drop for each kind of gold set."""

import pytest

pytestmark = pytest.mark.slow


def test_the_gold_overlap_bench_counts_what_the_guard_would_drop():
    import bench.gold_overlap as bench

    out = bench.main(["--smoke"])
    for name in ("gold_templates", "gold_like_pool"):
        r = out[name]
        assert 0 <= r["pool_field_dropped"] <= r["pool_dropped"] <= out["pool"]
        assert 0 <= r["gold_without_near_duplicate"] <= r["gold"] == 40
    # the demo's gold shares no template with the pool: the guard has (almost) nothing to drop
    assert out["gold_templates"]["pool_dropped"] < out["gold_like_pool"]["pool_dropped"]


def test_its_threshold_is_the_products_default():
    from bench.gold_overlap import NEAR_THRESHOLD, is_field
    from curation.services.hygiene.settings import DEFAULTS
    from workers.demo.corpus import Ticket

    assert DEFAULTS["near_threshold"] == NEAR_THRESHOLD
    assert is_field(Ticket("t", "other", "r", "other.feedback.f1+aside.billing.f0"))
    assert not is_field(Ticket("t", "other", "r", "other.feedback.t1"))
    assert not is_field(Ticket("t", "technical", "r", "technical.feature_broken.t3+aside.other.t0"))

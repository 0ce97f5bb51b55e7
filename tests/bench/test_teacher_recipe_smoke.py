"""Smoke run of the demo teacher's recipe selection (tiny teachers: checks the keys and that gold is never read)."""

import pytest

pytestmark = pytest.mark.slow


def test_the_recipe_bench_scores_both_recipes_on_validation_only(monkeypatch):
    import bench.teacher_recipe as bench
    from workers.demo import corpus

    real = corpus.generate_tickets
    seeds_read = []

    def spy(n, seed=0, split="train"):
        seeds_read.append((seed, split))
        return real(n, seed, split)

    monkeypatch.setattr(bench, "generate_tickets", spy)  # field
    monkeypatch.setattr(corpus, "generate_tickets", spy)  # dev (corpus.dev_tickets)
    sets = bench.validation_sets(smoke=True)
    assert sets["dev"] and sets["field"]
    # gold's tickets are drawn only to be left out of dev: dev and field come from other seeds
    assert (corpus.GOLD_SEED, "gold") in seeds_read
    gold = {corpus.normalize(t.text) for t in real(400, corpus.GOLD_SEED, "gold")}
    assert not any(corpus.normalize(t.text) in gold for t in sets["dev"] + sets["field"])

    out = bench.main(["--smoke", "--seeds", "0"])
    assert set(out["by_recipe"]) == {"baseline", "adopted"}
    for split in ("dev", "field"):
        low, high = out["adopted_minus_baseline"][split]["ci95"]
        assert low <= out["adopted_minus_baseline"][split]["mean"] <= high
        assert out["n"][split] > 0

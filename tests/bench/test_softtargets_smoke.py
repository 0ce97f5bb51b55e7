"""Smoke runs of the two benches of issue 20 (tiny sizes: they check the keys, not the figures)."""

import pytest

pytestmark = pytest.mark.slow


def test_the_softtargets_bench_reports_every_kind():
    from bench.softtargets import main

    out = main(["--smoke"])
    assert set(out["bytes_per_token"]) == {"float", "compact", "sampled"}
    assert out["bytes_per_token"]["compact"] < out["bytes_per_token"]["float"] / 2
    assert out["reconstruction_kl"]["compact"] < 1e-2
    for key in ("compact_bytes_per_token", "compact_quality_delta", "sampled_vs_topk_quality"):
        assert key in out
    assert out["compact_quality_delta"]["seeds"] == 2


def test_the_teacher_server_bench_reports_every_concurrency():
    from bench.teacher_server import main

    out = main(["--smoke"])
    assert set(out["share_of_capacity"]) == {1, 8, 32, 64}
    assert out["with_503s"]["ok"] == out["with_503s"]["requests"] and out["with_503s"]["retries"] > 0
    assert out["tokens_per_s"][32] > out["tokens_per_s"][1]

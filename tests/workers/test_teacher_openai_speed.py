"""The openai backend keeps a server busy: a sliding window of requests, retries with backoff and
jitter, several prompts per request, and the server's numbers (bench/teacher_server.py's server)."""

import pytest

from bench.teacher_server import SimulatedServer
from workers.teacher import GenerationParams, GenerationRequest
from workers.teacher.openai_backend import BACKOFF_BASE_S, OpenAITeacher, ServerUnreachableError

PARAMS = GenerationParams(max_new_tokens=3, temperature=1.0, top_k=4, n=1)


def requests(n):
    return [GenerationRequest(key=i, prompt=f"prompt {i}", sample_index=0) for i in range(n)]


def teacher(server, **kw):
    t = OpenAITeacher(server.url, "sim", token_ids_in_response=True, **kw)
    t.sleeps = []
    t._sleep = t.sleeps.append
    return t


def test_results_come_in_request_order_with_every_slot_of_the_window_busy():
    with SimulatedServer(slots=64, step_s=0.01) as server:
        t = teacher(server, concurrency=8, batch_size=5)
        batches = []
        results = t.generate(requests(40), PARAMS, on_batch=lambda r, s: batches.append([x.key for x in r]))
        peak = server.peak
    assert [r.key for r in results] == list(range(40)) and all(r.ok for r in results)
    assert batches[0] == [0, 1, 2, 3, 4] and sum(len(b) for b in batches) == 40
    assert 6 <= peak <= 8  # most of the window in the server at once (no barrier), never more


def test_overloaded_answers_are_retried_after_a_jittered_backoff():
    with SimulatedServer(step_s=0.001, fail_every=3) as server:
        t = teacher(server, concurrency=1, max_retries=3)
        results = t.generate(requests(6), PARAMS)
        stats = t.server_stats()
    assert all(r.ok for r in results)
    assert stats["retries"] == server.failed == stats["errors"]["503"] >= 2
    # Every third request fails, so each retry is a first one: the base wait times [0.5, 1.5).
    assert len(t.sleeps) == stats["retries"]
    assert all(BACKOFF_BASE_S * 0.5 <= s < BACKOFF_BASE_S * 1.5 for s in t.sleeps)
    assert len(set(t.sleeps)) == len(t.sleeps)  # jitter: no two waits alike


def test_a_server_that_stays_down_ends_the_run_after_the_retries():
    t = OpenAITeacher("http://127.0.0.1:9/v1", "sim", max_retries=2, timeout=1)
    t.sleeps = []
    t._sleep = t.sleeps.append
    with pytest.raises(ServerUnreachableError, match="2 retries"):
        t.generate(requests(1), PARAMS)
    assert len(t.sleeps) == 2 and t.sleeps[1] > t.sleeps[0] * 0.5


def test_several_prompts_share_one_request_when_asked():
    with SimulatedServer(step_s=0.001) as server:
        t = teacher(server, concurrency=2, prompts_per_request=4)
        results = t.generate(requests(10), PARAMS)
        stats = t.server_stats()
    assert [r.key for r in results] == list(range(10)) and all(r.ok and r.token_count == 3 for r in results)
    assert server.requests == stats["requests"] == 3
    assert stats["prompts"] == 10 and stats["tokens"] == 30 and stats["tokens_per_s"] > 0


def test_scoring_keeps_the_same_window_open_across_batches(tiny_model_dir):
    from workers.teacher import ScoreRequest

    with SimulatedServer(slots=64, step_s=0.1) as server:
        t = OpenAITeacher(server.url, "sim", tokenizer=str(tiny_model_dir), concurrency=8, batch_size=3)
        batches = []
        asked = [ScoreRequest(key=i, prompt=f"prompt {i}", text=f"answer number {i}") for i in range(32)]
        results = t.score(asked, top_k=4, on_batch=lambda r, s: batches.append(len(r)))
        peak = server.peak
    assert [r.key for r in results] == list(range(32)) and all(r.ok and r.token_count > 0 for r in results)
    assert sum(batches) == 32 and max(batches) == 3
    # A barrier at every batch of 3 (the old scoring loop) never had more than 3 in the server.
    assert 6 <= peak <= 8


def test_a_server_teacher_refuses_sampled_soft_targets_clearly():
    from workers.teacher import ScoreRequest, UnsupportedFeatureError

    t = OpenAITeacher("http://127.0.0.1:9/v1", "sim")  # refused before any request
    sampled = GenerationParams(max_new_tokens=3, soft_targets="sampled")
    with pytest.raises(UnsupportedFeatureError, match="top-k soft targets, or a local"):
        t.generate(requests(1), sampled)
    with pytest.raises(UnsupportedFeatureError, match="whole distribution"):
        t.score([ScoreRequest(key=0, prompt="p", text="t")], draws=12)

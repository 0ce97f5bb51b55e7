import logging

import numpy as np
import pytest
import torch

from tests.workers.openai_server import TinyModelServer
from workers.teacher import (
    ClassifyRequest,
    GenerationParams,
    GenerationRequest,
    ScoreRequest,
    ServerUnreachableError,
    TeacherError,
    UnsupportedFeatureError,
    expand_requests,
    load_teacher,
)
from workers.teacher.hf import HFTeacher

pytestmark = pytest.mark.slow  # a tiny model behind an HTTP server generates and scores

PROMPTS = [("billing", "Ticket: refund request\nCategory:"), ("short", "How do I")]


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    with TinyModelServer(tiny_model_dir, api_key="sk-test-secret") as s:
        yield s


@pytest.fixture(scope="module")
def local(tiny_model_dir):
    return HFTeacher(str(tiny_model_dir))


def remote(server, tiny_model_dir, **extra):
    spec = {
        "backend": "openai",
        "base_url": server.url,
        "api_key": "sk-test-secret",
        "model": "tiny",
        "tokenizer": str(tiny_model_dir),
        **extra,
    }
    return load_teacher(spec)


def test_generation_returns_the_models_own_soft_targets(server, tiny_model_dir, local):
    teacher = remote(server, tiny_model_dir, token_ids_in_response=True)
    results = teacher.generate(expand_requests(PROMPTS, 2), GenerationParams(max_new_tokens=6, seed=3, top_k=5))
    assert [r.key for r in results] == [(k, i) for k, _ in PROMPTS for i in range(2)]
    for r in results:
        assert r.ok and r.token_count >= 1
        st = r.soft_targets
        prompt = dict(PROMPTS)[r.key[0]]
        ids = local.encode_prompt(prompt) + st.token_ids.tolist()
        with torch.inference_mode():
            lp = torch.log_softmax(local.model(input_ids=torch.tensor([ids])).logits[0].float(), -1).numpy()
        lp = lp[len(ids) - len(st) - 1 : len(ids) - 1]
        assert np.allclose(
            np.take_along_axis(lp, st.topk_ids.astype(np.int64), 1), st.topk_logprobs.astype(np.float32), atol=2e-2
        )
        assert np.allclose(st.token_logprob, lp[np.arange(len(st)), st.token_ids], atol=1e-4)
        assert r.stats["token_count"] == len(st)
    again = teacher.generate(expand_requests(PROMPTS, 2), GenerationParams(max_new_tokens=6, seed=3, top_k=5))
    assert [r.text for r in again] == [r.text for r in results]


def test_token_strings_map_back_to_ids_through_the_tokenizer(server, tiny_model_dir):
    by_id = remote(server, tiny_model_dir, token_ids_in_response=True)
    by_text = remote(server, tiny_model_dir)
    params = GenerationParams(temperature=0, max_new_tokens=8)
    [a] = by_id.generate([GenerationRequest("a", "How do I")], params)
    [b] = by_text.generate([GenerationRequest("a", "How do I")], params)
    assert a.text == b.text
    known = b.soft_targets.token_ids >= 0
    assert known.any()
    assert (b.soft_targets.token_ids[known] == a.soft_targets.token_ids[known]).all()


def test_stop_strings_and_finish_reasons(server, tiny_model_dir):
    teacher = remote(server, tiny_model_dir)
    params = GenerationParams(max_new_tokens=12, min_new_tokens=12, seed=1)
    [free] = teacher.generate([GenerationRequest("a", "How do I")], params)
    assert free.finish_reason == "length"
    stop = next(
        free.text[i : i + 2]
        for i in range(2, len(free.text) - 2)
        if free.text[i : i + 2].strip() and "\ufffd" not in free.text[i : i + 2]
    )
    params.stop = [stop]
    [stopped] = teacher.generate([GenerationRequest("a", "How do I")], params)
    assert stopped.finish_reason == "stop" and stopped.text == free.text[: free.text.find(stop)]


def test_the_chat_endpoint_works_too(server, tiny_model_dir):
    teacher = remote(server, tiny_model_dir, endpoint="chat")
    [r] = teacher.generate(
        [GenerationRequest("c", [{"role": "user", "content": "hello"}])], GenerationParams(max_new_tokens=4, top_k=3)
    )
    assert r.ok and r.soft_targets.k == 3 and 1 <= r.token_count <= 4
    assert server.requests[-1]["messages"] == [{"role": "user", "content": "hello"}]


def test_scoring_uses_prompt_logprobs_and_matches_the_local_model(server, tiny_model_dir, local):
    teacher = remote(server, tiny_model_dir)
    requests = [ScoreRequest("s", PROMPTS[0][1], " billing please")]
    [ours] = teacher.score(requests, top_k=5)
    [reference] = local.score(requests, top_k=5)
    assert ours.ok
    assert ours.soft_targets.token_ids.tolist() == reference.soft_targets.token_ids.tolist()
    assert ours.soft_targets.topk_ids.tolist() == reference.soft_targets.topk_ids.tolist()
    assert np.allclose(ours.soft_targets.token_logprob, reference.soft_targets.token_logprob, atol=1e-4)
    assert np.allclose(ours.soft_targets.tail_logprob, reference.soft_targets.tail_logprob, atol=1e-3)
    assert ours.soft_targets.token_ids[-1] == local.eos_id  # a scored text ends with the EOS position


def test_classification_over_the_server_sums_to_one(server, tiny_model_dir, local):
    labels = ["billing", "account"]
    teacher = remote(server, tiny_model_dir)
    [ours] = teacher.classify([ClassifyRequest("p", PROMPTS[0][1])], labels)
    [reference] = local.classify([ClassifyRequest("p", PROMPTS[0][1])], labels)
    assert sum(ours.distribution.values()) == pytest.approx(1.0)
    assert ours.predicted == reference.predicted
    assert ours.distribution["billing"] == pytest.approx(reference.distribution["billing"], abs=1e-4)


def test_a_server_without_prompt_logprobs_is_a_clear_error(tiny_model_dir):
    with TinyModelServer(tiny_model_dir, prompt_logprobs=False) as plain:
        teacher = load_teacher(
            {"backend": "openai", "base_url": plain.url, "model": "tiny", "tokenizer": str(tiny_model_dir)}
        )
        with pytest.raises(UnsupportedFeatureError, match="does not offer prompt log-probabilities"):
            teacher.score([ScoreRequest("s", "How", " do")])


def test_a_prompt_too_long_for_the_server_fails_alone(server, tiny_model_dir):
    teacher = remote(server, tiny_model_dir)
    results = teacher.generate(
        [GenerationRequest("long", "refund " * 400), GenerationRequest("ok", "How do I")],
        GenerationParams(max_new_tokens=2),
    )
    assert "maximum context length" in results[0].error
    assert results[1].ok


def test_an_unreachable_server_is_a_clear_error_without_the_key(caplog):
    teacher = load_teacher(
        {
            "backend": "openai",
            "base_url": "http://user:pw@127.0.0.1:9/v1",
            "api_key": "sk-very-secret",
            "model": "m",
            "timeout": 2,
        }
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(ServerUnreachableError) as info:
        teacher.generate([GenerationRequest("a", "hi")], GenerationParams(max_new_tokens=2))
    message = str(info.value)
    assert "cannot reach the teacher server at http://127.0.0.1:9/v1" in message
    assert "sk-very-secret" not in message and "pw" not in message
    assert "sk-very-secret" not in caplog.text


def test_a_wrong_api_key_is_refused_clearly(server, tiny_model_dir):
    teacher = remote(server, tiny_model_dir, api_key="sk-wrong")
    with pytest.raises(TeacherError, match="refused the API key"):
        teacher.generate([GenerationRequest("a", "hi")], GenerationParams(max_new_tokens=2))

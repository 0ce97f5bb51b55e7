import numpy as np
import pytest
import torch

from tests.genkit import assert_soft_targets_match
from workers.softtargets import ShardWriter, read_soft_targets
from workers.teacher import (
    CANCEL,
    ClassifyRequest,
    GenerationParams,
    GenerationRequest,
    ModelLoadError,
    ScoreRequest,
    expand_requests,
    load_teacher,
)
from workers.teacher.hf import HFTeacher

pytestmark = pytest.mark.slow  # generates and scores with a real (tiny) model

PROMPTS = [
    ("billing", "Ticket: refund request\nCategory:"),
    ("chat", [{"role": "user", "content": "hello"}]),
    ("short", "How do I"),
]


@pytest.fixture(scope="module")
def teacher(tiny_model_dir):
    return HFTeacher(str(tiny_model_dir), max_batch_size=8)


def forward_logprobs(teacher, prompt, token_ids):
    ids = teacher.encode_prompt(prompt) + list(token_ids)
    with torch.inference_mode():
        logits = teacher.model(input_ids=torch.tensor([ids])).logits[0].float()
    lp = torch.log_softmax(logits, -1)
    return lp[len(ids) - len(token_ids) - 1 : len(ids) - 1].numpy()


def assert_matches_forward(st, lp, k):
    top = np.sort(lp, axis=1)[:, ::-1][:, :k]
    assert np.allclose(st.topk_logprobs.astype(np.float32), top, atol=2e-2, rtol=1e-3)
    picked = np.take_along_axis(lp, st.topk_ids.astype(np.int64), axis=1)
    assert np.allclose(picked, st.topk_logprobs.astype(np.float32), atol=2e-2, rtol=1e-3)
    rows = np.arange(len(st))
    assert np.allclose(st.token_logprob, lp[rows, st.token_ids], atol=1e-4)
    outside = np.log1p(-np.exp(top.astype(np.float64)).sum(1))
    assert np.allclose(st.tail_logprob, outside, atol=1e-3)


def test_it_generates_n_samples_per_prompt_with_their_keys(teacher):
    requests = expand_requests(PROMPTS, 3)
    results = teacher.generate(requests, GenerationParams(n=3, max_new_tokens=6, seed=1))
    assert [r.key for r in results] == [r.key for r in requests]
    assert all(r.ok and 1 <= r.token_count <= 6 and r.finish_reason in ("length", "eos") for r in results)
    assert results[0].stats["token_count"] == results[0].token_count
    texts = {r.text for r in results if r.key[0] == "billing"}
    assert len(texts) > 1  # the samples of one prompt differ
    assert teacher.last_run.tokens == sum(r.token_count for r in results) and teacher.last_run.tokens_per_s > 0


def test_the_same_seed_gives_the_same_samples_whatever_the_batch(teacher):
    params = GenerationParams(max_new_tokens=8, seed=7)
    together = teacher.generate(expand_requests(PROMPTS, 2), params)
    alone = teacher.generate([GenerationRequest(key="x", prompt=PROMPTS[0][1], sample_index=1)], params)
    assert alone[0].soft_targets.token_ids.tolist() == together[1].soft_targets.token_ids.tolist()
    again = teacher.generate(expand_requests(PROMPTS, 2), params)
    assert [r.text for r in again] == [r.text for r in together]
    other = teacher.generate(expand_requests(PROMPTS, 2), GenerationParams(max_new_tokens=8, seed=8))
    assert [r.text for r in other] != [r.text for r in together]


def test_max_tokens_is_honoured_exactly_with_min_tokens(teacher):
    params = GenerationParams(max_new_tokens=5, min_new_tokens=5, seed=2)
    results = teacher.generate(expand_requests(PROMPTS, 1), params)
    assert all(r.token_count == 5 and r.finish_reason == "length" for r in results)


def test_a_tiny_top_p_samples_the_greedy_token(teacher):
    greedy = teacher.generate(expand_requests(PROMPTS, 1), GenerationParams(temperature=0, max_new_tokens=6))
    nucleus = teacher.generate(expand_requests(PROMPTS, 1), GenerationParams(top_p=1e-6, max_new_tokens=6, seed=3))
    assert [r.text for r in nucleus] == [r.text for r in greedy]


def test_it_stops_at_a_stop_string(teacher):
    params = GenerationParams(max_new_tokens=20, min_new_tokens=20, seed=4)
    [free] = teacher.generate([GenerationRequest("a", PROMPTS[0][1])], params)
    text = free.text
    stop = next(
        text[i : i + 2] for i in range(3, len(text) - 2) if text[i : i + 2].strip() and "\ufffd" not in text[i : i + 2]
    )
    params.stop = [stop]
    [stopped] = teacher.generate([GenerationRequest("a", PROMPTS[0][1])], params)
    assert stopped.finish_reason == "stop"
    assert stopped.text == text[: text.find(stop)]
    assert stopped.token_count < 20


@pytest.mark.parametrize("fmt", ["v1", "v2"])
def test_soft_targets_round_trip_and_equal_a_forward_pass(teacher, tmp_path, fmt):
    params = GenerationParams(max_new_tokens=10, seed=5, top_k=7, temperature=0.7, top_p=0.9)
    results = teacher.generate(expand_requests(PROMPTS, 2), params)
    writer = ShardWriter(tmp_path, "gen", format=fmt)
    for r in results:
        writer.add(f"{r.key[0]}-{r.key[1]}", r.soft_targets)
    pointers = writer.flush()
    for r in results:
        st = read_soft_targets(tmp_path, pointers[f"{r.key[0]}-{r.key[1]}"])
        assert st.k == 7 and len(st) == r.token_count
        lp = forward_logprobs(teacher, dict(PROMPTS)[r.key[0]], st.token_ids)
        # v1 keeps float16 values exactly; v2's 6-bit values are checked as distributions (genkit).
        (assert_matches_forward(st, lp, 7) if fmt == "v1" else assert_soft_targets_match(st, lp))


def test_a_sampled_generation_stores_rs_kd_draws_from_the_teachers_distribution(teacher, tmp_path):
    params = GenerationParams(max_new_tokens=12, seed=5, top_k=7, soft_targets="sampled", draws=12)
    results = teacher.generate(expand_requests(PROMPTS, 2), params)
    again = teacher.generate(expand_requests(PROMPTS, 2), params)
    topk = teacher.generate(expand_requests(PROMPTS, 2), GenerationParams(max_new_tokens=12, seed=5, top_k=7))
    writer = ShardWriter(tmp_path, "gen")
    for r in results:
        writer.add(f"{r.key[0]}-{r.key[1]}", r.soft_targets)
    pointers = writer.flush()
    for r, r2, plain in zip(results, again, topk):
        assert r.text == plain.text and r.stats == pytest.approx(plain.stats)  # same text, stats from the top-k
        st = read_soft_targets(tmp_path, pointers[f"{r.key[0]}-{r.key[1]}"])
        assert st.k == 0 and st.sample_ids.shape == (len(st), 12)
        assert np.array_equal(st.sample_ids, r2.soft_targets.sample_ids)  # seeded per request
        assert np.allclose(st.sample_logw, np.log(1 / 12), atol=2e-3)  # beta = 1: weights 1/m
        assert st.sample_ids.min() >= 0 and st.sample_ids.max() < teacher.model.config.vocab_size
    # That the draws follow the teacher's distribution: test_sampled_targets.py (draw_targets).


def test_scoring_can_store_rs_kd_draws(teacher):
    request = ScoreRequest("edit", PROMPTS[0][1], " billing")
    plain = teacher.score([request], top_k=5)[0]
    sampled = teacher.score([request], top_k=5, draws=12)[0]
    assert (
        sampled.ok
        and sampled.soft_targets.k == 0
        and sampled.soft_targets.sample_ids.shape == (len(plain.soft_targets), 12)
    )
    assert sampled.stats == pytest.approx(plain.stats)
    assert np.array_equal(sampled.soft_targets.token_ids, plain.soft_targets.token_ids)


def test_scoring_teacher_forces_the_given_text(teacher):
    requests = [
        ScoreRequest("edit", PROMPTS[0][1], " billing"),
        ScoreRequest("gold", PROMPTS[1][1], " Hi! How can I help"),
    ]
    results = teacher.score(requests, top_k=5)
    for req, res in zip(requests, results):
        assert res.ok and res.soft_targets.token_ids.tolist() == teacher.encode_text(req.text) + [teacher.eos_id]
        assert_matches_forward(res.soft_targets, forward_logprobs(teacher, req.prompt, res.soft_targets.token_ids), 5)
        assert res.stats["token_count"] == len(res.soft_targets)


def test_a_scored_edit_s_soft_targets_end_with_the_eos_position(teacher):
    # An edit is a whole answer: the student trained on it must learn to stop after it.
    [res] = teacher.score([ScoreRequest("edit", PROMPTS[0][1], " billing")], top_k=5)
    st = res.soft_targets
    assert st.token_ids[-1] == teacher.eos_id and len(st) == len(teacher.encode_text(" billing")) + 1
    eos_logprob = forward_logprobs(teacher, PROMPTS[0][1], st.token_ids)[-1, teacher.eos_id]
    assert st.token_logprob[-1] == pytest.approx(float(eos_logprob), abs=1e-4)


def test_classification_gives_a_distribution_over_the_labels(teacher):
    labels = ["billing", "account", "technical"]
    results = teacher.classify([ClassifyRequest(k, p) for k, p in PROMPTS], labels)
    for (key, prompt), res in zip(PROMPTS, results):
        assert res.key == key and set(res.distribution) == set(labels)
        assert sum(res.distribution.values()) == pytest.approx(1.0)
        assert res.predicted == max(res.distribution, key=res.distribution.get)
        ranked = sorted(res.distribution.values(), reverse=True)
        assert res.margin == pytest.approx(ranked[0] - ranked[1])
        ids = teacher.encode_text(" account")
        direct = forward_logprobs(teacher, prompt, ids)[np.arange(len(ids)), ids].sum()
        assert res.label_logprobs["account"] == pytest.approx(float(direct), abs=1e-4)


def test_out_of_memory_halves_the_batch_instead_of_failing(tiny_model_dir, monkeypatch):
    teacher = HFTeacher(str(tiny_model_dir), max_batch_size=8)
    real_forward = teacher.model.forward
    seen = []

    def forward(*args, **kwargs):
        batch = (kwargs.get("input_ids") if kwargs.get("input_ids") is not None else args[0]).shape[0]
        seen.append(batch)
        if batch > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(teacher.model, "forward", forward)
    results = teacher.generate(expand_requests(PROMPTS, 2), GenerationParams(max_new_tokens=3))
    assert all(r.ok for r in results) and len(results) == 6
    assert max(seen) > 2 and teacher._backoff.size <= 2
    scored = teacher.score([ScoreRequest(k, p, " ok") for k, p in PROMPTS])
    assert all(r.ok for r in scored)


def test_a_prompt_longer_than_the_context_fails_alone(teacher):
    long_prompt = "refund " * 400
    results = teacher.generate(
        [GenerationRequest("long", long_prompt), GenerationRequest("ok", "How do I")],
        GenerationParams(max_new_tokens=3),
    )
    assert "exceeds the model's context of 256 tokens" in results[0].error
    assert results[1].ok and results[1].token_count > 0
    scored = teacher.score([ScoreRequest("long", long_prompt, " x"), ScoreRequest("ok", "How", " do")])
    assert scored[0].error and scored[1].ok
    classified = teacher.classify([ClassifyRequest("long", long_prompt), ClassifyRequest("ok", "How")], ["a", "b"])
    assert classified[0].error and classified[1].ok


def test_a_bad_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_teacher({"backend": "transformers", "name_or_path": str(tmp_path / "missing")})
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="cannot load teacher model"):
        load_teacher({"backend": "transformers", "name_or_path": str(tmp_path / "empty")})


def test_the_callback_sees_every_batch_and_can_cancel(tiny_model_dir):
    teacher = HFTeacher(str(tiny_model_dir), max_batch_size=2)
    batches = []

    def on_batch(results, stats):
        batches.append([r.key for r in results])
        assert stats.done == sum(len(b) for b in batches)
        return CANCEL if len(batches) == 2 else None

    results = teacher.generate(expand_requests(PROMPTS, 2), GenerationParams(max_new_tokens=2), on_batch=on_batch)
    assert len(batches) == 2 and len(results) == 4
    assert teacher.last_run.cancelled
    assert {r.key for r in results} == {k for b in batches for k in b}


def test_single_token_labels_are_scored_in_one_forward_per_prompt(teacher):
    candidates = ["a", "I", "the", "my", "to", "is", "app", "page", "billing", "account"]
    labels = [w for w in candidates if len(teacher.encode_text(" " + w)) == 1][:3]
    assert len(labels) >= 2, "the tiny tokenizer should have single-token words"
    calls = []
    real_forward = teacher.model.forward

    def counting(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return real_forward(*args, **kwargs)

    teacher.model.forward = counting
    try:
        results = teacher.classify([ClassifyRequest(k, p) for k, p in PROMPTS], labels)
    finally:
        teacher.model.forward = real_forward
    assert sum(calls) == len(PROMPTS)  # one row per prompt, not one per (prompt, label)
    for (_key, prompt), res in zip(PROMPTS, results):
        assert sum(res.distribution.values()) == pytest.approx(1.0)
        for label in labels:
            ids = teacher.encode_text(" " + label)
            direct = forward_logprobs(teacher, prompt, ids)[0, ids[0]]
            assert res.label_logprobs[label] == pytest.approx(float(direct), abs=1e-4)

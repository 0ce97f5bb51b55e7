import json
import os

import numpy as np
import pytest
from safetensors import safe_open

from workers.softtargets import (
    ShardWriter,
    SoftTargetError,
    SoftTargets,
    json_bytes,
    read_soft_targets,
    summarize,
    tail_logprob_from_topk,
)


def make(t=5, k=4, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(t, 50)).astype(np.float32)
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ids = np.argsort(-lp, axis=1)[:, :k]
    top = np.take_along_axis(lp, ids, 1)
    chosen = ids[:, 0]
    return SoftTargets(
        token_ids=chosen,
        topk_ids=ids,
        topk_logprobs=top,
        tail_logprob=tail_logprob_from_topk(top),
        token_logprob=top[:, 0],
    ), lp


def test_it_round_trips_samples_through_a_v1_shard_exactly(tmp_path):
    a, _ = make(seed=1)
    b, _ = make(t=3, seed=2)
    writer = ShardWriter(tmp_path, "job7", format="v1")
    writer.add("p1-s0", a)
    writer.add("p2-s0", b)
    pointers = writer.flush()
    assert pointers["p1-s0"] == "shards/job7-00000.safetensors#p1-s0"
    back = read_soft_targets(tmp_path, pointers["p2-s0"])
    for field in ("token_ids", "topk_ids", "topk_logprobs", "tail_logprob", "token_logprob"):
        assert np.array_equal(getattr(back, field), getattr(b, field))
    assert back.topk_ids.dtype == np.int32 and back.topk_logprobs.dtype == np.float16


def test_new_shards_are_v2_and_keep_every_field_within_its_quantisation(tmp_path):
    a, _ = make(seed=1)
    b, _ = make(t=3, seed=2)
    writer = ShardWriter(tmp_path, "job7")
    writer.add("p1-s0", a)
    writer.add("p2-s0", b)
    pointers = writer.flush()
    assert pointers["p2-s0"] == "shards/job7-00000.safetensors#p2-s0"
    with safe_open(tmp_path / "shards" / "job7-00000.safetensors", framework="numpy") as fh:
        assert fh.metadata()["format"] == "softtargets-v2"
    back = read_soft_targets(tmp_path, pointers["p2-s0"])
    assert np.array_equal(back.token_ids, b.token_ids) and np.array_equal(back.topk_ids, b.topk_ids)
    assert np.allclose(back.topk_logprobs, b.topk_logprobs, atol=0.05)
    assert np.allclose(back.tail_logprob, b.tail_logprob, atol=0.05)
    assert np.allclose(back.token_logprob, b.token_logprob, atol=5e-3)  # float16
    assert summarize(back)["mean_logprob"] == pytest.approx(summarize(b)["mean_logprob"], abs=5e-3)


def test_a_v2_flush_of_several_widths_writes_one_shard_per_width(tmp_path):
    writer = ShardWriter(tmp_path, "job")
    writer.add("k4", make(k=4)[0])
    writer.add("k8", make(k=8)[0])
    pointers = writer.flush()
    assert pointers["k4"].split("#")[0] != pointers["k8"].split("#")[0]
    assert read_soft_targets(tmp_path, pointers["k4"]).k == 4 and read_soft_targets(tmp_path, pointers["k8"]).k == 8


def test_a_v1_shard_refuses_sampled_targets_rather_than_dropping_them(tmp_path):
    st, _ = make()
    st.sample_ids, st.sample_logw = np.zeros((5, 2), np.int32), np.zeros((5, 2), np.float32)
    with pytest.raises(SoftTargetError, match="need v2"):
        ShardWriter(tmp_path, "job", format="v1").add("x", st)


def test_it_never_rewrites_an_existing_shard(tmp_path):
    a, _ = make()
    first = ShardWriter(tmp_path, "job")
    first.add("x", a)
    p1 = first.flush()["x"]
    before = (tmp_path / "shards" / "job-00000.safetensors").read_bytes()
    second = ShardWriter(tmp_path, "job")  # a resumed job with the same prefix
    second.add("x", make(seed=5)[0])
    p2 = second.flush()["x"]
    assert p1 != p2
    assert (tmp_path / "shards" / "job-00000.safetensors").read_bytes() == before
    assert not [f for f in os.listdir(tmp_path / "shards") if f.startswith(".tmp")]


def test_it_hands_out_pointers_only_for_flushed_data(tmp_path):
    writer = ShardWriter(tmp_path, "job")
    writer.add("x", make()[0])
    assert writer.pending == 1
    assert list((tmp_path / "shards").iterdir()) == []


def test_it_explains_bad_pointers(tmp_path):
    with pytest.raises(SoftTargetError, match="not a soft-target pointer"):
        read_soft_targets(tmp_path, "elsewhere/x.bin#k")
    with pytest.raises(SoftTargetError, match="does not exist"):
        read_soft_targets(tmp_path, "shards/nope-00000.safetensors#k")
    writer = ShardWriter(tmp_path, "job")
    writer.add("x", make()[0])
    pointer = writer.flush()["x"]
    with pytest.raises(SoftTargetError, match="holds no sample"):
        read_soft_targets(tmp_path, pointer.replace("#x", "#y"))


def test_it_refuses_keys_that_would_break_tensor_names(tmp_path):
    with pytest.raises(SoftTargetError, match="sample key"):
        ShardWriter(tmp_path, "job").add("a/b", make()[0])


def test_the_tail_is_the_mass_outside_the_top_k():
    st, lp = make(k=4)
    outside = np.log(np.exp(lp).sum(-1) - np.exp(st.topk_logprobs.astype(np.float64)).sum(-1))
    assert np.allclose(st.tail_logprob, outside, atol=2e-3)
    full = tail_logprob_from_topk(np.log(np.full((1, 4), 0.25, dtype=np.float32)))
    assert full[0] == pytest.approx(-30.0)


def test_summary_statistics_follow_their_definitions():
    st, _lp = make(k=4)
    s = summarize(st)
    p = np.exp(st.topk_logprobs.astype(np.float32))
    tail = st.tail_logprob
    entropy = (-(p * np.log(p)).sum(1) - np.exp(tail) * tail).mean()
    assert s["token_count"] == 5
    assert s["mean_logprob"] == pytest.approx(float(st.token_logprob.mean()))
    assert s["mean_entropy"] == pytest.approx(float(entropy), rel=1e-4)
    margin = st.topk_logprobs[:, 0].astype(np.float32) - st.topk_logprobs[:, 1].astype(np.float32)
    assert s["min_margin"] == pytest.approx(float(margin.min()))


def test_summary_without_token_logprobs_uses_the_top_k_value():
    st, _ = make(k=4)
    st.token_logprob = None
    assert summarize(st)["mean_logprob"] == pytest.approx(float(st.topk_logprobs[:, 0].astype(np.float32).mean()))


def test_shards_are_smaller_than_json():
    st, _ = make(t=50, k=20)
    assert st.nbytes() < json_bytes(st)
    assert json.loads(json.dumps(st.to_json_obj()))["topk_ids"][0] == st.topk_ids[0].tolist()


def test_v2_reads_stay_right_after_shard_handles_are_evicted_and_freed(tmp_path):
    # The v2 key index was cached by id(handle); a handle evicted from the LRU cache and freed let a
    # new handle reuse its id and read with the old shard's index ("holds no sample").
    writer = ShardWriter(tmp_path, "job1")
    pointers = []
    for i in range(80):
        writer.add(f"p{i}-s0", make(t=3, seed=i)[0])
        pointers += writer.flush().values()
    for _ in range(2):
        for pointer in pointers:
            assert len(read_soft_targets(tmp_path, pointer)) == 3

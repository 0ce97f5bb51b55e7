import gzip
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from curation.models import Prompt
from curation.services.datasets import exports
from workers.softtargets import ShardWriter, SoftTargets, read_soft_targets

NASTY = 'Quotes " and \\ backslashes, a\nnewline, a\ttab, \x01\x1f control, é ü 中文 🙂, \u2028 and </script>'
OPENAI_ROLES = {"system", "user", "assistant", "tool"}


@pytest.fixture
def snapshot(project, approved, build, artifact_dir):
    writer = ShardWriter(artifact_dir, "fmt")
    st = SoftTargets(
        np.array([11, 12, 13]),
        np.array([[11, 3], [12, 4], [13, 5]]),
        np.array([[-0.05, -3.5], [-0.5, -1.0], [-0.01, -6.0]]),
        np.array([-4.0, -1.5, -7.0]),
        np.array([-0.05, -0.5, -0.01]),
    )
    writer.add("s1", st)
    pointer = writer.flush()["s1"]
    approved(NASTY, "Answer with " + NASTY, soft_targets=pointer, tier=project.tiers.get(name="hard"), grade=4)
    chat = Prompt.objects.create(
        project=project,
        messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": 'Hi "there"'}],
    )
    approved("", "Hello.", prompt=chat)
    chat_no_system = Prompt.objects.create(project=project, messages=[{"role": "user", "content": "Ping?"}])
    approved("", "Pong.", prompt=chat_no_system)
    for i in range(7):
        approved(f"plain question {i}")
    snap = build(
        project, validation_fraction=0.3, seed=1, include_soft_targets=True, system_prompt="You answer support tickets."
    )
    snap.pointer, snap.soft = pointer, st
    return snap


def path_of(artifact_dir, snapshot, name):
    return artifact_dir / snapshot.files[name]


def test_jsonl_parses_line_by_line_with_prompt_completion_and_metadata(snapshot, artifact_dir):
    rows = []
    for split in ("train", "validation"):
        for line in path_of(artifact_dir, snapshot, f"{split}.jsonl").read_bytes().split(b"\n")[:-1]:
            row = json.loads(line)
            assert row["split"] == split
            rows.append(row)
    assert len(rows) == snapshot.row_count == 10
    nasty = next(r for r in rows if r["prompt"] == NASTY)
    assert nasty["completion"] == "Answer with " + NASTY
    assert (nasty["tier"], nasty["grade"], nasty["stage"], nasty["edited"]) == ("hard", 4, "stage 1", False)
    assert isinstance(nasty["example_id"], int)
    assert next(r for r in rows if r["completion"] == "Hello.")["prompt"] == 'system: Be terse.\nuser: Hi "there"'


def test_gzip_files_hold_exactly_the_plain_bytes(snapshot, artifact_dir):
    for fmt in ("jsonl", "chat.jsonl"):
        for split in ("train", "validation"):
            plain = path_of(artifact_dir, snapshot, f"{split}.{fmt}").read_bytes()
            assert gzip.decompress(path_of(artifact_dir, snapshot, f"{split}.{fmt}.gz").read_bytes()) == plain


def test_chat_lines_are_valid_openai_fine_tuning_records(snapshot, artifact_dir):
    # Split on "\n" only: str.splitlines() would also split inside a string at a raw U+2028.
    records = [
        json.loads(line)
        for split in ("train", "validation")
        for line in path_of(artifact_dir, snapshot, f"{split}.chat.jsonl").read_text().split("\n")[:-1]
    ]
    assert len(records) == 10
    for record in records:
        assert set(record) == {"messages"}
        messages = record["messages"]
        assert all(
            set(m) == {"role", "content"} and m["role"] in OPENAI_ROLES and isinstance(m["content"], str)
            for m in messages
        )
        assert messages[-1]["role"] == "assistant" and any(m["role"] == "user" for m in messages)
        assert sum(m["role"] == "system" for m in messages) == 1
    by_answer = {r["messages"][-1]["content"]: r["messages"] for r in records}
    # The prompt's own system turn wins; the snapshot's system prompt fills in where there is none.
    assert by_answer["Hello."][0] == {"role": "system", "content": "Be terse."}
    assert by_answer["Pong."] == [
        {"role": "system", "content": "You answer support tickets."},
        {"role": "user", "content": "Ping?"},
        {"role": "assistant", "content": "Pong."},
    ]
    assert by_answer["Answer with " + NASTY][1] == {"role": "user", "content": NASTY}


def test_parquet_reads_back_with_pyarrow_including_soft_targets(snapshot, artifact_dir):
    tables = [pq.read_table(path_of(artifact_dir, snapshot, f"{split}.parquet")) for split in ("train", "validation")]
    assert sum(t.num_rows for t in tables) == 10
    rows = [r for t in tables for r in t.to_pylist()]
    nasty = next(r for r in rows if r["prompt"] == NASTY)
    st = read_soft_targets(artifact_dir, snapshot.pointer)
    assert nasty["token_ids"] == st.token_ids.tolist()
    assert nasty["topk_ids"] == st.topk_ids.tolist()
    assert np.allclose(np.array(nasty["topk_logprobs"], dtype=np.float32), st.topk_logprobs.astype(np.float32))
    assert np.allclose(nasty["tail_logprob"], st.tail_logprob) and np.allclose(nasty["token_logprob"], st.token_logprob)
    others = [r for r in rows if r["prompt"] != NASTY]
    assert all(r["token_ids"] is None and r["topk_ids"] is None for r in others)
    chat = next(r for r in rows if r["completion"] == "Hello.")
    assert chat["prompt_messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": 'Hi "there"'},
    ]
    metadata = tables[0].schema.metadata
    assert metadata[b"curation.content_hash"].decode() == snapshot.content_hash


def test_every_file_loads_with_hugging_face_datasets(snapshot, artifact_dir, tmp_path):
    datasets = pytest.importorskip("datasets")
    cache = str(tmp_path / "hf-cache")
    files = {split: str(path_of(artifact_dir, snapshot, f"{split}.jsonl")) for split in ("train", "validation")}
    ds = datasets.load_dataset("json", data_files=files, cache_dir=cache)
    assert ds["train"].num_rows == snapshot.train_count and ds["validation"].num_rows == snapshot.validation_count
    assert set(ds["train"].column_names) >= {"prompt", "completion", "split", "tier", "stage"}
    chat = datasets.load_dataset(
        "json",
        data_files={s: str(path_of(artifact_dir, snapshot, f"{s}.chat.jsonl.gz")) for s in files},
        cache_dir=cache,
    )
    assert chat["train"][0]["messages"][-1]["role"] == "assistant"
    parquet = datasets.load_dataset(
        "parquet", data_files={s: str(path_of(artifact_dir, snapshot, f"{s}.parquet")) for s in files}, cache_dir=cache
    )
    assert parquet["train"].num_rows + parquet["validation"].num_rows == 10
    assert "topk_logprobs" in parquet["train"].column_names


def test_the_database_rebuilds_each_file_byte_for_byte(snapshot, artifact_dir):
    for split in ("train", "validation"):
        for fmt in ("jsonl", "chat"):
            streamed = b"".join(exports.iter_lines(snapshot, fmt, split, chunk_bytes=64))
            assert streamed == path_of(artifact_dir, snapshot, exports.file_name(fmt, split)).read_bytes()
            packed = b"".join(exports.gzip_chunks(exports.iter_lines(snapshot, fmt, split, chunk_bytes=64)))
            assert packed == path_of(artifact_dir, snapshot, exports.file_name(fmt, split, gzip=True)).read_bytes()


def test_database_lines_are_exactly_what_python_json_writes(snapshot):
    """SQLite's json_quote and PostgreSQL's to_json escape like json.dumps: same bytes on both databases."""
    for split in ("train", "validation"):
        for line in b"".join(exports.iter_lines(snapshot, "jsonl", split)).decode().split("\n")[:-1]:
            assert line == json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))


def test_an_empty_split_gives_empty_but_valid_files(project, approved, build, artifact_dir):
    approved("only one")
    snap = build(project, validation_fraction=0)
    assert path_of(artifact_dir, snap, "validation.jsonl").read_bytes() == b""
    assert gzip.decompress(path_of(artifact_dir, snap, "validation.jsonl.gz").read_bytes()) == b""
    assert pq.read_table(path_of(artifact_dir, snap, "validation.parquet")).num_rows == 0

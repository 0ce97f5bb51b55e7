import json
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest

from curation.models import GoldItem, Job, Prompt, Snapshot, SnapshotRow
from curation.normalize import content_hash
from curation.services import jobs
from curation.services.datasets import snapshot_dir, snapshot_job, snapshots
from curation.services.errors import Invalid
from curation.services.review import decisions as review
from tests.factories import ExampleFactory, ProjectFactory, PromptFactory
from workers.softtargets import ShardWriter, SoftTargets


def rows_of(snapshot):
    return list(SnapshotRow.objects.filter(snapshot=snapshot).order_by("split", "row_hash"))


def jsonl(artifact_dir, snapshot, name="train.jsonl"):
    return [json.loads(line) for line in (artifact_dir / snapshot.files[name]).read_text().splitlines()]


# ------------------------------------------------------------------ gold guard
def test_a_gold_prompt_and_its_normalised_duplicates_are_excluded(project, approved, build, artifact_dir):
    gold = approved("What is the refund window for annual plans?")
    GoldItem.objects.create(project=project, prompt=gold.prompt, reference="30 days.")
    # A one-turn chat of the same question in another case, spacing and Unicode form, stored
    # as a prompt of its own before one-turn chats were folded (migration 0011 keeps it as a twin).
    turns = [{"role": "user", "content": "  WHAT is the refund\u00a0window  for ANNUAL plans\uff1f "}]
    twin = approved("unused", prompt=Prompt.objects.create(project=project, messages=turns, twin_of=gold.prompt))
    keep = approved("A different question about refunds?")
    snap = build(project)
    assert snap.excluded == {"gold_prompt": 1, "gold_duplicate": 1}
    assert [r.example_id for r in rows_of(snap)] == [keep.id]
    texts = {row["prompt"] for row in jsonl(artifact_dir, snap)}
    assert texts == {"A different question about refunds?"}
    assert twin.prompt.content_hash == gold.prompt.content_hash


def test_an_unconfirmed_gold_candidate_is_kept_out_too(project, approved, build):
    candidate = approved("Imported with a reference")
    GoldItem.objects.create(project=project, prompt=candidate.prompt, reference="Ref", confirmed=False)
    approved("Ordinary")
    assert build(project).excluded == {"gold_prompt": 1}


def test_another_projects_gold_does_not_exclude_anything_here(project, approved, build):
    other = ProjectFactory()
    shared = "Same words in two projects"
    GoldItem.objects.create(project=other, prompt=PromptFactory(project=other, text=shared), reference="x")
    approved(shared)
    assert build(project).row_count == 1


# ------------------------------------------------------------- what gets in
def test_only_approved_examples_of_the_stage_go_in_and_the_rest_is_counted(project, approved, build, stage1):
    approved("yes 1")
    approved("yes 2")
    approved("pending", status="pending")
    approved("rejected", status="rejected")
    approved("other stage", stage=project.stages.get(name="stage 2"))
    snap = build(project)
    assert snap.status == "ready" and snap.row_count == 2
    assert snap.excluded == {"not_approved": 2}


def test_a_filter_snapshot_takes_the_review_queues_rows(project, approved, build):
    hard = project.tiers.get(name="hard")
    approved("hard one", tier=hard)
    approved("easy one", tier=project.tiers.get(name="easy"))
    snap = build(project, filter={"tier": "hard", "order": "newest"})
    assert snap.row_count == 1 and rows_of(snap)[0].tier == "hard"
    assert snap.filter == {"tier": "hard"}
    assert snap.manifest["selection"]["filter"] == {"tier": "hard"}


def test_the_same_completion_twice_for_one_prompt_is_kept_once(project, approved, build):
    first = approved("Q", "Same answer.")
    approved("ignored", "Same answer.", prompt=first.prompt)
    approved("ignored", "Another answer.", prompt=first.prompt)
    snap = build(project)
    assert snap.row_count == 2 and snap.excluded == {"duplicate": 1}


def test_an_approved_example_with_an_empty_response_is_left_out(project, approved, build):
    approved("Q", " ")
    assert build(project).excluded == {"empty_completion": 1}


def test_an_edit_is_the_completion_and_its_stale_soft_targets_are_not_used(project, approved, build, engineer):
    example = approved("Q", "Teacher text.", soft_targets="shards/x-00000.safetensors#k")
    review.edit(example, engineer, example.version, "Human text.")
    row = rows_of(build(project, include_soft_targets=True))[0]
    assert (row.response, row.edited, row.soft_targets) == ("Human text.", True, "")


def test_classification_completions_are_labels_with_the_teachers_distribution(build, engineer, artifact_dir):
    from curation.models import TeacherSample

    project = ProjectFactory(task_type="classification", labels=["billing", "bug"])
    stage = project.stages.get(name="stage 1")
    sample = TeacherSample.objects.create(
        prompt=PromptFactory(project=project, text="Charged twice"),
        label_distribution={"bug": 0.25, "billing": 0.75},
        predicted_label="billing",
    )
    ExampleFactory(prompt=sample.prompt, sample=sample, status="approved", stage=stage, response="billing", label="")
    ExampleFactory(prompt=PromptFactory(project=project, text="No label"), status="approved", stage=stage, label="")
    snap = build(project)
    assert snap.excluded == {"no_label": 1}
    row = rows_of(snap)[0]
    assert (row.response, row.label, row.label_distribution) == ("billing", "billing", {"billing": 0.75, "bug": 0.25})
    line = jsonl(artifact_dir, snap, f"{row.split}.jsonl")[0]
    assert line["completion"] == "billing" and line["prompt"] == "Charged twice"
    parquet = pq.read_table(artifact_dir / snap.files[f"{row.split}.parquet"])
    assert parquet.column("label_distribution").to_pylist() == [[0.75, 0.25]]
    assert json.loads(parquet.schema.metadata[b"curation.labels"]) == ["billing", "bug"]
    assert snap.manifest["options"]["labels"] == ["billing", "bug"]


# ----------------------------------------------------------- hash and split
def test_building_the_same_rows_twice_gives_the_same_hash_and_shares_the_files(project, approved, build):
    for i in range(12):
        approved(f"question {i}?")
    first = build(project, validation_fraction=0.3)
    second = build(project, validation_fraction=0.3)
    assert first.pk != second.pk and len(first.content_hash) == 64
    assert first.content_hash == second.content_hash
    assert snapshot_dir(first.content_hash).is_dir() and first.files == second.files


def test_the_hash_and_files_do_not_depend_on_the_order_rows_were_stored_in(project, approved, build, artifact_dir):
    for i in range(15):
        approved(f"question {i}?")
    snap = build(project, validation_fraction=0.3)
    before = {name: (artifact_dir / path).read_bytes() for name, path in snap.files.items()}
    # Store the same rows in the opposite order, then hash and write the files again.
    rows = list(SnapshotRow.objects.filter(snapshot=snap).order_by("ordinal"))
    SnapshotRow.objects.filter(snapshot=snap).delete()
    for ordinal, row in enumerate(reversed(rows)):
        row.pk, row.ordinal = None, ordinal
        row.save()
    assert snapshot_job.compute_content_hash(snap) == snap.content_hash
    import shutil

    shutil.rmtree(snapshot_dir(snap.content_hash))
    rebuilt = snapshot_job.build_snapshot(snap)
    assert {name: (artifact_dir / path).read_bytes() for name, path in rebuilt.files.items()} == before


def test_a_snapshot_never_changes_when_its_examples_do(project, approved, build, engineer, artifact_dir):
    example = approved("Q", "Original answer.")
    snap = build(project)
    before = (artifact_dir / snap.files["train.jsonl"]).read_bytes() + (
        artifact_dir / snap.files["validation.jsonl"]
    ).read_bytes()
    review.edit(example, engineer, example.version, "Changed answer.")
    example.refresh_from_db()
    review.reject(example, engineer, example.version)
    snap.refresh_from_db()
    assert rows_of(snap)[0].response == "Original answer."
    assert snapshot_job.compute_content_hash(snap) == snap.content_hash
    after = (artifact_dir / snap.files["train.jsonl"]).read_bytes() + (
        artifact_dir / snap.files["validation.jsonl"]
    ).read_bytes()
    assert after == before
    example_id = example.id
    example.delete()
    assert rows_of(snap)[0].example_id == example_id  # the frozen copy keeps its id
    newer = build(project)
    assert newer.content_hash != snap.content_hash and newer.row_count == 0


def test_different_content_gives_a_different_hash(project, approved, build):
    example = approved("Q", "One.")
    first = build(project)
    example.response = "Two."
    example.save()
    assert build(project).content_hash != first.content_hash
    assert build(project, include_soft_targets=True).content_hash != first.content_hash


def test_the_split_follows_seed_and_prompt_and_keeps_a_prompts_samples_together(project, approved, build):
    for i in range(40):
        first = approved(f"prompt {i}", "a")
        approved("", "b", prompt=first.prompt)
    snap = build(project, validation_fraction=0.25, seed=7)
    sides = {}
    for row in rows_of(snap):
        assert row.split == snapshot_job.split_of(7, content_hash(row.prompt_text), 0.25)
        sides.setdefault(row.prompt_hash, set()).add(row.split)
    assert all(len(s) == 1 for s in sides.values())
    assert 0 < snap.validation_count < snap.row_count
    reseeded = build(project, validation_fraction=0.25, seed=8)
    assert {r.prompt_hash: r.split for r in rows_of(reseeded)} != {r.prompt_hash: r.split for r in rows_of(snap)}


def test_a_prompt_keeps_its_side_when_more_rows_arrive(project, approved, build):
    for i in range(20):
        approved(f"first batch {i}")
    before = {r.prompt_hash: r.split for r in rows_of(build(project, validation_fraction=0.3))}
    for i in range(20):
        approved(f"second batch {i}")
    after = {r.prompt_hash: r.split for r in rows_of(build(project, validation_fraction=0.3))}
    assert all(after[h] == side for h, side in before.items())


def test_the_manifest_says_what_who_when_and_which_files(project, approved, build, engineer):
    approved("Q1", tier=project.tiers.get(name="easy"))
    approved("Q2", tier=project.tiers.get(name="hard"), source="synthetic")
    snap = build(project, seed=3)
    manifest = snap.manifest
    assert manifest["content_hash"] == snap.content_hash and manifest["created_by"] == engineer.username
    assert manifest["selection"] == {"stage": "stage 1", "filter": {}, "status": "approved"}
    assert manifest["counts"]["by_tier"] == {"easy": 1, "hard": 1}
    assert manifest["counts"]["by_source"] == {"imported": 1, "synthetic": 1}
    assert manifest["counts"]["by_stage"] == {"stage 1": 2}
    assert sum(manifest["counts"]["by_split"].values()) == 2
    assert manifest["split"]["seed"] == 3 and "sha256" in manifest["split"]["rule"]
    assert set(manifest["files"]) == {
        f"{split}.{ext}"
        for split in ("train", "validation")
        for ext in ("jsonl", "jsonl.gz", "chat.jsonl", "chat.jsonl.gz", "parquet")
    }
    for info in manifest["files"].values():
        assert (len(info["sha256"]) == 64 and info["bytes"] > 0) or info["rows"] == 0


# ------------------------------------------------------------------ requests
@pytest.mark.parametrize(
    "request_, field",
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"stage": "nope"}, "stage"),
        ({"stage": None}, "stage"),
        ({"stage": "stage 1", "filter": {"tier": "hard"}}, "filter"),
        ({"stage": None, "filter": {"tier": "impossible"}}, "filter"),
        ({"stage": None, "filter": {"colour": "red"}}, "filter"),
        ({"seed": -1}, "seed"),
        ({"seed": "7"}, "seed"),
        ({"validation_fraction": 0.9}, "validation_fraction"),
        ({"validation_fraction": True}, "validation_fraction"),
        ({"system_prompt": "x" * 10_001}, "system_prompt"),
    ],
)
def test_a_bad_request_is_refused_naming_the_field(project, engineer, request_, field):
    body = {"name": "snap", "stage": "stage 1", **request_}
    with pytest.raises(Invalid) as err:
        snapshots.start_snapshot(project, engineer, **body)
    assert field in err.value.errors
    assert not Snapshot.objects.exists() and not Job.objects.exists()


def test_a_request_launches_a_snapshot_job_on_the_default_queue(
    project, engineer, django_capture_on_commit_callbacks, monkeypatch
):
    launched = []
    monkeypatch.setattr(jobs, "enqueue", launched.append)
    with django_capture_on_commit_callbacks(execute=True):
        snap = snapshots.start_snapshot(project, engineer, name="s", stage="stage 1")
    assert snap.status == "building" and snap.job.kind == "snapshot" and launched == [snap.job_id]
    assert jobs.TASKS["snapshot"] == "workers.tasks.snapshots.build" and jobs.queue_of("snapshot") == "default"


def test_the_celery_task_builds_the_snapshot_and_reports_on_its_job(
    project, approved, engineer, django_capture_on_commit_callbacks, monkeypatch
):
    from webapp.celery import app

    approved("Q")
    # Celery reads its settings once per process: a Django setting override may come too late.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    with django_capture_on_commit_callbacks(execute=True):
        snap = snapshots.start_snapshot(project, engineer, name="s", stage="stage 1")
    snap.refresh_from_db()
    job = Job.objects.get(pk=snap.job_id)
    assert snap.status == "ready" and job.status == "succeeded"
    assert "1 rows" in job.message and snap.content_hash[:12] in job.message


def test_a_failed_build_marks_the_snapshot_failed_with_the_reason(project, approved, engineer, monkeypatch):
    approved("Q")
    snap = snapshots.start_snapshot(project, engineer, name="s", stage="stage 1")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("curation.services.datasets.exports.write_files", broken)
    assert jobs.run(snap.job_id, snapshot_job.run_build_job) == "failed"
    snap.refresh_from_db()
    assert snap.status == "failed" and "disk full" in snap.message


def test_a_cancelled_build_leaves_a_failed_snapshot_and_a_cancelled_job(project, approved, engineer, monkeypatch):
    for i in range(5):
        approved(f"Q{i}")
    monkeypatch.setattr(snapshot_job, "FREEZE_BATCH", 2)
    monkeypatch.setattr(jobs.JobContext, "cancelled", lambda ctx: True)
    snap = snapshots.start_snapshot(project, engineer, name="s", stage="stage 1")
    assert jobs.run(snap.job_id, snapshot_job.run_build_job) == "cancelled"
    snap.refresh_from_db()
    assert snap.status == "failed" and "cancelled" in snap.message
    assert not SnapshotRow.objects.filter(snapshot=snap).exists()


def test_a_resumed_build_starts_its_rows_over(project, approved, build):
    for i in range(3):
        approved(f"Q{i}")
    snap = build(project)
    Snapshot.objects.filter(pk=snap.pk).update(status="building")
    again = snapshot_job.build_snapshot(snap)
    assert again.row_count == 3 and SnapshotRow.objects.filter(snapshot=snap).count() == 3
    assert again.content_hash == snap.content_hash


def test_soft_targets_are_kept_only_when_the_example_has_them(project, approved, build, artifact_dir):
    writer = ShardWriter(artifact_dir, "t")
    st = SoftTargets(
        np.array([5, 6]),
        np.array([[5, 1], [6, 2]]),
        np.array([[-0.1, -2.5], [-0.2, -3.0]]),
        np.array([-3.0, -2.0]),
        np.array([-0.1, -0.2]),
    )
    writer.add("k1", st)
    pointer = writer.flush()["k1"]
    approved("with", soft_targets=pointer)
    approved("without")
    snap = build(project, include_soft_targets=True, validation_fraction=0)
    assert Counter(bool(r.soft_targets) for r in rows_of(snap)) == Counter({True: 1, False: 1})
    assert snap.manifest["counts"]["with_soft_targets"] == 1


def test_a_snapshot_becoming_ready_is_announced_once(project, approved, build):
    from curation.services import webhooks

    hook = webhooks.subscribe(project, "http://127.0.0.1:9/hook", ["snapshot.ready"])
    approved("How do I reset my password?")
    snap = build(project)
    snapshot_job.build_snapshot(snap)  # a redelivered build only rewrites missing files
    (ready,) = hook.deliveries.all()
    assert ready.payload["data"]["snapshot"] == {
        "id": snap.pk,
        "name": "snap",
        "content_hash": snap.content_hash,
        "rows": 1,
        "train": snap.train_count,
        "validation": snap.validation_count,
    }

"""A long snapshot build commits in short chunks and resumes where it stopped: no
transaction lasts the whole build, and a killed build does not start over."""

import pytest

from curation.models import Snapshot, SnapshotRow
from curation.services import jobs
from curation.services.datasets import snapshot_job, snapshots


class Killed(Exception):
    pass


@pytest.fixture
def many(project, approved):
    # Two answers per prompt (one a duplicate of the other for some) so the freezer's
    # per-prompt state must survive a chunk boundary.
    for i in range(9):
        approved(f"Question {i}?", response="same answer")
    return project


def test_a_build_killed_mid_freeze_keeps_its_committed_chunks_and_resumes_to_the_same_hash(many, engineer, monkeypatch):
    monkeypatch.setattr(snapshot_job, "FREEZE_BATCH", 2)
    whole = snapshot_job.build_snapshot(
        snapshots.start_snapshot(many, engineer, name="whole", stage="stage 1", launch=False)
    )

    killed = snapshots.start_snapshot(many, engineer, name="killed", stage="stage 1", launch=False)
    calls = []

    def progress(done=None, total=None, *, phase=None):
        calls.append(done)
        if len([c for c in calls if c]) == 2:  # two chunks committed, then the worker dies
            raise Killed()

    with pytest.raises(Killed):
        snapshot_job.build_snapshot(killed, progress=progress)
    assert SnapshotRow.objects.filter(snapshot=killed).count() == 4  # the chunks before the kill stay
    assert Snapshot.objects.get(pk=killed.pk).freeze_state["consumed"] == 4

    resumed = snapshot_job.build_snapshot(killed)
    assert resumed.status == "ready"
    assert SnapshotRow.objects.filter(snapshot=killed).count() == whole.row_count == 9
    assert resumed.content_hash == whole.content_hash and resumed.excluded == whole.excluded


def test_each_chunk_commits_under_the_jobs_claim(many, engineer, monkeypatch, settings):
    """A build whose claim was taken over stops before its next chunk, writing nothing more."""
    monkeypatch.setattr(snapshot_job, "FREEZE_BATCH", 2)
    snap = snapshots.start_snapshot(many, engineer, name="fenced", stage="stage 1", launch=False)
    job = jobs.launch(many, "snapshot", {"snapshot_id": snap.pk})
    ctx = jobs.JobContext(jobs.claim(job.pk, "a@host:1"))
    seen = []

    def progress(done=None, total=None, *, phase=None):
        seen.append(done)
        if len([c for c in seen if c]) == 1:
            jobs.Job.objects.filter(pk=job.pk).update(claim_token="someone-else")

    with pytest.raises(jobs.ClaimLost):
        snapshot_job.build_snapshot(snap, progress=progress, fenced=ctx.fenced)
    assert SnapshotRow.objects.filter(snapshot=snap).count() == 2

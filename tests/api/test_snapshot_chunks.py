"""A long snapshot build commits in short chunks and resumes where it stopped: no
transaction lasts the whole build, and a killed build does not start over."""

import pytest

from curation.models import Example, Prompt, Snapshot, SnapshotRow
from curation.services import hygiene, jobs
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


def test_a_build_resumed_after_a_kill_takes_no_second_example_of_a_cluster_it_already_holds(
    project, approved, engineer, monkeypatch
):
    """The "at most one example per cluster" option holds across a resume: the clusters the killed build had
    taken are read back from the rows it committed, not forgotten with the dead worker."""
    texts = [
        "Please summarise the attached quarterly report for the board meeting on Friday and list the three main risks.",
        "Please summarize the attached quarterly report for the board meeting on Friday and list the three main risks!",
        "Hi! Please summarise the attached quarterly report for the board meeting on Friday and list the 3 main risks.",
        "Translate the onboarding checklist into Spanish for the new warehouse staff starting next Monday morning.",
    ]
    for text in texts:  # prompt ids ascend in this order, and candidates are frozen in prompt order
        approved(text)
    hygiene.refresh_clusters(project)
    assert Prompt.objects.filter(project=project, cluster_size=3).count() == 3
    monkeypatch.setattr(snapshot_job, "FREEZE_BATCH", 1)
    whole = snapshot_job.build_snapshot(
        snapshots.start_snapshot(project, engineer, name="whole", stage="stage 1", one_per_cluster=True, launch=False)
    )
    assert whole.row_count == 2 and whole.excluded == {"cluster_duplicate": 2}

    killed = snapshots.start_snapshot(
        project, engineer, name="killed", stage="stage 1", one_per_cluster=True, launch=False
    )
    calls = []

    def progress(done=None, total=None, *, phase=None):
        calls.append(done)
        if len([c for c in calls if c]) == 1:  # the first chunk (the cluster's first example) committed
            raise Killed()

    with pytest.raises(Killed):
        snapshot_job.build_snapshot(killed, progress=progress)
    assert SnapshotRow.objects.filter(snapshot=killed).count() == 1

    resumed = snapshot_job.build_snapshot(killed)
    clusters = [
        Example.objects.get(pk=e).prompt.cluster_id
        for e in SnapshotRow.objects.filter(snapshot=killed).values_list("example_id", flat=True)
    ]
    taken = [c for c in clusters if c is not None]
    assert len(taken) == len(set(taken)) == 1, clusters  # no cluster appears twice
    assert resumed.row_count == 2 and resumed.excluded == {"cluster_duplicate": 2}
    assert resumed.content_hash == whole.content_hash

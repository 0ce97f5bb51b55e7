"""Raw snapshots: the teacher's output as it came (what training without review would use)."""

import pytest

from curation.models import GoldItem, Snapshot, SnapshotRow
from curation.services.datasets import snapshot_job, snapshots
from curation.services.errors import Invalid
from tests.factories import ExampleFactory, ProjectFactory, PromptFactory
from tests.review_factories import TeacherSampleFactory


def teacher_example(project, text, *, status="pending", sample_text=None, soft="", **fields):
    prompt = PromptFactory(project=project, text=text)
    sample = TeacherSampleFactory(prompt=prompt, text=sample_text or f"Teacher on {text}", soft_targets=soft)
    fields.setdefault("stage", project.stages.get(name="stage 1"))
    return ExampleFactory(prompt=prompt, sample=sample, response="", status=status, soft_targets=soft, **fields)


def rows(snapshot):
    return {r.prompt_text: r for r in SnapshotRow.objects.filter(snapshot=snapshot)}


def build(project, engineer, **request):
    request.setdefault("name", "raw")
    return snapshot_job.build_snapshot(snapshots.start_snapshot(project, engineer, launch=False, **request))


def test_a_raw_snapshot_takes_every_teacher_example_whatever_its_status_with_the_teachers_own_text(project, engineer):
    teacher_example(project, "approved as it was", status="approved", soft="shards/a#1")
    edited = teacher_example(project, "edited", status="approved", sample_text="Teacher's draft", soft="shards/a#2")
    edited.response, edited.original_response, edited.edited = "A reviewer's fix", "Teacher's draft", True
    edited.soft_targets, edited.grade = "shards/score#9", 5  # a score job's soft targets for the edit
    edited.save()
    teacher_example(project, "pending", status="pending")
    teacher_example(project, "rejected", status="rejected")
    ExampleFactory(
        prompt=PromptFactory(project=project, text="written by a person"),
        status="approved",
        stage=project.stages.get(name="stage 1"),
    )
    gold = teacher_example(project, "a gold prompt", status="approved")
    GoldItem.objects.create(project=project, prompt=gold.prompt, reference="ref", confirmed=True)

    raw = build(project, engineer, content="raw")

    got = rows(raw)
    assert set(got) == {"approved as it was", "edited", "pending", "rejected"}
    assert got["edited"].response == "Teacher's draft" and got["edited"].soft_targets == "shards/a#2"
    assert not got["edited"].edited and got["edited"].grade is None
    assert got["approved as it was"].soft_targets == "shards/a#1"
    assert raw.excluded == {"not_teacher": 1, "gold_prompt": 1}
    assert raw.filter == {"status": ["pending", "approved", "rejected"]}
    assert raw.manifest["selection"]["status"] == "any" and raw.manifest["options"]["content"] == "raw"

    curated = build(project, engineer, name="curated", stage="stage 1")
    got = rows(curated)
    assert set(got) == {"approved as it was", "edited", "written by a person"}
    assert got["edited"].response == "A reviewer's fix" and got["edited"].soft_targets == "shards/score#9"
    assert "content" not in curated.manifest["options"]  # curated hashes are what they always were


def test_a_raw_classification_snapshot_keeps_the_teachers_label_where_a_reviewer_changed_it(db, engineer):
    project = ProjectFactory(task_type="classification", labels=["billing", "account"])
    example = teacher_example(project, "refund please", status="approved", label="account")
    example.sample.predicted_label = "billing"
    example.sample.label_distribution = {"billing": 0.9, "account": 0.1}
    example.sample.save()

    raw = build(project, engineer, content="raw")
    curated = build(project, engineer, name="curated", stage="stage 1")

    assert rows(raw)["refund please"].label == "billing"
    assert rows(curated)["refund please"].label == "account"
    assert rows(raw)["refund please"].label_distribution == {"billing": 0.9, "account": 0.1}


def test_raw_and_curated_snapshots_of_the_same_rows_hash_differently(project, engineer):
    teacher_example(project, "one", status="approved")
    assert (
        build(project, engineer, content="raw", stage="stage 1").content_hash
        != build(project, engineer, name="curated", stage="stage 1").content_hash
    )


def test_a_raw_snapshot_can_take_a_stage_or_a_filter_too(project, engineer):
    teacher_example(project, "in stage 1")
    teacher_example(project, "in the pool", stage=project.pool)
    assert set(rows(build(project, engineer, content="raw", stage="stage 1"))) == {"in stage 1"}
    assert set(rows(build(project, engineer, content="raw", filter={"stage": "pool"}))) == {"in the pool"}


def test_an_unknown_content_is_refused_naming_the_field(project, engineer):
    with pytest.raises(Invalid) as exc:
        snapshots.start_snapshot(project, engineer, name="x", stage="stage 1", content="everything")
    assert set(exc.value.errors) == {"content"}
    assert not Snapshot.objects.exists()


def test_an_engineer_asks_for_a_raw_snapshot_on_the_page_and_over_the_api(project, client_as, api, monkeypatch):
    from django.urls import reverse

    from curation.services import jobs

    monkeypatch.setattr(jobs, "enqueue", lambda job_id: None)
    page = client_as("engineer").post(
        reverse("snapshot-list", args=[project.slug]),
        {
            "name": "raw from the page",
            "source": "stage",
            "stage": "stage 1",
            "content": "raw",
            "seed": 0,
            "validation_fraction": 0.1,
        },
    )
    assert page.status_code == 302
    assert Snapshot.objects.get(name="raw from the page").content == "raw"

    engineer_api = api("engineer")
    response = engineer_api.post(
        reverse("api-snapshots-list", args=[project.slug]),
        {"name": "raw over the api", "content": "raw"},
        content_type="application/json",
    )
    assert response.status_code == 202, response.json()
    assert response.json()["content"] == "raw" and response.json()["filter"] == {
        "status": ["pending", "approved", "rejected"]
    }
    bad = engineer_api.post(
        reverse("api-snapshots-list", args=[project.slug]),
        {"name": "x", "stage": "stage 1", "content": "everything"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "content" in bad.json()

"""The snapshot pages: list and create (engineers), one snapshot, its job panel."""

import pytest
from django.urls import reverse

from curation.models import Snapshot
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def login(client, project):
    def as_role(role):
        user = UserFactory(username=f"web-{role}")
        MembershipFactory(user=user, project=project, role=role)
        client.force_login(user)
        return client

    return as_role


def test_readers_see_the_snapshots_but_no_create_form(login, project, approved, build):
    approved("Q")
    snap = build(project, name="weekly")
    page = login("reader").get(reverse("snapshot-list", args=[project.slug])).content.decode()
    assert "weekly" in page and snap.content_hash[:12] in page
    assert "New snapshot" not in page


def test_an_engineer_builds_a_snapshot_from_a_stage_on_the_page(login, project, monkeypatch):
    from curation.services import jobs

    launched = []
    monkeypatch.setattr(jobs, "enqueue", launched.append)
    client = login("engineer")
    response = client.post(
        reverse("snapshot-list", args=[project.slug]),
        {
            "name": "from the page",
            "source": "stage",
            "stage": "stage 1",
            "seed": 3,
            "validation_fraction": 0.2,
        },
    )
    snap = Snapshot.objects.get(name="from the page")
    assert response.status_code == 302 and response["Location"] == reverse(
        "snapshot-detail", args=[project.slug, snap.pk]
    )
    assert (snap.stage.name, snap.seed, snap.validation_fraction, snap.status) == ("stage 1", 3, 0.2, "building")
    page = client.get(response["Location"]).content.decode()
    assert "Building" in page and "every 2s" in page


def test_a_bad_filter_on_the_page_names_the_parameter(login, project):
    response = login("engineer").post(
        reverse("snapshot-list", args=[project.slug]),
        {
            "name": "bad",
            "source": "filter",
            "filter": "tier=legendary&checks=passed",
            "seed": 0,
            "validation_fraction": 0.1,
        },
    )
    assert response.status_code == 400
    assert "tier" in response.content.decode() and not Snapshot.objects.exists()


def test_the_page_takes_a_filter_from_the_review_queues_link(login, project):
    page = login("engineer").get(
        reverse("snapshot-list", args=[project.slug]) + "?filter=tier%3Dhard%26checks%3Dpassed"
    )
    assert 'value="tier=hard&amp;checks=passed"' in page.content.decode()


def test_a_ready_snapshot_page_lists_its_files_counts_and_exclusions(login, project, approved, build):
    from curation.models import GoldItem

    gold = approved("Gold <b>question</b>")
    GoldItem.objects.create(project=project, prompt=gold.prompt, reference="R")
    approved("Normal question", tier=project.tiers.get(name="hard"))
    snap = build(project, name="<script>alert('x')</script>")
    page = login("reader").get(reverse("snapshot-detail", args=[project.slug, snap.pk])).content.decode()
    assert "<script>alert('x')</script>" not in page and "&lt;script&gt;" in page
    assert "1</b> gold prompt" in page
    assert "train.jsonl" in page and "validation.parquet" in page and "format=parquet&amp;split=train" in page
    assert snap.content_hash in page


def test_the_status_fragment_polls_while_building_and_reloads_when_done(login, project, approved, build):
    approved("Q")
    snap = build(project)
    client = login("reader")
    url = reverse("snapshot-detail", args=[project.slug, snap.pk]) + "?fragment=status"
    done = client.get(url, HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true"
    Snapshot.objects.filter(pk=snap.pk).update(status="building")
    building = client.get(url, HTTP_HX_REQUEST="true")
    assert "HX-Refresh" not in building and "every 2s" in building.content.decode()


def test_the_snapshot_job_page_links_to_its_snapshot(login, project, monkeypatch):
    from curation.services import jobs
    from curation.services.datasets import snapshots

    monkeypatch.setattr(jobs, "enqueue", lambda job_id: None)
    client = login("engineer")
    snap = snapshots.start_snapshot(project, UserFactory(username="e2"), name="linked", stage="stage 1")
    page = client.get(reverse("job-detail", args=[project.slug, snap.job_id])).content.decode()
    assert reverse("snapshot-detail", args=[project.slug, snap.pk]) in page


def test_another_projects_snapshot_is_404_on_the_page(login, project):
    from tests.factories import ProjectFactory

    theirs = Snapshot.objects.create(project=ProjectFactory(), name="theirs")
    assert login("reader").get(reverse("snapshot-detail", args=[project.slug, theirs.pk])).status_code == 404

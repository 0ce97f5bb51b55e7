"""The audit log: one entry per change that matters, append-only, read by engineers only."""

import json

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from curation.models import AppendOnly, AuditEntry, Example, GoldItem, Job, Membership, Snapshot
from curation.services import audit, datasets, gold, jobs, projects
from curation.services.review import apply_bulk, filtered_examples, plan_bulk
from curation.services.review import decisions as review
from curation.services.training import resume_distillation
from tests.factories import ExampleFactory, JobFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(member):
    return member("engineer", "boss")


def only_new_entry(since_id=0, **match):
    """The one entry written since ``since_id``; fails when there are none or several."""
    new = list(AuditEntry.objects.filter(id__gt=since_id).order_by("id"))
    assert len(new) == 1, [(e.kind, e.action, e.target) for e in new]
    entry = new[0]
    for field, value in match.items():
        assert getattr(entry, field) == value, (field, getattr(entry, field))
    return entry


def last_id():
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


# ------------------------------------------------------------------- one entry per kind
def test_adding_a_member_writes_one_membership_entry(project, boss):
    alice = UserFactory(username="alice")
    projects.grant_role(project, alice, "reviewer", by=boss)
    entry = only_new_entry(kind="membership", action="add", actor=boss, project=project)
    assert entry.after == {"user": "alice", "role": "reviewer"}
    assert entry.actor_name == "boss"


def test_changing_a_role_writes_one_role_entry_with_before_and_after(project, boss):
    alice = UserFactory(username="alice")
    MembershipFactory(project=project, user=alice, role="reviewer")
    mark = last_id()
    projects.grant_role(project, alice, "engineer", by=boss)
    entry = only_new_entry(mark, kind="role", action="change")
    assert entry.before == {"user": "alice", "role": "reviewer"}
    assert entry.after == {"user": "alice", "role": "engineer"}
    mark = last_id()
    projects.grant_role(project, alice, "engineer", by=boss)
    assert last_id() == mark, "no change, no entry"


def test_removing_a_member_writes_one_entry(project, boss):
    alice = UserFactory(username="alice")
    MembershipFactory(project=project, user=alice, role="reader")
    projects.remove_member(Membership.objects.get(project=project, user=alice), by=boss)
    only_new_entry(kind="membership", action="remove", before={"user": "alice", "role": "reader"})
    assert not Membership.objects.filter(project=project, user=alice).exists()


def test_a_role_changed_in_the_admin_writes_one_entry(client, project):
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    alice = UserFactory(username="alice")
    membership = MembershipFactory(project=project, user=alice, role="reviewer")
    client.force_login(admin)
    url = reverse("admin:curation_membership_change", args=[membership.pk])
    response = client.post(url, {"user": alice.pk, "project": project.pk, "role": "engineer"})
    assert response.status_code == 302
    only_new_entry(kind="role", actor=admin, after={"user": "alice", "role": "engineer"})


def test_the_create_project_command_audits_the_members_it_adds(project):
    from django.core.management import call_command

    UserFactory(username="carol")
    call_command("create_project", project.slug, "--exists-ok", "--member", "carol:reader")
    only_new_entry(kind="membership", action="add", actor=None, actor_name="")


def test_issuing_and_revoking_a_token_write_one_entry_each_without_the_key(client, boss):
    client.force_login(boss)
    client.post(reverse("token-list"), {"name": "pipeline"})
    issued = only_new_entry(kind="token", action="issue", actor=boss, project=None)
    key = client.get(reverse("token-list")).context["new"]["key"]
    assert key not in json.dumps(issued.after) and issued.after["name"] == "pipeline"
    mark = last_id()
    token = boss.api_tokens.get()
    response = client.delete(reverse("api-tokens-detail", args=[token.pk]))
    assert response.status_code == 204
    only_new_entry(
        mark, kind="token", action="revoke", before={**issued.after}, after={**issued.after, "active": False}
    )


def test_saving_settings_writes_one_entry_with_the_changed_fields(client, project, boss):
    client.force_login(boss)
    data = {"guidelines": "Be kind.", "checks": "[]", "tier_quantiles": ""}
    response = client.post(reverse("project-settings", args=[project.slug]), data)
    assert response.status_code == 302
    entry = only_new_entry(kind="settings", action="update", actor=boss)
    assert entry.before == {"guidelines": ""} and entry.after == {"guidelines": "Be kind."}


def test_renaming_a_stage_writes_one_settings_entry(client, project, boss):
    client.force_login(boss)
    stage = project.stages.get(name="stage 1")
    data = {"op": "rename", "kind": "stage", "id": stage.pk, "name": "warm-up"}
    assert client.post(reverse("project-curriculum", args=[project.slug]), data).status_code == 302
    entry = only_new_entry(kind="settings", action="rename stage")
    assert entry.before["name"] == "stage 1" and entry.after["name"] == "warm-up"


def test_gold_items_created_changed_confirmed_and_discarded_write_one_entry_each(project, boss):
    item = gold.create_gold_item(project, boss, prompt_text="What is 2+2?", reference="4")
    # One gold entry; the new prompt's data-hygiene job is launched (and audited) like any job.
    entries = sorted(AuditEntry.objects.values_list("kind", "action", "target_id"))
    assert entries == [("gold", "create", str(item.pk)), ("job", "launch", entries[1][2])]
    mark = last_id()
    gold.update_gold_item(item, {"reference": "four"}, by=boss)
    entry = only_new_entry(mark, kind="gold", action="update")
    assert entry.before == {"reference": "4"} and entry.after == {"reference": "four"}
    candidate = gold.create_gold_item(project, boss, prompt_text="And 3+3?", reference="6", confirmed=False)
    mark = last_id()
    assert gold.confirm_candidates(project, [candidate.pk], by=boss) == 1
    only_new_entry(mark, kind="gold", action="confirm", after={"confirmed": True, "items": [candidate.pk]})
    other = gold.create_gold_item(project, boss, prompt_text="And 4+4?", reference="8", confirmed=False)
    mark = last_id()
    gold.discard_candidate(other, by=boss)
    only_new_entry(mark, kind="gold", action="discard")
    assert not GoldItem.objects.filter(pk=other.pk).exists()


def test_a_snapshot_writes_one_snapshot_entry_and_one_job_entry(project, boss):
    ExampleFactory(project=project, prompt__project=project, status="approved")
    snapshot = datasets.start_snapshot(project, boss, name="v1", stage="pool")
    kinds = sorted(AuditEntry.objects.values_list("kind", flat=True))
    assert kinds == ["job", "snapshot"]
    entry = AuditEntry.objects.get(kind="snapshot")
    assert entry.target_id == str(snapshot.pk) and entry.after["name"] == "v1" and entry.after["stage"] == "pool"
    assert Snapshot.objects.count() == 1


def test_launching_and_cancelling_a_job_write_one_entry_each(client, project, boss):
    job = jobs.launch(project, Job.Kind.GENERATE, {"n": 1}, by=boss)
    only_new_entry(
        kind="job",
        action="launch",
        target_id=str(job.pk),
        after={"kind": "generate", "params": {"n": 1}, "model_spec": None},
    )
    mark = last_id()
    client.force_login(boss)
    client.post(reverse("job-cancel", args=[project.slug, job.pk]))
    only_new_entry(mark, kind="job", action="cancel", before={"status": "queued"}, actor=boss)
    mark = last_id()
    client.post(reverse("job-cancel", args=[project.slug, job.pk]))
    assert last_id() == mark, "cancelling a finished job changes nothing and writes nothing"


def test_resuming_a_gated_job_with_force_writes_one_entry(project, boss):
    job = JobFactory(
        project=project,
        kind=Job.Kind.DISTILL,
        status=Job.Status.GATED,
        params={"resumes": []},
        metrics={"gated": {"stage": "easy", "stage_index": 0, "gate": {"threshold": 0.9}}},
    )
    resume_distillation(job, by=boss, force=True, comment="good enough")
    entry = only_new_entry(kind="job", action="resume with force", actor=boss)
    assert entry.after["force"] is True and entry.after["comment"] == "good enough"
    assert entry.before == {"status": "gated", "threshold": 0.9}


# ------------------------------------------------------------------- append-only
def test_entries_cannot_be_changed_or_deleted_through_the_orm(project, boss):
    entry = audit.record(audit.Kind.SETTINGS, "update", project, project=project, by=boss)
    entry.action = "forged"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(action="forged")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().delete()


def test_the_database_refuses_to_update_an_entry(project, boss):
    entry = audit.record(audit.Kind.SETTINGS, "update", project, project=project, by=boss)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE curation_auditentry SET action = 'forged' WHERE id = %s", [entry.pk])
    entry.refresh_from_db()
    assert entry.action == "update"


def test_deleting_the_actor_or_the_project_keeps_the_entry(project, boss):
    entry = audit.record(audit.Kind.SETTINGS, "update", project, project=project, by=boss)
    boss.delete()
    project.delete()
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert entry.actor_name == "boss" and entry.action == "update"


def test_the_admin_shows_entries_but_cannot_add_change_or_delete(client, project, boss):
    entry = audit.record(audit.Kind.SETTINGS, "update", project, project=project, by=boss)
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    assert client.get(reverse("admin:curation_auditentry_changelist")).status_code == 200
    assert client.get(reverse("admin:curation_auditentry_add")).status_code == 403
    assert client.post(reverse("admin:curation_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    client.post(reverse("admin:curation_auditentry_change", args=[entry.pk]), {"action": "forged"})
    assert AuditEntry.objects.get(pk=entry.pk).action == "update"


# ------------------------------------------------------------------- reading
@pytest.fixture
def history(project, boss):
    """A role change by boss, a verdict and a bulk action by alice, a job launch by boss."""
    alice = UserFactory(username="alice")
    MembershipFactory(project=project, user=alice, role="reviewer")
    projects.grant_role(project, alice, "engineer", by=boss)
    example = ExampleFactory(project=project, prompt__project=project)
    review.approve(example, alice, example.version)
    ExampleFactory(project=project, prompt__project=project)
    queryset, _ = filtered_examples(project, {"status": ["pending"]})
    apply_bulk(project, alice, queryset, plan_bulk(project, "reject"), expected=queryset.count())
    jobs.launch(project, Job.Kind.GENERATE, {}, by=boss)
    return alice


def test_the_page_shows_every_kind_newest_first_to_engineers(client, project, boss, history):
    client.force_login(boss)
    response = client.get(reverse("project-audit", args=[project.slug]))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r["kind"] for r in rows] == ["job", "bulk", "verdict", "role"]
    assert rows[2]["before"]["status"] == "pending" and rows[2]["after"]["status"] == "approved"
    assert Example.objects.filter(status="rejected").count() == 1


@pytest.mark.parametrize(
    ("query", "kinds"),
    [
        ({"person": "alice"}, ["bulk", "verdict"]),
        ({"person": "boss"}, ["job", "role"]),
        ({"kind": "role"}, ["role"]),
        ({"kind": "verdict"}, ["verdict"]),
        ({"since": "2000-01-01", "until": "2000-01-02"}, []),
    ],
)
def test_the_page_filters_by_person_kind_and_date(client, project, boss, history, query, kinds):
    client.force_login(boss)
    response = client.get(reverse("project-audit", args=[project.slug]), query)
    assert [r["kind"] for r in response.context["rows"]] == kinds


def test_today_is_inside_a_since_until_window_of_today(client, project, boss, history):
    from django.utils import timezone

    today = timezone.now().date().isoformat()
    client.force_login(boss)
    response = client.get(reverse("project-audit", args=[project.slug]), {"since": today, "until": today})
    assert len(response.context["rows"]) == 4


def test_bad_filters_are_named_and_lose_nothing(client, project, boss):
    client.force_login(boss)
    response = client.get(reverse("project-audit", args=[project.slug]), {"kind": "nope", "since": "yesterday"})
    assert response.status_code == 400
    assert "is not a kind of entry" in response.context["form"].errors["kind"][0]
    assert "YYYY-MM-DD" in response.context["form"].errors["since"][0]
    assert 'value="yesterday"' in response.content.decode()


def test_model_text_in_an_entry_is_escaped(client, project, boss):
    projects.save_settings(project, {"guidelines": "<script>alert(1)</script>"}, by=boss)
    client.force_login(boss)
    html = client.get(reverse("project-audit", args=[project.slug])).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_export_streams_jsonl_under_the_filters(client, project, boss, history):
    client.force_login(boss)
    response = client.get(reverse("project-audit-export", args=[project.slug]), {"person": "alice"})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [line["kind"] for line in lines] == ["bulk", "verdict"]
    assert all(line["actor"] == "alice" and line["at"] for line in lines)


def test_the_api_lists_entries_with_a_cursor(client, project, boss, history, monkeypatch):
    monkeypatch.setattr(audit, "PAGE", 3)
    client.force_login(boss)
    url = reverse("api-audit", args=[project.slug])
    first = client.get(url).json()
    assert [r["kind"] for r in first["results"]] == ["job", "bulk", "verdict"]
    second = client.get(first["next"]).json()
    assert [r["kind"] for r in second["results"]] == ["role"] and second["next"] is None
    assert client.get(url, {"kind": "nope"}).json() == {
        "kind": ["'nope' is not a kind of entry; choose one of " + ", ".join(audit.KINDS) + "."]
    }
    assert client.get(url, {"colour": "red"}).status_code == 400


def test_other_projects_entries_stay_out(client, project, boss):
    from tests.factories import ProjectFactory

    other = ProjectFactory()
    audit.record(audit.Kind.SETTINGS, "update", other, project=other, by=boss)
    client.force_login(boss)
    assert client.get(reverse("api-audit", args=[project.slug])).json()["results"] == []

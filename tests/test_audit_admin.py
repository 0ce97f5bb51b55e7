"""Edits made in the Django admin are audited: one entry per add, change and delete, with before and after."""

import datetime
import json

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from curation import admin as curation_admin
from curation.models import (
    ApiToken,
    AuditEntry,
    GoldItem,
    Membership,
    ModelSpec,
    ModelVersion,
    Project,
    Prompt,
    Snapshot,
    Stage,
    Tier,
)
from curation.services import projects
from tests.factories import ExampleFactory, JobFactory, MembershipFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db
SECRET_TEXT = "Call jo.smith@example.com about the refund."


@pytest.fixture
def root(client):
    user = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(user)
    return user


def last_id():
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def new_entries(since):
    return list(AuditEntry.objects.filter(id__gt=since).order_by("id"))


def one_new(since, **match):
    new = new_entries(since)
    assert len(new) == 1, [(e.kind, e.action, e.target) for e in new]
    for field, value in match.items():
        assert getattr(new[0], field) == value, (field, getattr(new[0], field))
    return new[0]


def url_of(obj, view):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_{view}", args=[obj.pk])


def form_data(client, url, **changes):
    """The admin form's data as the page shows it, with ``changes``: what a person submits."""
    response = client.get(url)
    assert response.status_code == 200, url
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(value, datetime.datetime):
            data[f"{name}_0"], data[f"{name}_1"] = value.date().isoformat(), value.time().isoformat()
        elif hasattr(field.widget, "widgets") and value is None:
            data[f"{name}_0"] = data[f"{name}_1"] = ""
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def change(client, obj, **changes):
    response = client.post(url_of(obj, "change"), form_data(client, url_of(obj, "change"), **changes))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    return response


def delete(client, obj):
    assert client.post(url_of(obj, "delete"), {"post": "yes"}).status_code == 302
    assert not type(obj).objects.filter(pk=obj.pk).exists()


def add(client, model, **data):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
    response = client.post(url, form_data(client, url, **data))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    return model.objects.order_by("-pk").first()


# ------------------------------------------------------------------- one entry per kind
def test_project_settings_changed_in_the_admin_write_one_settings_entry(client, root, project):
    mark = last_id()
    change(client, project, guidelines="Be brief.", require_second_approval=True)
    entry = one_new(mark, kind="settings", action="admin change", actor=root, project=project)
    assert entry.before == {"guidelines": "", "require_second_approval": False}
    assert entry.after == {"guidelines": "Be brief.", "require_second_approval": True}
    mark = last_id()
    change(client, project)
    assert last_id() == mark, "a save that changed nothing writes nothing"


def test_stages_and_tiers_added_and_deleted_in_the_admin_write_one_entry_each(client, root, project):
    mark = last_id()
    stage = add(client, Stage, project=project.pk, name="extra", order=9)
    entry = one_new(mark, kind="settings", action="admin add", project=project, target="extra")
    assert entry.before is None and entry.after["name"] == "extra" and entry.after["project"] == project.pk
    mark = last_id()
    tier = Tier.objects.get(project=project, name="hard")
    delete(client, tier)
    entry = one_new(mark, kind="settings", action="admin delete", target="hard", target_id=str(tier.pk))
    assert entry.before["name"] == "hard" and entry.after is None
    assert Stage.objects.filter(pk=stage.pk).exists()


def test_a_token_changed_or_deleted_in_the_admin_writes_one_token_entry_without_its_hash(client, root, project):
    alice = UserFactory(username="alice")
    MembershipFactory(project=project, user=alice, role="engineer")
    token, key = projects.issue(alice, "pipeline")
    mark = last_id()
    change(client, token, scope="read")
    entry = one_new(mark, kind="token", action="admin change", actor=root, project=None)
    assert entry.before == {"owner": "alice", "scope": "full"} and entry.after == {"owner": "alice", "scope": "read"}
    mark = last_id()
    delete(client, token)
    entry = one_new(mark, kind="token", action="admin delete")
    assert entry.before["owner"] == "alice" and entry.before["name"] == "pipeline"
    text = json.dumps([e.before for e in AuditEntry.objects.all()] + [e.after for e in AuditEntry.objects.all()])
    assert key not in text and ApiToken.hash_key(key) not in text
    client.force_login(alice)  # the owner's project shows the admin's edits of the token
    rows = client.get(reverse("api-audit", args=[project.slug]), {"kind": "token"}).json()["results"]
    assert [r["action"] for r in rows] == ["admin delete", "admin change", "issue"]


def test_tokens_cannot_be_added_in_the_admin(client, root):
    assert client.get(reverse("admin:curation_apitoken_add")).status_code == 403


def test_gold_items_changed_and_deleted_in_the_admin_write_one_gold_entry_each(client, root, project):
    item = GoldItem.objects.create(project=project, prompt=PromptFactory(project=project), reference="4")
    mark = last_id()
    change(client, item, reference="four")
    entry = one_new(mark, kind="gold", action="admin change", project=project)
    assert entry.before == {"reference": "4"} and entry.after == {"reference": "four"}
    mark = last_id()
    delete(client, item)
    one_new(mark, kind="gold", action="admin delete", target_id=str(item.pk))


def test_model_specs_added_changed_and_deleted_in_the_admin_write_one_model_entry_each(client, root, project):
    mark = last_id()
    spec = add(client, ModelSpec, project=project.pk, name="teacher", path="gpt2", defaults="{}", pricing="{}")
    entry = one_new(mark, kind="model", action="admin add", project=project, target="teacher")
    assert entry.after["path"] == "gpt2" and entry.after["api_key_env"] == ""
    mark = last_id()
    change(client, spec, path="distilgpt2")
    entry = one_new(mark, kind="model", action="admin change")
    assert (entry.before, entry.after) == ({"path": "gpt2"}, {"path": "distilgpt2"})
    mark = last_id()
    delete(client, spec)
    one_new(mark, kind="model", action="admin delete")


def test_a_model_versions_snapshots_changed_in_the_admin_are_in_its_entry(client, root, project):
    snap = Snapshot.objects.create(project=project, name="v1")
    version = ModelVersion.objects.create(project=project, name="student", artifact_path="/tmp/x")
    mark = last_id()
    change(client, version, snapshots=[snap.pk])
    entry = one_new(mark, kind="model", action="admin change")
    assert (entry.before, entry.after) == ({"snapshots": []}, {"snapshots": [snap.pk]})


def test_a_prompt_edited_in_the_admin_is_logged_as_a_digest_never_its_text(client, root, project):
    prompt = PromptFactory(project=project, text="Where is my parcel?")
    mark = last_id()
    change(client, prompt, text=SECRET_TEXT)
    # the edit, and the hygiene job it queues to re-check the new text (a job launch has its own entry)
    launch, entry = new_entries(mark)
    assert (launch.kind, launch.action, launch.target.startswith("Data hygiene checks")) == ("job", "launch", True)
    assert (entry.kind, entry.action, entry.project, entry.target) == (
        "data",
        "admin change",
        project,
        f"prompt {prompt.pk}",
    )
    assert set(entry.after) >= {"text"} and entry.after["text"]["chars"] == len(SECRET_TEXT)
    assert entry.before["text"] != entry.after["text"]
    mark = last_id()
    delete(client, Prompt.objects.get(pk=prompt.pk))
    entry = one_new(mark, kind="data", action="admin delete", target=f"prompt {prompt.pk}")
    stored = json.dumps([[e.target, e.before, e.after] for e in AuditEntry.objects.all()], default=str)
    assert "jo.smith" not in stored and "parcel" not in stored


def test_examples_snapshots_and_jobs_edited_in_the_admin_write_one_entry_each(client, root, project):
    example = ExampleFactory(project=project, prompt__project=project)
    mark = last_id()
    change(client, example, status="rejected")
    entry = one_new(mark, kind="data", action="admin change", target=f"example {example.pk}")
    assert entry.after["status"] == "rejected"
    job = JobFactory(project=project)
    mark = last_id()
    change(client, job, status="cancelled")
    one_new(mark, kind="job", action="admin change", after={"status": "cancelled"})
    snap = Snapshot.objects.create(project=project, name="v1")
    mark = last_id()
    delete(client, snap)
    one_new(mark, kind="snapshot", action="admin delete", target="v1")


def test_a_user_made_superuser_in_the_admin_writes_one_role_entry_without_the_password(client, root):
    alice = UserFactory(username="alice")
    mark = last_id()
    change(client, alice, is_superuser=True, is_staff=True)
    entry = one_new(mark, kind="role", action="admin change", actor=root, project=None)
    assert entry.before == {"is_staff": False, "is_superuser": False}
    assert entry.after == {"is_staff": True, "is_superuser": True}
    mark = last_id()
    url = reverse("admin:auth_user_password_change", args=[alice.pk])
    response = client.post(url, {"password1": "A-new-long-pass-42", "password2": "A-new-long-pass-42"})
    assert response.status_code == 302
    one_new(mark, kind="role", action="admin change", before={"password": "hidden"}, after={"password": "changed"})
    mark = last_id()
    add(client, Group, name="ops")
    one_new(mark, kind="role", action="admin add", after={"name": "ops", "permissions": []})
    alice.refresh_from_db()
    assert alice.check_password("A-new-long-pass-42")
    assert alice.password not in json.dumps([[e.before, e.after] for e in AuditEntry.objects.all()])


def test_memberships_added_and_deleted_in_the_admin_write_one_entry_each(client, root, project):
    alice = UserFactory(username="alice")
    mark = last_id()
    membership = add(client, Membership, user=alice.pk, project=project.pk, role="reader")
    one_new(mark, kind="membership", action="add", after={"user": "alice", "role": "reader"}, actor=root)
    mark = last_id()
    delete(client, membership)
    one_new(mark, kind="membership", action="remove", before={"user": "alice", "role": "reader"})


def test_a_bulk_delete_in_the_admin_writes_one_entry_per_row(client, root, project):
    specs = [ModelSpec.objects.create(project=project, name=n, path="gpt2") for n in ("a", "b")]
    mark = last_id()
    response = client.post(
        reverse("admin:curation_modelspec_changelist"),
        {"action": "delete_selected", "_selected_action": [s.pk for s in specs], "post": "yes"},
    )
    assert response.status_code == 302 and not ModelSpec.objects.exists()
    new = new_entries(mark)
    assert sorted((e.kind, e.action, e.target) for e in new) == [
        ("model", "admin delete", "a"),
        ("model", "admin delete", "b"),
    ]


def test_a_project_deleted_in_the_admin_keeps_its_entry(client, root):
    doomed = Project.create_with_defaults(name="Doomed", slug="doomed")
    mark = last_id()
    delete(client, doomed)
    entry = one_new(mark, kind="settings", action="admin delete", target="Doomed")
    assert entry.project_id is not None and entry.before["slug"] == "doomed"


def test_every_model_in_the_admin_is_audited_or_read_only():
    """A model added to the admin later cannot escape the log: this names it."""
    read_only = {"AuditEntry", "Verdict"}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("curation", "auth"):
            continue
        if model.__name__ in read_only:
            assert not model_admin.has_add_permission(None)
            assert not model_admin.has_change_permission(None) and not model_admin.has_delete_permission(None)
        elif model is Membership:
            assert type(model_admin).save_model is not admin.ModelAdmin.save_model  # the people service
        else:
            assert isinstance(model_admin, curation_admin.AuditedAdmin), model
            assert model in curation_admin.AUDIT_KINDS, model
    assert get_user_model() in curation_admin.AUDIT_KINDS


def test_admin_edits_show_on_the_project_log_to_engineers_only(client, root, project, member):
    spec = ModelSpec.objects.create(project=project, name="teacher", path="gpt2")
    change(client, spec, path="distilgpt2")
    client.force_login(member("engineer"))
    rows = client.get(reverse("api-audit", args=[project.slug]), {"kind": "model", "person": "root"}).json()
    assert [(r["action"], r["after"]) for r in rows["results"]] == [("admin change", {"path": "distilgpt2"})]
    client.force_login(member("reviewer"))
    assert client.get(reverse("api-audit", args=[project.slug])).status_code in (403, 404)

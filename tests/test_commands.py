import pytest
from django.core.management import CommandError, call_command

from curation.models import Membership, Project, Prompt
from tests.factories import UserFactory


def test_create_project_makes_default_tiers_stages_and_members(db):
    UserFactory(username="ana")
    call_command("create_project", "support", "--name", "Support", "--member", "ana:reviewer")
    project = Project.objects.get(slug="support")
    assert [t.name for t in project.tiers.all()] == ["easy", "medium", "hard"]
    assert [(s.name, s.is_pool) for s in project.stages.all()] == [
        ("pool", True),
        ("stage 1", False),
        ("stage 2", False),
        ("stage 3", False),
    ]
    assert Membership.objects.get(project=project).role == "reviewer"


def test_create_project_refuses_unknown_users_and_roles(db):
    with pytest.raises(CommandError, match="no user 'ghost'"):
        call_command("create_project", "p1", "--member", "ghost:reviewer")
    UserFactory(username="bo")
    with pytest.raises(CommandError, match="role must be one of"):
        call_command("create_project", "p2", "--member", "bo:admin")


def test_a_classification_project_needs_labels(db):
    with pytest.raises(CommandError, match="needs --labels"):
        call_command("create_project", "tri", "--task-type", "classification")


def test_import_prompts_command_imports_and_refuses_bad_files(db, tmp_path):
    call_command("create_project", "p")
    good = tmp_path / "good.jsonl"
    good.write_text('{"prompt": "a"}\n{"prompt": "b"}\n')
    call_command("import_prompts", "p", str(good))
    assert Prompt.objects.count() == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "c"}\n{oops\n')
    with pytest.raises(CommandError, match="Nothing imported: 1 bad line"):
        call_command("import_prompts", "p", str(bad))
    assert Prompt.objects.count() == 2

"""Migration 0011: stored prompt hashes are recomputed, twins share the hash, gold items follow."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from curation.models import Example, Prompt
from curation.normalize import split_key
from curation.services.gold import training_eligible
from tests.factories import ExampleFactory

BEFORE, AFTER = ("curation", "0010_hold_text_once"), ("curation", "0011_gold_guard")


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.fixture
def old_schema(transactional_db):
    apps = migrate(BEFORE)
    yield apps
    migrate(executor_leaf())


def executor_leaf():
    return MigrationExecutor(connection).loader.graph.leaf_nodes("curation")[0]


def old_rows(apps):
    """What 0010's code could leave: a plain prompt, its one-turn chat twin (newer), a stale admin edit."""
    Project, Prompt_ = apps.get_model("curation", "Project"), apps.get_model("curation", "Prompt")
    project = Project.objects.create(name="Old", slug="old")
    apps.get_model("curation", "Stage").objects.create(project=project, name="pool", is_pool=True)
    plain = Prompt_.objects.create(
        project=project, text="Reset my password", content_hash=split_key("Reset my password")
    )
    turns = [{"role": "user", "content": "reset my   PASSWORD"}]
    chat = Prompt_.objects.create(project=project, messages=turns, content_hash=split_key("", turns))
    edited = Prompt_.objects.create(project=project, text="Ship to Canada?", content_hash=split_key("Old text"))
    return project, plain, chat, edited


def test_stored_hashes_are_recomputed_and_a_twin_shares_the_older_prompts_hash(old_schema):
    project, plain, chat, edited = old_rows(old_schema)
    GoldItem_ = old_schema.get_model("curation", "GoldItem")
    GoldItem_.objects.create(project=project, prompt=plain, content_hash=plain.content_hash, reference="Use the link.")
    after = migrate(AFTER)  # read through 0011's models: the current ones have later columns
    Prompt_, Gold_ = after.get_model("curation", "Prompt"), after.get_model("curation", "GoldItem")
    plain, chat, edited = (Prompt_.objects.get(pk=p.pk) for p in (plain, chat, edited))
    assert chat.content_hash == plain.content_hash != split_key("", chat.messages)
    assert (plain.twin_of_id, chat.twin_of_id) == (None, plain.pk)  # the older keeps the hash alone, the twin names it
    assert edited.content_hash == split_key("Ship to Canada?") and edited.twin_of_id is None
    assert Gold_.objects.get(prompt=plain).content_hash == plain.content_hash
    migrate(executor_leaf())
    chat, edited = Prompt.objects.get(pk=chat.pk), Prompt.objects.get(pk=edited.pk)
    twin_example = ExampleFactory(prompt=chat, status="approved")
    kept = ExampleFactory(prompt=edited, status="approved")
    assert list(training_eligible(Example.objects.filter(prompt__project_id=project.pk))) == [kept]
    assert twin_example.pk not in training_eligible(Example.objects.all()).values_list("pk", flat=True)


def test_a_gold_item_on_a_chat_twin_takes_the_folded_hash(old_schema):
    project, plain, chat, _ = old_rows(old_schema)
    GoldItem_ = old_schema.get_model("curation", "GoldItem")
    GoldItem_.objects.create(project=project, prompt=chat, content_hash=chat.content_hash, reference="Use the link.")
    after = migrate(AFTER)
    Prompt_, Gold_ = after.get_model("curation", "Prompt"), after.get_model("curation", "GoldItem")
    assert Gold_.objects.get(prompt_id=chat.pk).content_hash == Prompt_.objects.get(pk=plain.pk).content_hash


def test_two_gold_items_of_one_prompt_stop_the_migration_naming_them(old_schema):
    project, plain, chat, _ = old_rows(old_schema)
    GoldItem_ = old_schema.get_model("curation", "GoldItem")
    a = GoldItem_.objects.create(project=project, prompt=plain, content_hash=plain.content_hash, reference="A")
    b = GoldItem_.objects.create(project=project, prompt=chat, content_hash=chat.content_hash, reference="B")
    with pytest.raises(RuntimeError, match=f"same prompt after normalisation.*{a.pk}, {b.pk}"):
        migrate(AFTER)
    assert GoldItem_.objects.get(pk=b.pk).content_hash == split_key("", chat.messages)  # nothing was written
    GoldItem_.objects.filter(pk=b.pk).delete()


def test_the_migration_goes_back(old_schema):
    _, plain, chat, _ = old_rows(old_schema)
    migrate(AFTER)
    migrate(BEFORE)
    Prompt_ = old_schema.get_model("curation", "Prompt")
    assert Prompt_.objects.get(pk=chat.pk).content_hash == split_key("", chat.messages)
    assert Prompt_.objects.get(pk=plain.pk).content_hash == split_key("Reset my password")

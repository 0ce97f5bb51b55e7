"""One gold guard: every stored prompt hash is recomputed as ``Prompt.save`` now computes it.

Before, ``Prompt.save`` filled an empty hash only (a prompt edited in the admin kept its
old one) and a chat of one user turn hashed apart from the same plain text. Recomputing
can make two prompts of a project equal: the oldest keeps the hash alone, each newer one
shares it as its ``twin_of`` (the unique constraint now skips twins), so the gold guard,
which compares stored hashes, covers both. Gold items take their prompt's new hash; two
gold items whose prompts became one cannot both be the guard's key, and the migration
stops naming them rather than drop one (discard one in the admin, then migrate again).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, Min, OuterRef, Subquery

from curation.normalize import content_hash, split_key

BATCH = 2000


def _rehash(apps, hash_of):
    Prompt = apps.get_model("curation", "Prompt")
    batch = []
    rows = Prompt.objects.order_by("id").values_list("id", "text", "messages", "content_hash")
    for pk, text, messages, stored in rows.iterator(chunk_size=BATCH):
        key = hash_of(text or "", messages)
        if key != stored:
            batch.append(Prompt(id=pk, content_hash=key))
        if len(batch) >= BATCH:
            Prompt.objects.bulk_update(batch, ["content_hash"])
            batch = []
    Prompt.objects.bulk_update(batch, ["content_hash"])


def _gold_follows_prompts(apps):
    GoldItem, Prompt = apps.get_model("curation", "GoldItem"), apps.get_model("curation", "Prompt")
    clashes = (
        GoldItem.objects.values("project_id", "prompt__content_hash")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("project_id", "prompt__content_hash")
    )
    named = [
        sorted(GoldItem.objects.filter(project_id=project, prompt__content_hash=key).values_list("id", flat=True))
        for project, key in clashes
    ]
    if named:
        raise RuntimeError(
            "These gold items are the same prompt after normalisation (a chat of one user turn equals "
            f"its plain text now): {'; '.join(', '.join(map(str, ids)) for ids in named)}. Keep one of each "
            "group: delete the others in the admin, then migrate again."
        )
    GoldItem.objects.update(
        content_hash=Subquery(Prompt.objects.filter(pk=OuterRef("prompt_id")).values("content_hash"))
    )


def _fire_deferred_checks(schema_editor):
    """PostgreSQL defers foreign-key checks to the commit, and refuses an index on a table with
    such checks pending: run them now, before the constraints come back."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def fold(apps, schema_editor):
    Prompt = apps.get_model("curation", "Prompt")
    _rehash(apps, content_hash)
    twins = 0
    same = Prompt.objects.values("project_id", "content_hash").annotate(n=Count("id"), first=Min("id")).filter(n__gt=1)
    for group in same.iterator():
        twins += (
            Prompt.objects.filter(project_id=group["project_id"], content_hash=group["content_hash"])
            .exclude(id=group["first"])
            .update(twin_of_id=group["first"])
        )
    _gold_follows_prompts(apps)
    _fire_deferred_checks(schema_editor)
    if twins:
        print(f"\n  {twins} prompt(s) equal an older prompt of their project after normalisation: see Prompt.twin_of.")


def unfold(apps, schema_editor):
    """Back to the old hashes (one-turn chats apart again); a stale admin hash is not restored."""
    apps.get_model("curation", "Prompt").objects.exclude(twin_of=None).update(twin_of=None)
    _rehash(apps, split_key)
    _gold_follows_prompts(apps)
    _fire_deferred_checks(schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0010_hold_text_once"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="prompt",
            name="prompt_unique_content",
        ),
        migrations.RemoveConstraint(
            model_name="golditem",
            name="gold_unique_content",
        ),
        migrations.AddField(
            model_name="prompt",
            name="twin_of",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                editable=False,
                help_text="The older prompt this one equals after normalisation (kept apart by migration 0011).",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="curation.prompt",
            ),
        ),
        migrations.AlterField(
            model_name="golditem",
            name="content_hash",
            field=models.CharField(editable=False, help_text="Its prompt's hash: the guard's key.", max_length=64),
        ),
        migrations.AlterField(
            model_name="prompt",
            name="content_hash",
            field=models.CharField(
                editable=False,
                help_text="sha256 of the normalised prompt: the dedup key and the gold guard's.",
                max_length=64,
            ),
        ),
        migrations.RunPython(fold, unfold),
        migrations.AddConstraint(
            model_name="prompt",
            constraint=models.UniqueConstraint(
                condition=models.Q(("twin_of", None)), fields=("project", "content_hash"), name="prompt_unique_content"
            ),
        ),
        migrations.AddConstraint(
            model_name="golditem",
            constraint=models.UniqueConstraint(fields=("project", "content_hash"), name="gold_unique_content"),
        ),
    ]

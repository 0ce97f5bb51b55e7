"""Blank the text copies 0009 made redundant (a migration of its own: PostgreSQL will not
alter a table with pending trigger events from a data change in the same transaction)."""

from django.db import migrations
from django.db.models import F, OuterRef, Subquery


def hold_text_once(apps, schema_editor):
    Example = apps.get_model("curation", "Example")
    Example.objects.filter(edited=False).exclude(original_response="").update(original_response="")
    Example.objects.filter(sample__isnull=False, edited=False, response=F("sample__text")).exclude(response="").update(
        response=""
    )


def copy_text_back(apps, schema_editor):
    Example = apps.get_model("curation", "Example")
    TeacherSample = apps.get_model("curation", "TeacherSample")
    Example.objects.filter(sample__isnull=False, response="").exclude(project__task_type="classification").update(
        response=Subquery(TeacherSample.objects.filter(pk=OuterRef("sample_id")).values("text")[:1])
    )
    Example.objects.filter(edited=False).update(original_response=F("response"))


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0009_bulk_write_cost"),
    ]

    operations = [
        migrations.RunPython(hold_text_once, copy_text_back),
    ]

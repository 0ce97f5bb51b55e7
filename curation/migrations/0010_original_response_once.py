"""An unedited example holds its text once: ``original_response`` is blank until a human edits.

Before, every row carried the teacher's text twice (response and original_response),
and every status change rewrote both.
"""
from django.db import migrations, models
from django.db.models import F


def forwards(apps, schema_editor):
    Example = apps.get_model("curation", "Example")
    Example.objects.filter(edited=False).exclude(original_response="").update(original_response="")


def backwards(apps, schema_editor):
    Example = apps.get_model("curation", "Example")
    Example.objects.filter(edited=False).update(original_response=F("response"))


class Migration(migrations.Migration):

    dependencies = [
        ("curation", "0009_bulk_write_cost"),
    ]

    operations = [
        migrations.AlterField(
            model_name="example",
            name="original_response",
            field=models.TextField(
                blank=True, help_text="The teacher's text, kept here once a human edits the response; blank until then."
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]

"""An example whose response is its teacher sample's text holds it once, in the sample.

``Example.response`` keeps only the row's own text (an edit, or an example without a
sample); ``Example.response_text`` reads either. The example table is the one every
status change rewrites, so its rows stay narrow. A sample an example shows can no
longer be deleted on its own (RESTRICT; it goes with its prompt or project).
"""
import django.db.models.deletion
from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery


def forwards(apps, schema_editor):
    Example = apps.get_model("curation", "Example")
    Example.objects.filter(sample__isnull=False, edited=False, response=F("sample__text")).exclude(
        response=""
    ).update(response="")


def backwards(apps, schema_editor):
    Example = apps.get_model("curation", "Example")
    TeacherSample = apps.get_model("curation", "TeacherSample")
    Example.objects.filter(sample__isnull=False, response="").exclude(project__task_type="classification").update(
        response=Subquery(TeacherSample.objects.filter(pk=OuterRef("sample_id")).values("text")[:1])
    )


class Migration(migrations.Migration):

    dependencies = [
        ("curation", "0010_original_response_once"),
    ]

    operations = [
        migrations.AlterField(
            model_name="example",
            name="sample",
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.RESTRICT, related_name="example", to="curation.teachersample"),
        ),
        migrations.RunPython(forwards, backwards),
    ]

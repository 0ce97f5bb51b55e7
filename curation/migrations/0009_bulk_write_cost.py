"""What a 100,000-row bulk action costs to write (the database parts are PostgreSQL's;
SQLite gets the model state and the data steps).

- Verdict: no database-level foreign keys (an audit table's usual shape; Django's
  cascades and SET_NULL still run). Their per-row checks at COMMIT were a fifth of the
  action. ``user`` has no index of its own: nothing reads verdicts by user alone.
- Example.status: a PostgreSQL enum, so the five queue indexes that start with it
  compare four fixed bytes instead of a collated varchar.
- Example: fillfactor 90, so a changed row's new version usually fits on its own page.
  It applies to pages written from now on (a ``VACUUM FULL curation_example`` applies
  it to the existing ones).
- Example text is held once: ``original_response`` stays blank until a human edits, and
  an example whose response is its teacher sample's text keeps no copy of it
  (``Example.response_text`` reads either; 0010 blanks the copies). A sample an example
  shows can no longer be deleted on its own (RESTRICT; it goes with its prompt or project).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import curation.models.fields
from curation.dbops import PostgresOnlySQL


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0008_bulk_perf"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="verdict",
            name="example",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="verdicts",
                to="curation.example",
            ),
        ),
        migrations.AlterField(
            model_name="verdict",
            name="project",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="verdicts",
                to="curation.project",
            ),
        ),
        migrations.AlterField(
            model_name="verdict",
            name="user",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="verdicts",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        # Django would alter the type without a USING cast, which PostgreSQL refuses.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                PostgresOnlySQL(
                    sql=[
                        "CREATE TYPE example_status AS ENUM ('pending', 'approved', 'rejected')",
                        "ALTER TABLE curation_example ALTER COLUMN status TYPE example_status USING status::example_status",
                    ],
                    reverse_sql=[
                        "ALTER TABLE curation_example ALTER COLUMN status TYPE varchar(20) USING status::text",
                        "DROP TYPE example_status",
                    ],
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="example",
                    name="status",
                    field=curation.models.fields.EnumCharField(
                        choices=[("pending", "Pending"), ("approved", "Approved"), ("rejected", "Rejected")],
                        default="pending",
                        enum_type="example_status",
                        max_length=20,
                    ),
                ),
            ],
        ),
        PostgresOnlySQL(
            sql="ALTER TABLE curation_example SET (fillfactor = 90)",
            reverse_sql="ALTER TABLE curation_example RESET (fillfactor)",
        ),
        migrations.AlterField(
            model_name="example",
            name="original_response",
            field=models.TextField(
                blank=True, help_text="The teacher's text, kept here once a human edits the response; blank until then."
            ),
        ),
        migrations.AlterField(
            model_name="example",
            name="sample",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="example",
                to="curation.teachersample",
            ),
        ),
    ]

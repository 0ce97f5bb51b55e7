"""Migration operations that only some database vendors understand."""

from django.db import migrations


class PostgresOnlySQL(migrations.RunSQL):
    """RunSQL on PostgreSQL; nothing on the embedded SQLite (which lacks GIN and pg_trgm)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


# The queue's text search is `UPPER(col::text) LIKE UPPER('%q%')` (Django's icontains):
# trigram GIN indexes on those exact expressions answer it without a scan. Response text
# is searched in the teacher samples (an unedited example's response is its sample's
# text) and, for edited or sample-less examples only, in the example table: a GIN entry
# there would be rewritten by every status change, bulk ones included.
TRIGRAM_INDEXES = PostgresOnlySQL(
    sql=[
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        "CREATE INDEX IF NOT EXISTS prompt_text_trgm ON curation_prompt USING gin (UPPER(text) gin_trgm_ops)",
        "CREATE INDEX IF NOT EXISTS prompt_messages_trgm ON curation_prompt USING gin (UPPER(messages::text) "
        "gin_trgm_ops)",
        "CREATE INDEX IF NOT EXISTS sample_text_trgm ON curation_teachersample USING gin (UPPER(text) gin_trgm_ops)",
        "CREATE INDEX IF NOT EXISTS ex_response_trgm ON curation_example USING gin (UPPER(response) gin_trgm_ops) "
        "WHERE (edited OR sample_id IS NULL)",
    ],
    reverse_sql=[
        "DROP INDEX IF EXISTS prompt_text_trgm",
        "DROP INDEX IF EXISTS prompt_messages_trgm",
        "DROP INDEX IF EXISTS sample_text_trgm",
        "DROP INDEX IF EXISTS ex_response_trgm",
    ],
)

"""Shared set-up for benchmarks that need Django (run as scripts: `python bench/x.py`)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup(require_postgres=False):
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    # The embedded development configuration, as `make demo` runs it (DEBUG is off unless set).
    os.environ.setdefault("DEBUG", "1")
    if require_postgres and not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("This benchmark measures PostgreSQL: set DATABASE_URL=postgres://... (it refuses SQLite).")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def copy_prompts(cursor, project_id, rows):
    """COPY ``rows`` of (text, content_hash, created_at) into ``curation_prompt``, every other
    column at its model default: a column added to Prompt later needs no change here."""
    from curation.models import Prompt

    given = ("project_id", "text", "content_hash", "created_at")
    fields = [
        f
        for f in Prompt._meta.concrete_fields
        if not f.primary_key and f.attname not in given and not f.null  # (a blank text column defaults to "")
    ]
    defaults = [_copy_value(f.get_default()) for f in fields]
    columns = ", ".join([*given, *(f.column for f in fields)])
    with cursor.copy(f"COPY curation_prompt ({columns}) FROM STDIN") as copy:
        for text, content_hash, created_at in rows:
            copy.write_row((project_id, text, content_hash, created_at, *defaults))


def _copy_value(value):
    import json

    return json.dumps(value) if isinstance(value, (dict, list)) else value

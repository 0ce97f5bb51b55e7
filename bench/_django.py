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

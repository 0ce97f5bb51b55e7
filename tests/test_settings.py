import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from webapp.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("raw, expected", [("1", True), ("true", True), ("YES", True), ("off", False), ("0", False)])
def test_booleans_parse_strictly(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", not expected) is expected


def test_a_bad_boolean_is_an_error_not_false(monkeypatch):
    monkeypatch.setenv("FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="FLAG='ture' is not a boolean"):
        env_bool("FLAG", False)


def test_a_bad_integer_names_the_variable(monkeypatch):
    monkeypatch.setenv("N", "12MB")
    with pytest.raises(ImproperlyConfigured, match="N='12MB' is not an integer"):
        env_int("N", 1)


def test_lists_split_on_commas(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.example, b.example,,")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def _run(args, env, tmp_path):
    """``python args`` with ``env`` on top of this environment less its DEBUG, secret and services."""
    dropped = ("SECRET_KEY", "DEBUG", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "ALLOWED_HOSTS")
    env = {k: v for k, v in os.environ.items() if k not in dropped} | env
    env["DATA_DIR"] = str(tmp_path)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _start(env, tmp_path):
    return _run(["manage.py", "check"], env, tmp_path)


def test_production_mode_refuses_to_start_without_a_secret_key(tmp_path):
    out = _start({"DEBUG": "0"}, tmp_path)
    assert out.returncode != 0
    assert "SECRET_KEY is required when DEBUG=0" in out.stderr


def test_a_typo_in_debug_stops_start_up(tmp_path):
    out = _start({"DEBUG": "flase"}, tmp_path)
    assert out.returncode != 0 and "DEBUG='flase' is not a boolean" in out.stderr


def test_debug_is_off_unless_the_environment_sets_it(tmp_path):
    """A deployment that forgets DEBUG runs in production mode (and so needs a secret key)."""
    out = _start({}, tmp_path)
    assert out.returncode != 0
    assert "SECRET_KEY is required when DEBUG=0 (production mode, the default)" in out.stderr
    assert "set DEBUG=1" in out.stderr  # and says what a developer does instead
    code = "import django; django.setup(); from django.conf import settings as s; print(s.DEBUG, s.SECURE_SSL_REDIRECT)"
    env = {"SECRET_KEY": "s" * 50, "DJANGO_SETTINGS_MODULE": "webapp.settings"}
    out = _run(["-c", code], env, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]


def test_a_404_without_debug_in_the_environment_is_the_apps_page(tmp_path):
    """No DEBUG variable at all: a missing page is the app's styled 404, not Django's debug page."""
    code = (
        "import django; django.setup(); from django.test import Client;"
        "r = Client().get('/no-such-page/', secure=True); print(r.status_code); print(r.content.decode())"
    )
    env = {"SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "testserver", "DJANGO_SETTINGS_MODULE": "webapp.settings"}
    out = _run(["-c", code], env, tmp_path)
    assert out.returncode == 0, out.stderr
    status, page = out.stdout.split("\n", 1)
    assert status == "404"
    assert "Nothing here" in page and 'href="/static/' in page  # the app's page, with its own styles
    assert "Using the URLconf" not in page and "DEBUG = True" not in page


def test_make_demo_runs_in_development_mode_by_itself(tmp_path):
    """``manage.py demo`` turns DEBUG on for itself (a plain HTTP server on this machine), unless set."""
    code = "\n".join(
        [
            "import os, sys",
            "sys.argv = ['manage.py', 'demo', '--help']",
            "import manage",
            "try:",
            "    manage.main()",
            "except SystemExit:",
            "    pass",
            "print('DEBUG=' + os.environ.get('DEBUG', 'unset'))",
        ]
    )
    out = _run(["-c", code], {}, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("DEBUG=1"), out.stdout
    out = _run(["-c", code], {"DEBUG": "0", "SECRET_KEY": "s" * 50}, tmp_path)  # the environment decides when it says
    assert out.stdout.strip().endswith("DEBUG=0"), out.stdout


def test_production_mode_starts_with_a_secret_key(tmp_path):
    out = _start({"DEBUG": "0", "SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "example.org"}, tmp_path)
    assert out.returncode == 0, out.stderr


def test_celery_is_json_only_with_late_acks(settings):
    from webapp.celery import app

    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_time_limit and app.conf.task_soft_time_limit
    assert app.amqp.router.route({}, "workers.tasks.gpu.generate")["queue"].name == "gpu"
    assert app.amqp.router.route({}, "workers.tasks.health.ping")["queue"].name == "default"


def test_the_embedded_default_is_sqlite_in_wal_mode(db, settings):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("DATABASE_URL points at PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        mode = cursor.fetchone()[0]
    # The test database is in memory, where SQLite reports "memory"; a file database reports "wal".
    assert mode in ("wal", "memory")
    assert "journal_mode=WAL" in settings.DATABASES["default"]["OPTIONS"]["init_command"]


def test_the_embedded_broker_does_not_warn_about_its_missing_hostname(settings, caplog):
    if settings.CELERY_BROKER_URL != "filesystem://":
        pytest.skip("the broker is not the embedded filesystem one")
    from kombu import Connection

    with caplog.at_level(logging.INFO):
        Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS).as_uri()
    assert "No hostname was supplied" not in caplog.text

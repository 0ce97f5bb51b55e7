"""`make demo` serves as a deployment does (DEBUG off) over plain HTTP on this machine."""

import os
import stat
import subprocess
import sys
from pathlib import Path

from curation.management.commands.demo import serving_env

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_secret_key_is_made_once_and_kept_private(tmp_path):
    first = serving_env("127.0.0.1", tmp_path)
    assert first["DEBUG"] == "0" and len(first["SECRET_KEY"]) >= 50
    assert stat.S_IMODE((tmp_path / "demo-secret-key").stat().st_mode) == 0o600
    assert serving_env("0.0.0.0", tmp_path)["SECRET_KEY"] == first["SECRET_KEY"]  # logins last across restarts
    assert serving_env("0.0.0.0", tmp_path)["ALLOWED_HOSTS"] == "0.0.0.0,127.0.0.1,localhost"


def test_the_demo_server_answers_plain_http_with_the_apps_404(tmp_path):
    code = (
        "import django; django.setup(); from django.test import Client; c = Client(HTTP_HOST='127.0.0.1');"
        "r = c.get('/no-such-page/'); print(r.status_code); print(c.get('/healthz').status_code);"
        "print(r.content.decode())"
    )
    dropped = ("SECRET_KEY", "DEBUG", "DATABASE_URL", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env |= serving_env("127.0.0.1", tmp_path) | {"DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "webapp.settings"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    status, health, page = out.stdout.split("\n", 2)
    assert (status, health) == ("404", "200")  # plain HTTP: no redirect to https
    assert "Nothing here" in page and "Using the URLconf" not in page

"""Security headers, HTTPS settings, session expiry and login throttling."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent


def production_env(tmp_path, **extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(
        DEBUG="0",
        SECRET_KEY="x7Jq2-Lr9vQ0sT4wZp8nB1cF6hK3mD5gY0aE2uI7oP9lR4tW6yS8",
        ALLOWED_HOSTS="curation.example.org",
        DATA_DIR=str(tmp_path),
        **extra,
    )
    return env


def run(args, env):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def production_settings(tmp_path, **extra):
    code = (
        "import json, django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'webapp.settings'); django.setup();"
        "from django.conf import settings as s;"
        "print(json.dumps({k: getattr(s, k, None) for k in ['SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS',"
        " 'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_AGE', 'SESSION_EXPIRE_AT_BROWSER_CLOSE', 'SESSION_SAVE_EVERY_REQUEST',"
        " 'SESSION_COOKIE_SECURE', 'AXES_FAILURE_LIMIT', 'AUTHENTICATION_BACKENDS']}, default=str))"
    )
    result = run(["-c", code], production_env(tmp_path, **extra))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_hsts_is_switched_off(tmp_path):
    """The test above can fail: without HSTS the deploy check speaks up."""
    env = production_env(tmp_path, SECURE_HSTS_SECONDS="0")
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode != 0 and "security.W004" in result.stdout + result.stderr


def test_production_defaults_and_their_environment_overrides(tmp_path):
    defaults = production_settings(tmp_path)
    assert defaults["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600 and defaults["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert defaults["SECURE_SSL_REDIRECT"] is True and defaults["SESSION_COOKIE_SECURE"] is True
    assert defaults["SESSION_COOKIE_AGE"] == 14 * 24 * 3600 and defaults["SESSION_SAVE_EVERY_REQUEST"] is False
    changed = production_settings(
        tmp_path,
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="0",
        SESSION_COOKIE_AGE="1800",
        SESSION_SAVE_EVERY_REQUEST="1",
        SESSION_EXPIRE_AT_BROWSER_CLOSE="1",
        LOGIN_FAILURE_LIMIT="3",
    )
    assert changed["SECURE_HSTS_SECONDS"] == 600 and changed["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert changed["SESSION_COOKIE_AGE"] == 1800 and changed["SESSION_SAVE_EVERY_REQUEST"] is True
    assert changed["SESSION_EXPIRE_AT_BROWSER_CLOSE"] is True and changed["AXES_FAILURE_LIMIT"] == 3


def test_local_accounts_can_be_switched_off_only_with_single_sign_on(tmp_path):
    result = run(["manage.py", "check"], production_env(tmp_path, LOCAL_LOGIN="0"))
    assert result.returncode != 0 and "LOCAL_LOGIN=0 needs single sign-on" in result.stderr
    backends = production_settings(
        tmp_path,
        LOCAL_LOGIN="0",
        OIDC_ISSUER="https://id.example.org",
        OIDC_CLIENT_ID="curation",
        OIDC_CLIENT_SECRET="s3cret",
    )["AUTHENTICATION_BACKENDS"]
    assert backends == ["axes.backends.AxesStandaloneBackend", "curation.sso.SSOBackend"]


def test_the_client_secret_comes_from_the_variable_named(tmp_path):
    env = dict(
        OIDC_ISSUER="https://id.example.org",
        OIDC_CLIENT_ID="curation",
        OIDC_CLIENT_SECRET_ENV="VAULT_OIDC_SECRET",
    )
    result = run(["manage.py", "check"], production_env(tmp_path, **env))
    assert result.returncode != 0 and "VAULT_OIDC_SECRET is required" in result.stderr


@pytest.mark.django_db
def test_pages_carry_a_csp_without_unsafe_inline_or_eval(client):
    response = client.get(reverse("login"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


@pytest.mark.django_db
def test_hsts_is_sent_over_https_when_configured(client, settings):
    settings.SECURE_HSTS_SECONDS = 600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = False
    response = client.get(reverse("login"), secure=True)
    assert response["Strict-Transport-Security"] == "max-age=600"


@pytest.mark.django_db
def test_repeated_bad_passwords_lock_the_login_out_with_a_clear_page(client, settings):
    UserFactory(username="alice")
    UserFactory(username="bob")
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(url, {"username": "alice", "password": "wrong"})
        assert response.status_code == 200 and "didn't match" in response.content.decode()
    response = client.post(url, {"username": "alice", "password": "wrong"})
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-ins" in page and "alice" in page and "0:15:00" in page
    # Locked: even the right password is refused now, while bob is not affected.
    response = client.post(url, {"username": "alice", "password": "pw"})
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    response = client.post(url, {"username": "bob", "password": "pw"})
    assert response.status_code == 302 and client.session["_auth_user_id"]


@pytest.mark.django_db
def test_a_good_password_before_the_limit_resets_the_count(client, settings):
    UserFactory(username="alice")
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(url, {"username": "alice", "password": "wrong"})
    assert client.post(url, {"username": "alice", "password": "pw"}).status_code == 302
    client.post(reverse("logout"))
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(url, {"username": "alice", "password": "wrong"}).status_code == 200

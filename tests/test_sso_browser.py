"""Single sign-on end to end in Chromium, against a real OpenID Connect provider in its own process
(django-oauth-toolkit, tests/oidc_provider/): the mapped role on arrival, a foreign domain refused."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from curation.models import AuditEntry, Membership
from tests.factories import ProjectFactory
from tests.test_review_browser import chromium, screenshot, serial_live_server, settle  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent
CLIENT = {"client_id": "curation-app", "client_secret": "provider-test-secret"}
USERS = [
    {"username": "ada", "password": "ada-pw", "email": "ada@allowed.example", "groups": ["ml-team"]},
    {"username": "mallory", "password": "mallory-pw", "email": "mallory@elsewhere.example", "groups": ["ml-team"]},
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def provider(serial_live_server, tmp_path_factory):
    """The provider's issuer URL; its process lives as long as this module's tests."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    port = _free_port()
    env = {
        **os.environ,
        "OIDC_PROVIDER_DB": str(tmp_path_factory.mktemp("provider") / "provider.sqlite3"),
        "OIDC_PROVIDER_KEY": pem,
        "OIDC_PROVIDER_CLIENT": json.dumps({**CLIENT, "redirect_uri": f"{serial_live_server}/oidc/callback/"}),
        "OIDC_PROVIDER_USERS": json.dumps(USERS),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.oidc_provider.serve", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    issuer = f"http://127.0.0.1:{port}/o"
    try:
        for _ in range(300):  # migrations on a loaded machine: up to 300 polls, 0.2 s apart
            if process.poll() is not None:
                pytest.fail("the OIDC provider stopped: " + process.stderr.read().decode()[-2000:])
            try:
                if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("the OIDC provider did not answer")
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def sso(settings, provider, serial_live_server):
    settings.SSO_ENABLED = True
    settings.OIDC_ISSUER = provider
    settings.OIDC_RP_CLIENT_ID = CLIENT["client_id"]
    settings.OIDC_RP_CLIENT_SECRET = CLIENT["client_secret"]
    settings.OIDC_RP_SIGN_ALGO = "RS256"
    settings.OIDC_RP_SCOPES = "openid email profile"
    settings.OIDC_USE_PKCE = True
    settings.OIDC_TIMEOUT = 30
    settings.LOGIN_REDIRECT_URL_FAILURE = "sso-refused"
    settings.OIDC_ALLOWED_DOMAINS = ["allowed.example"]
    settings.OIDC_DEFAULT_MEMBERSHIPS = ["triage:reader"]
    settings.OIDC_ROLE_CLAIM = "groups"
    settings.OIDC_CLAIM_MEMBERSHIPS = ["ml-team:triage:engineer"]
    settings.OIDC_LABEL = "Sign in with Example SSO"
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, "curation.sso.SSOBackend"]
    ProjectFactory(name="Ticket triage", slug="triage")
    return serial_live_server


def _sign_in_at_the_provider(browser, base, username, password):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base}/p/triage/")
    page.wait_for_url(f"{base}/login/**")
    page.click("text=Sign in with Example SSO")
    page.wait_for_url("http://127.0.0.1:*/login/**")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("text=Sign in at the provider")
    return page


def test_an_sso_user_lands_in_the_project_with_the_mapped_role(chromium, sso):
    page = _sign_in_at_the_provider(chromium, sso, "ada", "ada-pw")
    page.wait_for_url(f"{sso}/p/triage/")
    settle(page)
    assert "engineer" in page.locator(".topbar .user").inner_text()
    assert page.locator(".project-nav a", has_text="Audit").count() == 1  # engineers' links
    screenshot(page, "sso-landed.png")
    membership = Membership.objects.get(user__username="ada", project__slug="triage")
    assert membership.role == "engineer" and membership.user.email == "ada@allowed.example"
    entry = AuditEntry.objects.get(kind="membership", target="ada")
    assert entry.after == {"user": "ada", "role": "engineer"} and entry.actor_id is None
    page.context.close()


def test_a_user_from_a_domain_not_allowed_is_refused_with_a_clear_page(chromium, sso):
    page = _sign_in_at_the_provider(chromium, sso, "mallory", "mallory-pw")
    page.wait_for_url(f"{sso}/sso/refused/")
    text = page.locator("main").inner_text()
    assert "Single sign-on refused" in text
    assert "Accounts from elsewhere.example may not sign in here" in text and "@allowed.example" in text
    screenshot(page, "sso-refused.png")
    assert not Membership.objects.filter(user__username="mallory").exists()
    page.goto(f"{sso}/p/triage/")
    page.wait_for_url(f"{sso}/login/**")  # not signed in
    page.context.close()

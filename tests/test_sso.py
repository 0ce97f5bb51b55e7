"""Single sign-on rules without a browser: who is refused, which claims give which role."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from curation import sso


@pytest.fixture
def mapping(settings):
    settings.OIDC_ALLOWED_DOMAINS = ["allowed.example"]
    settings.OIDC_DEFAULT_MEMBERSHIPS = ["triage:reader", "drafting:reviewer"]
    settings.OIDC_ROLE_CLAIM = "groups"
    settings.OIDC_CLAIM_MEMBERSHIPS = ["ml-team:triage:engineer", "experts:triage:reviewer", "experts:drafting:reader"]


def test_claims_give_the_highest_role_per_project(mapping):
    assert sso.roles_from_claims({"groups": ["experts"]}) == {"triage": "reviewer", "drafting": "reviewer"}
    assert sso.roles_from_claims({"groups": ["experts", "ml-team"]})["triage"] == "engineer"
    assert sso.roles_from_claims({}) == {"triage": "reader", "drafting": "reviewer"}
    assert sso.roles_from_claims({"groups": "ml-team"})["triage"] == "engineer"  # one string claim


def test_a_badly_written_mapping_stops_with_the_entry_named(settings, mapping):
    settings.OIDC_DEFAULT_MEMBERSHIPS = ["triage:boss"]
    settings.OIDC_CLAIM_MEMBERSHIPS = []
    with pytest.raises(ImproperlyConfigured, match="'triage:boss'"):
        sso.roles_from_claims({})


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"email": "ada@allowed.example", "email_verified": True}, None),
        ({"email": "Ada@ALLOWED.example"}, None),
        ({"email": "eve@elsewhere.example"}, "Accounts from elsewhere.example may not sign in here"),
        ({"email": "ada@allowed.example", "email_verified": False}, "has not verified"),
        ({"sub": "42"}, "did not share an e-mail address"),
    ],
)
def test_who_is_refused_and_why(mapping, claims, reason):
    got = sso.refusal(claims)
    assert (got is None) if reason is None else (reason in got)


@pytest.mark.django_db
def test_sso_pages_are_404_while_sso_is_off(client):
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404
    assert "Sign in with" not in client.get(reverse("login")).content.decode()


@pytest.mark.django_db
def test_with_local_accounts_off_the_password_form_is_gone_and_refused(client, settings):
    from tests.factories import UserFactory

    UserFactory(username="alice")
    settings.LOCAL_LOGIN = False
    settings.SSO_ENABLED = True
    settings.OIDC_LABEL = "Sign in with Example SSO"
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with Example SSO" in page and 'name="password"' not in page
    assert client.post(reverse("login"), {"username": "alice", "password": "pw"}).status_code == 405
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_refused_page_says_why_once(client):
    session = client.session
    session[sso.REFUSED] = "Accounts from elsewhere.example may not sign in here."
    session.save()
    response = client.get(reverse("sso-refused"))
    assert response.status_code == 403 and "elsewhere.example" in response.content.decode()
    assert "did not let you sign in" in client.get(reverse("sso-refused")).content.decode()


def test_a_bad_mapping_fails_the_system_check(settings, mapping):
    settings.SSO_ENABLED = True
    assert sso.check_membership_mapping() == []
    settings.OIDC_CLAIM_MEMBERSHIPS = ["ml-team:triage"]
    errors = sso.check_membership_mapping()
    assert [e.id for e in errors] == ["curation.E001"] and "value:project-slug:role" in errors[0].msg

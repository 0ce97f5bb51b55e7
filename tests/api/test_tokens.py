import hashlib
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.throttling import UserRateThrottle

from curation.models import ApiToken
from tests.factories import MembershipFactory, UserFactory

TOKENS = "/api/v1/tokens/"


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


def create_token(client, user, name="pipeline"):
    client.force_login(user)
    response = client.post(TOKENS, {"name": name}, content_type="application/json")
    client.logout()
    assert response.status_code == 201, response.content
    return response.json()


def test_creating_a_token_shows_its_key_once_and_listing_shows_only_the_prefix(client, alice):
    created = create_token(client, alice)
    key = created["key"]
    assert key.startswith("cc_") and created["prefix"] == key[3:11]
    client.force_login(alice)
    listed = client.get(TOKENS).json()["results"]
    assert [t["name"] for t in listed] == ["pipeline"]
    assert "key" not in listed[0] and key not in client.get(TOKENS).content.decode()
    assert listed[0]["prefix"] == created["prefix"]


def test_a_token_is_stored_only_as_its_hash(client, alice):
    key = create_token(client, alice)["key"]
    token = ApiToken.objects.get(user=alice)
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")
        stored = " ".join(str(v) for row in cursor.fetchall() for v in row)
    assert key not in stored and key[3:] not in stored


@pytest.mark.parametrize("keyword", ["Token", "Bearer", "bearer"])
def test_a_token_authenticates_with_either_keyword(client, alice, keyword):
    key = create_token(client, alice)["key"]
    response = client.get(TOKENS, HTTP_AUTHORIZATION=f"{keyword} {key}")
    assert response.status_code == 200
    assert response.json()["results"][0]["last_used_at"] is not None


def test_a_revoked_token_stops_working_at_once(client, alice):
    created = create_token(client, alice)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {created['key']}"}
    assert client.delete(f"{TOKENS}{created['id']}/", **auth).status_code == 204
    response = client.get(TOKENS, **auth)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert ApiToken.objects.get(pk=created["id"]).revoked_at is not None


def test_revoking_twice_is_harmless(client, alice):
    created = create_token(client, alice)
    client.force_login(alice)
    assert client.delete(f"{TOKENS}{created['id']}/").status_code == 204
    first = ApiToken.objects.get(pk=created["id"]).revoked_at
    assert client.delete(f"{TOKENS}{created['id']}/").status_code == 204
    assert ApiToken.objects.get(pk=created["id"]).revoked_at == first


def test_nobody_can_see_or_revoke_another_users_token(client, alice):
    created = create_token(client, alice)
    client.force_login(UserFactory(username="mallory"))
    assert client.get(TOKENS).json()["results"] == []
    assert client.delete(f"{TOKENS}{created['id']}/").status_code == 404
    assert ApiToken.objects.get(pk=created["id"]).is_active


@pytest.mark.parametrize("header", ["Token", "Token a b", "Bearer cc_not-a-real-key", "Token \u00e9t\u00e9"])
def test_a_bad_authorization_header_is_a_401_naming_the_header(client, db, header):
    response = client.get(TOKENS, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert "Authorization" in response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Token")


def test_an_unauthenticated_client_gets_401_not_a_login_page(client, db):
    response = client.get(TOKENS)
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'Token realm="api"'


def test_a_token_of_a_deactivated_user_is_refused(client, alice):
    key = create_token(client, alice)["key"]
    alice.is_active = False
    alice.save()
    assert client.get(TOKENS, HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_last_used_is_written_at_most_once_a_minute(client, alice, django_assert_num_queries):
    key = create_token(client, alice)["key"]
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    client.get(TOKENS, **auth)
    stamp = ApiToken.objects.get(user=alice).last_used_at
    client.get(TOKENS, **auth)
    assert ApiToken.objects.get(user=alice).last_used_at == stamp
    ApiToken.objects.filter(user=alice).update(last_used_at=timezone.now() - timedelta(minutes=5))
    client.get(TOKENS, **auth)
    assert ApiToken.objects.get(user=alice).last_used_at > stamp - timedelta(minutes=1)


@pytest.mark.parametrize(
    "body, field", [({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 101}, "name"), ({"name": ["a"]}, "name")]
)
def test_a_token_needs_a_sensible_name(client, alice, body, field):
    client.force_login(alice)
    response = client.post(TOKENS, body, content_type="application/json")
    assert response.status_code == 400 and field in response.json()


def test_token_clients_are_throttled_per_user(client, alice, monkeypatch):
    from django.core.cache import cache

    first = create_token(client, alice, "one")["key"]
    second = create_token(client, alice, "two")["key"]
    bob_key = create_token(client, UserFactory(username="bob"), "bob")["key"]
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "3/minute")
    cache.clear()
    statuses = [client.get(TOKENS, HTTP_AUTHORIZATION=f"Token {k}").status_code for k in (first, second, first, second)]
    # Both of alice's tokens share her allowance; bob's is his own.
    assert statuses == [200, 200, 200, 429]
    assert client.get(TOKENS, HTTP_AUTHORIZATION=f"Token {bob_key}").status_code == 200
    cache.clear()


# ---------------------------------------------------------------- the page
def test_the_tokens_page_shows_a_new_key_once_then_only_its_prefix(client, alice):
    client.force_login(alice)
    response = client.post(reverse("token-list"), {"name": "notebook"}, follow=True)
    key = ApiToken.objects.get(user=alice)
    page = response.content.decode()
    shown = page.split('id="new-token-key" class="token-key">')[1].split("<")[0]
    assert ApiToken.hash_key(shown) == key.key_hash
    again = client.get(reverse("token-list")).content.decode()
    assert shown not in again and f"cc_{key.prefix}…" in again


def test_the_tokens_page_revokes(client, alice):
    client.force_login(alice)
    client.post(reverse("token-list"), {"name": "notebook"})
    token = ApiToken.objects.get(user=alice)
    response = client.post(reverse("token-revoke", args=[token.pk]), follow=True)
    assert "is revoked" in response.content.decode()
    token.refresh_from_db()
    assert not token.is_active


def test_the_tokens_page_escapes_token_names(client, alice):
    client.force_login(alice)
    client.post(reverse("token-list"), {"name": "<script>alert(1)</script>"})
    page = client.get(reverse("token-list")).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_tokens_page_refuses_a_blank_name_and_another_users_revoke(client, alice):
    client.force_login(alice)
    assert client.post(reverse("token-list"), {"name": ""}).status_code == 400
    other = ApiToken.issue(UserFactory(username="carol"), "hers")[0]
    assert client.post(reverse("token-revoke", args=[other.pk])).status_code == 404
    assert client.get(reverse("token-revoke", args=[other.pk])).status_code == 405


def test_the_tokens_page_needs_a_login(client, db):
    response = client.get(reverse("token-list"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_a_token_acts_with_its_users_role(client, alice, project):
    MembershipFactory(user=alice, project=project, role="reader")
    key = create_token(client, alice)["key"]
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    assert client.get(f"/api/v1/projects/{project.slug}/", **auth).status_code == 200
    response = client.post(
        f"/api/v1/projects/{project.slug}/snapshots/",
        {"name": "x", "stage": "stage 1"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 403


def test_a_read_only_token_can_read_but_not_write(client, alice, project):
    MembershipFactory(project=project, user=alice, role="engineer")
    client.force_login(alice)
    key = client.post(TOKENS, {"name": "reader", "scope": "read"}, content_type="application/json").json()["key"]
    client.logout()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert client.get(f"/api/v1/projects/{project.slug}/prompts/", **auth).status_code == 200
    response = client.post(TOKENS, {"name": "escalate"}, content_type="application/json", **auth)
    assert response.status_code == 403 and "read-only" in response.json()["detail"]
    assert ApiToken.objects.filter(user=alice).count() == 1


def test_a_capture_only_token_can_only_send_prompts(client, alice, project):
    MembershipFactory(project=project, user=alice, role="engineer")
    client.force_login(alice)
    key = client.post(TOKENS, {"name": "prod", "scope": "capture"}, content_type="application/json").json()["key"]
    client.logout()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert client.get(f"/api/v1/projects/{project.slug}/prompts/", **auth).status_code == 403
    upload = io.BytesIO(b'{"prompt": "A customer asks about refunds."}\n')
    upload.name = "traffic.jsonl"
    response = client.post(reverse("api-prompts-import", args=[project.slug]), {"file": upload}, **auth)
    assert response.status_code == 201, response.content
    assert client.get(TOKENS, **auth).status_code == 403


def test_an_expired_token_is_refused_with_its_date(client, alice):
    created = create_token(client, alice)
    ApiToken.objects.filter(pk=created["id"]).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(TOKENS, HTTP_AUTHORIZATION=f"Bearer {created['key']}")
    assert response.status_code == 401 and "expired on" in response.json()["detail"]
    assert ApiToken.objects.get(pk=created["id"]).is_active is False


def test_expiry_and_scope_are_checked_naming_the_field(client, alice):
    client.force_login(alice)
    bad = client.post(TOKENS, {"name": "x", "expires_in_days": 0}, content_type="application/json")
    assert bad.status_code == 400 and "expires_in_days" in bad.json()
    bad = client.post(TOKENS, {"name": "x", "scope": "root"}, content_type="application/json")
    assert bad.status_code == 400 and "scope" in bad.json()
    made = client.post(TOKENS, {"name": "x", "expires_in_days": 7}, content_type="application/json").json()
    assert made["scope"] == "full" and made["expires_at"] is not None


def test_the_tokens_page_creates_a_scoped_token_that_expires(client, alice):
    client.force_login(alice)
    response = client.post(reverse("token-list"), {"name": "puller", "scope": "read", "expires": "90"}, follow=True)
    token = ApiToken.objects.get(user=alice)
    assert token.scope == "read" and 89 <= (token.expires_at - timezone.now()).days <= 90
    assert "read" in response.content.decode()
    client.post(reverse("token-list"), {"name": "forever", "scope": "full", "expires": "never"})
    assert ApiToken.objects.get(name="forever").expires_at is None

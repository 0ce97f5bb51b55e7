"""API tokens: issue (the key is returned once), revoke. Only sha256(key) is stored.

A token has a scope (``full``; ``read``: safe methods only; ``capture``: only sending
prompts into the pool, for a production service) and an optional expiry; both are
enforced by ``api.authentication.ApiTokenAuthentication``.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from curation.models import ApiToken
from curation.services import audit
from curation.services.errors import ReviewError
from curation.services.inputs import parse_whole

MAX_ACTIVE = 100
MAX_DAYS = 3650
# The routes a capture-only token may POST to (route names of curation/api/urls.py).
# What a capture-only token may POST to: the prompt import and production capture.
CAPTURE_ROUTES = {"api-prompts-import", "api-capture"}


def expiry(days) -> timezone.datetime | None:
    """When a token made now for ``days`` days expires (None, "" or "never": never).

    ReviewError on ``expires_in_days`` for anything but 1 to MAX_DAYS.
    """
    if days in (None, "", "never"):
        return None
    value = parse_whole(days, 1, MAX_DAYS)
    if value is None:
        raise ReviewError(f"A whole number of days from 1 to {MAX_DAYS}, or never; got {days!r}.", "expires_in_days")
    return timezone.now() + timedelta(days=value)


@transaction.atomic
def issue(user, name: str, scope: str = ApiToken.Scope.FULL, days=None):
    """(token, key) for a new token of ``user``; ReviewError naming the field for a blank name, a bad scope or
    expiry, or too many tokens."""
    name = (name or "").strip()
    if not name:
        raise ReviewError("Give the token a name, e.g. what will use it.", "name")
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise ReviewError("At most 100 characters.", "name")
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE:
        raise ReviewError(f"You have {MAX_ACTIVE} active tokens; revoke one you no longer use first.", "name")
    if scope not in ApiToken.Scope.values:
        raise ReviewError(f"choose one of {', '.join(ApiToken.Scope.values)}.", "scope")
    token, key = ApiToken.issue(user, name, scope=scope, expires_at=expiry(days))
    audit.record(audit.Kind.TOKEN, "issue", token, by=user, after=token_state(token))
    return token, key


@transaction.atomic
def revoke(token: ApiToken, *, by=None) -> ApiToken:
    if token.revoked_at is None:
        before = token_state(token)
        token.revoke()
        audit.record(audit.Kind.TOKEN, "revoke", token, by=by or token.user, before=before, after=token_state(token))
    return token


def token_state(token: ApiToken) -> dict:
    """What the log keeps of a token: never its key or hash."""
    return {
        "owner": token.user.get_username(),
        "name": token.name,
        "prefix": token.prefix,
        "scope": token.scope,
        "expires_at": token.expires_at,
        "active": token.is_active,
    }

"""API tokens: issue (the key is returned once), revoke. Only sha256(key) is stored."""

from django.db import transaction

from curation.models import ApiToken
from curation.services import audit
from curation.services.errors import ReviewError

MAX_ACTIVE = 100


@transaction.atomic
def issue(user, name: str):
    """(token, key) for a new token of ``user``; ReviewError (on ``name``) for a blank name or too many tokens."""
    name = (name or "").strip()
    if not name:
        raise ReviewError("Give the token a name, e.g. what will use it.", "name")
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise ReviewError("At most 100 characters.", "name")
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE:
        raise ReviewError(f"You have {MAX_ACTIVE} active tokens; revoke one you no longer use first.", "name")
    token, key = ApiToken.issue(user, name)
    audit.record(audit.Kind.TOKEN, "issue", token, by=user, after=_described(token))
    return token, key


@transaction.atomic
def revoke(token: ApiToken, *, by=None) -> ApiToken:
    if token.revoked_at is None:
        before = _described(token)
        token.revoke()
        audit.record(audit.Kind.TOKEN, "revoke", token, by=by or token.user, before=before, after=_described(token))
    return token


def _described(token: ApiToken) -> dict:
    """What the log keeps of a token: never its key or hash."""
    return {"owner": token.user.get_username(), "name": token.name, "prefix": token.prefix, "active": token.is_active}

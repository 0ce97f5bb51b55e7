"""API tokens: issue (the key is returned once), revoke. Only sha256(key) is stored."""

from curation.models import ApiToken
from curation.services.errors import ReviewError

MAX_ACTIVE = 100


def issue(user, name: str, scope: str = ApiToken.Scope.ALL):
    """(token, key) for a new token of ``user``; ReviewError (on ``name`` or ``scope``) for a bad request.

    A ``capture`` token can only send production captures (``api/authentication.py`` holds it there).
    """
    if scope not in ApiToken.Scope.values:
        raise ReviewError(f"Choose one of {', '.join(ApiToken.Scope.values)}.", "scope")
    name = (name or "").strip()
    if not name:
        raise ReviewError("Give the token a name, e.g. what will use it.", "name")
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise ReviewError("At most 100 characters.", "name")
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE:
        raise ReviewError(f"You have {MAX_ACTIVE} active tokens; revoke one you no longer use first.", "name")
    return ApiToken.issue(user, name, scope)


def revoke(token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoke()
    return token

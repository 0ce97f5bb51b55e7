"""Token authentication over ``ApiToken``: ``Authorization: Token cc_...`` or ``Bearer cc_...``.

Only the key's sha256 is stored, so a lookup is one indexed query on ``key_hash``.
``last_used_at`` is written at most once a minute per token: a busy client costs one
UPDATE a minute, not one per request.
"""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import SAFE_METHODS

from curation.models import ApiToken
from curation.services.projects import CAPTURE_ROUTES

KEYWORDS = (b"token", b"bearer")
TOUCH_EVERY = timedelta(seconds=60)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Authorization: give 'Token <key>' (or 'Bearer <key>'), one key, no spaces."
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "Authorization: the token key has characters a key never has."
            ) from None
        token = ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key)).first()
        if token is not None and token.revoked_at is None and token.is_expired:
            raise exceptions.AuthenticationFailed(
                f"Authorization: this token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC; create a new one."
            )
        if token is None or not token.is_active or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Authorization: this token is unknown or revoked.")
        _check_scope(request, token)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            ApiToken.objects.filter(pk=token.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_EVERY)
            ).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return 'Token realm="api"'


def _check_scope(request, token: ApiToken):
    """403 for a request outside the token's scope (read: safe methods; capture: sending prompts)."""
    if token.scope == ApiToken.Scope.READ and request.method not in SAFE_METHODS:
        raise exceptions.PermissionDenied("This token is read-only: it can only make GET requests.")
    if token.scope == ApiToken.Scope.CAPTURE:
        match = getattr(request._request, "resolver_match", None)
        if request.method != "POST" or match is None or match.url_name not in CAPTURE_ROUTES:
            raise exceptions.PermissionDenied(
                "This token is capture-only: it can only POST prompts to …/prompts/import or …/capture."
            )


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from the Tokens page or POST /api/v1/tokens/: "
            "`Authorization: Bearer cc_...` (or `Token cc_...`).",
        }

"""Single sign-on with OpenID Connect, on mozilla-django-oidc (settings: webapp/auth_settings.py).

- The provider's endpoints come from its discovery document (``<issuer>/.well-known/openid-configuration``),
  fetched once per process, unless the environment names them.
- A user is let in only with an e-mail the provider says is verified and whose domain is allowed;
  otherwise the callback lands on a page that says why (``sso_refused``), and nothing is created.
- Memberships follow the claims on every sign-in: the defaults for everyone, and the ones mapped
  from the role claim's values, each project at the highest role any of them gives. They go
  through ``projects.grant_role``, so each change is in the audit log. Memberships of projects the
  mapping does not name are left alone.
"""

from __future__ import annotations

import functools
import logging

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404
from django.shortcuts import resolve_url
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from curation.models import ROLE_RANK, Project, Role
from curation.services import projects

log = logging.getLogger(__name__)

REFUSED = "sso_refused_reason"
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


@functools.cache
def discovery(issuer: str) -> dict:
    """The provider's metadata; its ``issuer`` must be the one configured."""
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ImproperlyConfigured(f"OIDC_ISSUER: cannot read {url}: {exc}") from exc
    if document.get("issuer", "").rstrip("/") != issuer:
        raise ImproperlyConfigured(f"OIDC_ISSUER is {issuer!r} but the provider says {document.get('issuer')!r}.")
    return document


def oidc_setting(attr, *args):
    """mozilla-django-oidc's settings lookup, with the endpoints filled in from discovery."""
    if attr in DISCOVERED and not hasattr(settings, attr):
        return discovery(settings.OIDC_ISSUER)[DISCOVERED[attr]]
    return import_from_settings(attr, *args)


def parse_memberships(entries, *, keyed: bool) -> list[tuple[str | None, str, str]]:
    """``slug:role`` (or ``value:slug:role`` when ``keyed``) entries as (value, slug, role)."""
    parsed = []
    for entry in entries:
        parts = entry.rsplit(":", 2) if keyed else [None, *entry.split(":", 1)]
        if len(parts) != 3 or not all(parts[1:]) or parts[2] not in Role.values:
            shape = "value:project-slug:role" if keyed else "project-slug:role"
            raise ImproperlyConfigured(f"OIDC membership {entry!r}: write {shape}, role one of {Role.values}.")
        parsed.append(tuple(parts))
    return parsed


def check_membership_mapping(app_configs=None, **kwargs):
    """A system check: a badly written mapping stops start-up, not the first sign-in."""
    from django.core.checks import Error

    if not getattr(settings, "SSO_ENABLED", False):
        return []
    try:
        parse_memberships(settings.OIDC_DEFAULT_MEMBERSHIPS, keyed=False)
        parse_memberships(settings.OIDC_CLAIM_MEMBERSHIPS, keyed=True)
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="curation.E001")]
    return []


def roles_from_claims(claims: dict) -> dict[str, str]:
    """{project slug: role} the claims give (the highest role where several apply)."""
    values = claims.get(settings.OIDC_ROLE_CLAIM) or []
    values = {values} if isinstance(values, str) else {str(v) for v in values}
    granted = {}
    rules = parse_memberships(settings.OIDC_DEFAULT_MEMBERSHIPS, keyed=False)
    rules += [r for r in parse_memberships(settings.OIDC_CLAIM_MEMBERSHIPS, keyed=True) if r[0] in values]
    for _value, slug, role in rules:
        if slug not in granted or ROLE_RANK[role] > ROLE_RANK[granted[slug]]:
            granted[slug] = role
    return granted


def refusal(claims: dict) -> str | None:
    """Why these claims may not sign in, or None."""
    email = (claims.get("email") or "").strip().lower()
    if not email or "@" not in email:
        return "Your identity provider did not share an e-mail address, which this site needs to know who you are."
    if claims.get("email_verified") is False:
        return f"Your identity provider has not verified the address {email}."
    domain = email.rsplit("@", 1)[1]
    allowed = settings.OIDC_ALLOWED_DOMAINS
    if allowed and domain not in allowed:
        return (
            f"Accounts from {domain} may not sign in here; this site accepts "
            + ", ".join(f"@{d}" for d in allowed)
            + " addresses."
        )
    return None


class SSOBackend(OIDCAuthenticationBackend):
    """Endpoints are looked up on an OIDC callback only: Django builds every backend for each
    password login too, and a provider that is down must not stop local accounts."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        if request is None or "code" not in request.GET or "state" not in request.GET:
            return None
        super().__init__()
        return super().authenticate(request, **kwargs)

    def verify_claims(self, claims):
        reason = refusal(claims)
        if reason:
            log.warning("single sign-on refused: %s", reason)
            self.request.session[REFUSED] = reason
            return False
        return super().verify_claims(claims)

    def get_username(self, claims):
        return (claims.get("preferred_username") or claims["email"]).strip()[:150]

    def filter_users_by_claims(self, claims):
        email = (claims.get("email") or "").strip()
        return self.UserModel.objects.filter(email__iexact=email) if email else self.UserModel.objects.none()

    def create_user(self, claims):
        username = self.get_username(claims)
        if self.UserModel.objects.filter(username=username).exists():
            username = claims["email"].strip()[:150]
        user = self.UserModel.objects.create_user(username, email=claims["email"].strip())
        return self.update_user(user, claims)

    def update_user(self, user, claims):
        for slug, role in roles_from_claims(claims).items():
            project = Project.objects.filter(slug=slug).first()
            if project is None:
                log.warning("single sign-on maps to project %r, which does not exist", slug)
                continue
            projects.grant_role(project, user, role, by=None)
        return user


class SSOAuthenticateView(OIDCAuthenticationRequestView):
    get_settings = staticmethod(oidc_setting)


class SSOCallbackView(OIDCAuthenticationCallbackView):
    get_settings = staticmethod(oidc_setting)

    @property
    def failure_url(self):
        return resolve_url(self.get_settings("LOGIN_REDIRECT_URL_FAILURE", "/"))


def only_with_sso(view_class):
    """The view, or 404 while single sign-on is not configured (OIDC_ISSUER unset)."""
    view = view_class.as_view()

    def guarded(request, *args, **kwargs):
        if not settings.SSO_ENABLED:
            raise Http404("Single sign-on is not configured here.")
        return view(request, *args, **kwargs)

    return guarded


authenticate_view = only_with_sso(SSOAuthenticateView)
callback_view = only_with_sso(SSOCallbackView)

"""Who may sign in and how, from the environment (imported by webapp.settings).

- Local accounts (username and password) unless LOCAL_LOGIN=0.
- Single sign-on with OpenID Connect (mozilla-django-oidc) when OIDC_ISSUER is set: the
  provider's endpoints come from its discovery document (or OIDC_OP_*_ENDPOINT), the client
  secret from the variable OIDC_CLIENT_SECRET_ENV names, and claims map to memberships
  (see curation/sso.py and the README's "Single sign-on").
- Login throttling (django-axes): LOGIN_FAILURE_LIMIT bad passwords for one username from one
  address lock that pair out for LOGIN_LOCKOUT_MINUTES, with a page that says so.
"""

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from webapp.env import env_bool, env_int, env_list, env_str

LOCAL_LOGIN = env_bool("LOCAL_LOGIN", True)
OIDC_ISSUER = (env_str("OIDC_ISSUER", "") or "").rstrip("/")
SSO_ENABLED = bool(OIDC_ISSUER)
if not LOCAL_LOGIN and not SSO_ENABLED:
    raise ImproperlyConfigured("LOCAL_LOGIN=0 needs single sign-on: set OIDC_ISSUER (and OIDC_CLIENT_ID).")

AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend"]
if LOCAL_LOGIN:
    AUTHENTICATION_BACKENDS.append("django.contrib.auth.backends.ModelBackend")
if SSO_ENABLED:
    AUTHENTICATION_BACKENDS.append("curation.sso.SSOBackend")

if SSO_ENABLED:
    OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID")
    # The name of the variable that holds the secret, so it can come from a secret store's own variable.
    OIDC_CLIENT_SECRET_ENV = env_str("OIDC_CLIENT_SECRET_ENV", "OIDC_CLIENT_SECRET")
    OIDC_RP_CLIENT_SECRET = env_str(OIDC_CLIENT_SECRET_ENV)
    OIDC_RP_SIGN_ALGO = env_str("OIDC_SIGN_ALGO", "RS256")
    OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
    OIDC_USE_PKCE = True
    OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_S", 10, minimum=1)
    # Endpoints: from the issuer's /.well-known/openid-configuration unless given here.
    for _name in ("AUTHORIZATION", "TOKEN", "USER", "JWKS"):
        _value = env_str(f"OIDC_OP_{_name}_ENDPOINT", None)
        if _value:
            globals()[f"OIDC_OP_{_name}_ENDPOINT"] = _value
    LOGIN_REDIRECT_URL_FAILURE = "sso-refused"
    # Lower-case e-mail domains allowed to sign in; empty: any domain the provider vouches for.
    OIDC_ALLOWED_DOMAINS = [d.lower().lstrip("@") for d in env_list("OIDC_ALLOWED_DOMAINS", [])]
    # Memberships every SSO user gets ("slug:role,..."), and per value of a claim
    # ("value:slug:role,..."; the claim is a list such as groups, or one string such as a department).
    OIDC_DEFAULT_MEMBERSHIPS = env_list("OIDC_DEFAULT_MEMBERSHIPS", [])
    OIDC_ROLE_CLAIM = env_str("OIDC_ROLE_CLAIM", "groups")
    OIDC_CLAIM_MEMBERSHIPS = env_list("OIDC_CLAIM_MEMBERSHIPS", [])
    OIDC_LABEL = env_str("OIDC_LABEL", "Sign in with single sign-on")

AXES_ENABLED = env_bool("LOGIN_THROTTLING", True)
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The password is never kept with a failed attempt.
AXES_SENSITIVE_PARAMETERS = ["password"]

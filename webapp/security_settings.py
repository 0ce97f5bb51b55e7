"""Security headers and HTTPS, from the environment (imported by webapp.settings).

Content-Security-Policy (django-csp): pages load scripts, styles, images and fonts from our own
origin only; no inline scripts or styles, no eval (htmx's config in base.html turns off the two
features that need them). HSTS and the HTTPS redirect are on by default in production
(DEBUG=0, the default) and configurable for deployments where TLS ends elsewhere.
"""

from csp.constants import NONE, SELF

from webapp.env import debug_mode, env_bool, env_int, env_list

DEBUG = debug_mode()

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # data: for the small SVG icons Swagger UI and the admin embed in their stylesheets.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# CSP_REPORT_ONLY=1 sends the same policy as Content-Security-Policy-Report-Only (try it first).
if env_bool("CSP_REPORT_ONLY", False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = CONTENT_SECURITY_POLICY
    CONTENT_SECURITY_POLICY = None

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    # TLS ends at the proxy in front of us; it says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes inside the deployment (docker-compose's health check) speak plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    # HSTS: browsers refuse plain HTTP to this host for SECURE_HSTS_SECONDS (0 turns it off).
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    # Joining the browsers' preload list is the domain owner's decision, hence off by default;
    # `check --deploy` is told so rather than left to warn on every deployment.
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
    SILENCED_SYSTEM_CHECKS += env_list("SILENCED_SYSTEM_CHECKS", [])

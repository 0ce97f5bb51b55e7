"""Settings, all from the environment (see the README's configuration reference).

Defaults serve the embedded mode: SQLite in WAL mode and a Celery broker on the
filesystem under DATA_DIR, so one command runs everything on a fresh machine.
DATABASE_URL switches to PostgreSQL (psycopg 3); REDIS_URL or CELERY_BROKER_URL
switch the broker to Redis.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from webapp.env import debug_mode, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var"))).resolve()
ARTIFACT_DIR = Path(env_str("ARTIFACT_DIR", str(DATA_DIR / "artifacts"))).resolve()

DEBUG = debug_mode()
SECRET_KEY = env_str("SECRET_KEY", None)
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG=0 (production mode, the default). "
            "On a development machine set DEBUG=1 instead (make demo does)."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "axes",
    "mozilla_django_oidc",
    "curation",
]

MIDDLEWARE = [
    # First, so the latency it records covers every other middleware too.
    "curation.monitoring.RequestLatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Its check runs before any middleware's process_view (the CSRF check reads the body).
    "curation.middleware.UploadSizeLimit",
    # Last, as django-axes asks: it turns a locked-out login into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", None)
if DATABASE_URL:
    if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// URL (or unset for the embedded SQLite).")
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
    DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            "OPTIONS": {
                # WAL lets the web server read while the worker writes; IMMEDIATE
                # transactions take the write lock up front instead of failing late.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"

# Sessions: how long a login lasts (seconds), and whether it ends with the browser.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 3600, minimum=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
# On: every request restarts the clock, so SESSION_COOKIE_AGE is an idle timeout.
SESSION_SAVE_EVERY_REQUEST = env_bool("SESSION_SAVE_EVERY_REQUEST", False)

from webapp.auth_settings import *  # noqa: E402, F403  (single sign-on, login throttling)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Prompt import limits.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 100_000_000, minimum=1)  # 100 MB, decimal, as shown
IMPORT_MAX_PROMPT_CHARS = env_int("IMPORT_MAX_PROMPT_CHARS", 32_000, minimum=1)

# Celery: JSON only, late acks, and a worker lost mid-task puts the task back.
REDIS_URL = env_str("REDIS_URL", None)
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = DATA_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
# Several deployments (or test runs) can share one Redis: every broker key gets this prefix.
CELERY_BROKER_KEY_PREFIX = env_str("CELERY_BROKER_KEY_PREFIX", "")
if CELERY_BROKER_KEY_PREFIX and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": CELERY_BROKER_KEY_PREFIX}
# Job state lives in the Job table; a result backend is optional (tests and ops tools).
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", None)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# The one routing table: jobs.enqueue leaves the queue to it (and jobs.queue_of asks it).
CELERY_TASK_ROUTES = {"workers.tasks.gpu.*": {"queue": "gpu"}}
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 6 * 3600, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 6 * 3600 + 300, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
# A job whose heartbeat is older than this is taken to have lost its worker.
JOB_STALE_AFTER_S = env_int("JOB_STALE_AFTER_S", 120, minimum=5)
# Candidates a snapshot build freezes per transaction (short transactions; resumable between them).
SNAPSHOT_FREEZE_BATCH = env_int("SNAPSHOT_FREEZE_BATCH", 2000, minimum=1)
# "Next for me" hands an example to one reviewer for this long.
REVIEW_LEASE_SECONDS = env_int("REVIEW_LEASE_SECONDS", 600, minimum=10)
# A reviewer can undo their own decision, or a bulk action, for this long (if nothing changed since).
REVIEW_UNDO_SECONDS = env_int("REVIEW_UNDO_SECONDS", 900, minimum=10)

# Webhooks (services/webhooks.py): a try waits this long for an answer; failed tries are
# retried after WEBHOOK_BACKOFF_S, doubled each time up to WEBHOOK_MAX_BACKOFF_S, at most
# WEBHOOK_MAX_ATTEMPTS tries in all (defaults: 30 s, 1 h, 10 tries: about 6 hours).
WEBHOOK_TIMEOUT_S = env_int("WEBHOOK_TIMEOUT_S", 10, minimum=1)
WEBHOOK_BACKOFF_S = env_int("WEBHOOK_BACKOFF_S", 30, minimum=1)
WEBHOOK_MAX_BACKOFF_S = env_int("WEBHOOK_MAX_BACKOFF_S", 3600, minimum=1)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 10, minimum=1)

# Drift monitoring (services/drift): `celery -A webapp beat` queues a check of every capturing
# project this often (a capture also queues one as soon as a full window is waiting).
DRIFT_CHECK_EVERY_S = env_int("DRIFT_CHECK_EVERY_S", 3600, minimum=10)
CELERY_BEAT_SCHEDULE = {
    "drift-check": {"task": "workers.tasks.drift.check_all", "schedule": float(DRIFT_CHECK_EVERY_S)},
}

# GET /metrics (Prometheus) answers only "Authorization: Bearer <METRICS_TOKEN>"; unset: refused.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# The Celery queues whose depth /metrics reports.
METRICS_QUEUES = env_list("METRICS_QUEUES", ["default", "gpu"])

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so an unauthenticated client gets 401 with WWW-Authenticate: Token.
        "curation.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON through the input gate (depth, NUL, lone surrogates); forms for the browsable API.
    "DEFAULT_PARSER_CLASSES": [
        "curation.api.parsers.GateJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "curation.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("API_THROTTLE_USER", "10000/hour"),
        "anon": env_str("API_THROTTLE_ANON", "100/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Curriculum curation API",
    "DESCRIPTION": "Prompts, curated examples, verdicts, snapshots, jobs and model versions.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "curation.api.schema.add_error_responses",  # the error statuses every operation can answer
    ],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI from our own static files (the sidecar package): no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "JobKindEnum": "curation.models.jobs.Job.Kind",
        "LaunchableJobKindEnum": [("generate", "generate"), ("score", "score")],
        "JobStatusEnum": "curation.models.jobs.Job.Status",
        "ExampleStatusEnum": "curation.models.data.ExampleStatus",
        "SnapshotStatusEnum": "curation.models.artifacts.Snapshot.Status",
        "ExperimentStatusEnum": "curation.models.experiments.Experiment.Status",
    },
}
# Throttle counters (and any other cache use). Local memory counts per process; set
# CACHE_URL=redis://... in production so every web worker shares one count per user.
CACHE_URL = env_str("CACHE_URL", None)
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}

from webapp.security_settings import *  # noqa: E402, F403  (CSP, HSTS, secure cookies)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
if CELERY_BROKER_URL == "filesystem://":
    # The embedded broker has no host; kombu warns "No hostname was supplied" on every
    # connection, which `make demo` printed as if something were wrong.
    LOGGING["loggers"] = {"kombu.connection": {"level": "ERROR"}}

DATA_DIR.mkdir(parents=True, exist_ok=True)
ARTIFACT_DIR.mkdir(parents=True, exist_ok=True)
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

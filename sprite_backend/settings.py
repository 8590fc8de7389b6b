"""Settings, read from the environment (and an optional `.env`) only here.

A bad value stops start-up with ImproperlyConfigured naming the variable:
failing at boot beats failing on a user's request.
"""
import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from generation.tunables import TUNABLES, Tunable, parse_rate

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")


def _tunable(tunable: Tunable):
    """One generation setting from the environment, checked against its row in the table."""
    raw = os.environ.get(tunable.env)
    if raw is None:
        return tunable.default
    try:
        return tunable.parse(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{tunable.env}={raw!r} {exc}") from None


def _strict_bool(name: str, default: bool) -> bool:
    return _tunable(Tunable(name, name, "bool", default, ""))


def _bounded(name: str, kind: str, default, low, high):
    """A number outside the generation table, held to the same rule: plain, within bounds."""
    return _tunable(Tunable(name, name, kind, default, "", low, high))


def _throttle_rate(name: str, default: str) -> str:
    raw = os.environ.get(name, default)
    try:
        return parse_rate(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} {exc}") from None


DEBUG = _strict_bool("DEBUG", False)
# `manage.py demo_token` (DEBUG only) keeps the demo token here, so that it is the same on every `make run`.
DEMO_TOKEN_FILE = BASE_DIR / ".demo_token"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "csp",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the docs page's scripts and styles, served by us, not a CDN
    "generation",
]

MIDDLEWARE = [
    "generation.api.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "generation.api.bodies.RequestBodyMiddleware",
    "generation.api.middleware.NulCharacterMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "generation.admin.csp.AdminCSPMiddleware",
    "generation.admin.guards.AdminActionIdsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

# A request body over this is refused with 413 before it is read (generation/api/bodies.py);
# Django's own check of a body it reads uses the same figure.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
# Seconds from a request's headers to the last byte of its body; past it, 408 `request_timeout`
# (generation/api/bodies.py). deploy/nginx.conf's client timeouts match the default.
REQUEST_BODY_TIMEOUT = _bounded("REQUEST_BODY_TIMEOUT", "float", 10.0, 1.0, 120.0)

ROOT_URLCONF = "sprite_backend.urls"
WSGI_APPLICATION = "sprite_backend.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

try:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
except (ValueError, ImproperlyConfigured) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL: {exc}") from exc
DATABASES["default"]["CONN_MAX_AGE"] = _bounded("CONN_MAX_AGE", "int", 60, 0, 86400)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Hundreds of generations wait on the provider at once, each on a thread. They hand
    # their connection back before every wait and upstream call, and a pool per worker
    # bounds what they hold together: workers x DB_POOL_SIZE stays under PostgreSQL's
    # 100 connections (docs/CAPACITY.md). 0 turns the pool off (persistent connections).
    DB_POOL_SIZE = _bounded("DB_POOL_SIZE", "int", 20, 0, 200)
    if DB_POOL_SIZE:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections instead
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2, "max_size": DB_POOL_SIZE, "timeout": 10}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Concurrent gunicorn threads write metrics rows; WAL and a busy timeout
    # keep SQLite from answering "database is locked" on a laptop.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The async worker (`manage.py worker`, docs/WORKER.md): generations one worker command runs at
# once, each in a thread that waits on the provider holding no database connection.
SPRITE_WORKER_CONCURRENCY = _bounded("SPRITE_WORKER_CONCURRENCY", "int", 100, 1, 1000)
# PostgreSQL connections one worker command's threads share (its pool; DB_POOL_SIZE is gunicorn's):
# a thread holds one only between waits, for a few queries, so a hundred threads need few.
SPRITE_WORKER_DB_POOL_SIZE = _bounded("SPRITE_WORKER_DB_POOL_SIZE", "int", 8, 1, 200)
# Where a worker serves its Prometheus metrics (0: a free port, named in its `worker_started` line).
SPRITE_WORKER_METRICS_PORT = _bounded("SPRITE_WORKER_METRICS_PORT", "int", 9808, 0, 65535)

# --- The admin's own defences ------------------------------------------------------------------
# A Content-Security-Policy on every admin page (generation.admin.csp): scripts only from our
# own static files, no inline script or style, so a string that slips past escaping still
# cannot run. The settings page's data travels as a non-executable application/json block.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # a request's sprite is shown inline as a data: URI
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# Admin login lockout (django-axes): failures are counted per username, whichever address they
# come from, and per client address, whichever usernames it tries. After ADMIN_LOCKOUT_FAILURES
# of either, the login answers 429 until ADMIN_LOCKOUT_MINUTES pass or an admin deletes the entry
# under "Axes > Access attempts". Behind a reverse proxy, ADMIN_PROXY_COUNT says how many proxies
# append to X-Forwarded-For, so that clients are told apart by their own address, not the proxy's.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = _bounded("ADMIN_LOCKOUT_FAILURES", "int", 5, 1, 100)
AXES_COOLOFF_TIME = timedelta(minutes=_bounded("ADMIN_LOCKOUT_MINUTES", "int", 15, 1, 7 * 24 * 60))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
ADMIN_PROXY_COUNT = _bounded("ADMIN_PROXY_COUNT", "int", 0, 0, 5)
AXES_CLIENT_IP_CALLABLE = "generation.admin.lockout.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Files a browser asks for at the site's root (/favicon.ico), served by WhiteNoise like static files.
WHITENOISE_ROOT = BASE_DIR / "generation" / "site_root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Production hardening; `manage.py check --deploy` is clean with DEBUG off.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _strict_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = _bounded("SECURE_HSTS_SECONDS", "int", 31536000, 0, 10 * 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # /healthz is probed over plain HTTP from inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Each token's own allowance of API requests, e.g. "120/min" (429 `throttled` past it).
SPRITE_THROTTLE_RATE = _throttle_rate("SPRITE_THROTTLE_RATE", "120/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["generation.api.auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["generation.api.throttle.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["generation.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "generation.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# OpenAPI: /v1/schema/ and the page at /v1/docs/ (generation/api/schema.py describes errors and headers).
SPECTACULAR_SETTINGS = {
    "TITLE": "Sprite backend API",
    "DESCRIPTION": "Game sprites from text prompts, through image models that may rate-limit us. "
                   "Every error has one JSON shape; every response carries X-Request-ID.",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": r"/v1/",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["generation.api.schema.only_the_api"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "generation.api.schema.add_request_id_headers"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI would fetch a validity badge from validator.swagger.io: the page asks no other host.
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None, "deepLinking": True},
}

# --- Providers -------------------------------------------------------------
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
# LiteLLM's image generation reads only OPENAI_BASE_URL by itself; accept the
# older name too and pass it explicitly on every openai/ call.
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or env.str("OPENAI_API_BASE", default="")
# Azure OpenAI and Google's Gemini API, by LiteLLM's own variable names; passed explicitly on
# every azure/ and gemini/ call, so that the pacer tells credentials apart and errors are scrubbed.
AZURE_API_BASE = env.str("AZURE_API_BASE", default="")
AZURE_API_KEY = env.str("AZURE_API_KEY", default="")
AZURE_API_VERSION = env.str("AZURE_API_VERSION", default="")
GEMINI_API_BASE = env.str("GEMINI_API_BASE", default="")
GEMINI_API_KEY = env.str("GEMINI_API_KEY", default="")

OFFLINE_MODEL = "offline/pixel-sprite"

# --- Generation defaults (an admin may override each one live) ---------------
# Bounds, defaults and help live in generation/tunables.py, the one table every reader shares.
SPRITE_GENERATION_DEFAULTS = {t.name: _tunable(t) for t in TUNABLES}
if not SPRITE_GENERATION_DEFAULTS["model"]:
    SPRITE_GENERATION_DEFAULTS["model"] = "openai/gpt-image-2" if OPENAI_API_KEY else OFFLINE_MODEL

# A row still queued or running this many seconds past its request's deadline was lost
# (a killed worker, a lost job): it is finished as failed `interrupted` (generation/engine/reaper.py).
SPRITE_INTERRUPT_GRACE = _bounded("SPRITE_INTERRUPT_GRACE", "float", 30.0, 0.0, 600.0)

# `text` (default): `event key=value ...`; `json`: one JSON object per line with the same fields.
LOG_FORMAT = env.str("LOG_FORMAT", default="text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is not one of: text, json")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "generation.logfmt.RequestIdFilter"}},
    "formatters": {"events": {"()": {"text": "generation.logfmt.EventFormatter",
                                     "json": "generation.logfmt.JsonFormatter"}[LOG_FORMAT]}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "events", "filters": ["request_id"]}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        "generation": {"level": "INFO"},
        # Our own admin_login_failed / admin_locked_out events say it with the address;
        # axes' lines mask both, so they would only repeat ours less usefully.
        "axes": {"level": "ERROR"},
        # LiteLLM logs request details at debug level; keep it to warnings.
        "LiteLLM": {"level": "WARNING"},
        "LiteLLM Router": {"level": "WARNING"},
        "LiteLLM Proxy": {"level": "WARNING"},
    },
}

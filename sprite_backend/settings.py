"""Settings, read from the environment (and an optional `.env`) only here.

A bad value stops start-up with ImproperlyConfigured naming the variable:
failing at boot beats failing on a user's request.
"""
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")


def _read(name: str, cast, default):
    try:
        return cast(name, default=default)
    except (ValueError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc


def _strict_bool(name: str, default: bool) -> bool:
    # django-environ reads any unknown word as False; a typo must not silently disable a feature.
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if raw.strip().lower() in ("false", "0", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (true/false)")


def _bounded(name: str, cast, default, low, high):
    value = _read(name, cast, default)
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name}={value} is outside {low}..{high}")
    return value


DEBUG = _strict_bool("DEBUG", False)
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
    "django_rq",
    "generation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
DATABASES["default"]["CONN_MAX_AGE"] = _read("CONN_MAX_AGE", env.int, 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Hundreds of generations wait on the provider at once, each on a thread. They hand
    # their connection back before every wait and upstream call, and a pool per worker
    # bounds what they hold together: workers x DB_POOL_SIZE stays under PostgreSQL's
    # 100 connections (docs/CAPACITY.md). 0 turns the pool off (persistent connections).
    DB_POOL_SIZE = _bounded("DB_POOL_SIZE", env.int, 20, 0, 200)
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
# Async generations are RQ jobs on Redis; a job may wait out the whole budget.
RQ_QUEUES = {"default": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 900}}

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
    SECURE_HSTS_SECONDS = _read("SECURE_HSTS_SECONDS", env.int, 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # /healthz is probed over plain HTTP from inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Each token's own allowance of API requests, e.g. "120/min" (429 `throttled` past it).
SPRITE_THROTTLE_RATE = _read("SPRITE_THROTTLE_RATE", env.str, "120/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["generation.api.auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["generation.api.auth.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "generation.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# --- Providers -------------------------------------------------------------
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
# LiteLLM's image generation reads only OPENAI_BASE_URL by itself; accept the
# older name too and pass it explicitly on every openai/ call.
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or env.str("OPENAI_API_BASE", default="")

# Must be in the environment before LiteLLM is imported, or it fetches its
# model cost map over the network first.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

OFFLINE_MODEL = "offline/pixel-sprite"

# --- Generation defaults (an admin may override each one live) ---------------
SPRITE_GENERATION_DEFAULTS = {
    "enabled": _strict_bool("SPRITE_LITELLM_ENABLED", True),
    "model": env.str("SPRITE_LITELLM_MODEL", default="")
    or ("openai/gpt-image-2" if OPENAI_API_KEY else OFFLINE_MODEL),
    "max_retries": _bounded("SPRITE_LITELLM_MAX_RETRIES", env.int, 3, 0, 10),
    "retry_delay": _bounded("SPRITE_LITELLM_RETRY_DELAY", env.float, 1.0, 0.1, 60.0),
    "fallback_models": tuple(m.strip() for m in env.list("SPRITE_LITELLM_FALLBACK_MODELS", default=[]) if m.strip()),
    "max_wait": _bounded("SPRITE_LITELLM_MAX_WAIT", env.float, 30.0, 0.0, 600.0),
    "timeout": _bounded("SPRITE_LITELLM_TIMEOUT", env.float, 120.0, 1.0, 600.0),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"events": {"()": "generation.logfmt.EventFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "events"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        "generation": {"level": "INFO"},
        # LiteLLM logs request details at debug level; keep it to warnings.
        "LiteLLM": {"level": "WARNING"},
        "LiteLLM Router": {"level": "WARNING"},
        "LiteLLM Proxy": {"level": "WARNING"},
    },
}

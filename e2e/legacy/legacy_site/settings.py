"""Settings of the legacy List Cutter stand-in.

Mirrors the original backend's `config/settings/base.py` + `dev.py` (DEBUG on,
JWT-only DRF auth, AllowAny default, dev throttles, no token blacklist app),
but every machine-specific value comes from the environment:

    LEGACY_DB_HOST (127.0.0.1)  LEGACY_DB_PORT (required)  LEGACY_DB_NAME (legacy)
    LEGACY_DB_USER (postgres)   LEGACY_DB_PASSWORD ("")
    JWT_SECRET (required)       Django SECRET_KEY and the simplejwt HS256 key
    LEGACY_MEDIA_ROOT (required) files live flat in <root>/uploads/
    LEGACY_MAX_FILE_SIZE (10485760)
    LEGACY_DEBUG (1)            LEGACY_TEST_ENDPOINTS (0)
    LEGACY_ACCESS_TTL_SECONDS (600)  LEGACY_REFRESH_TTL_SECONDS (86400)
    LEGACY_THROTTLE_ANON (1000/minute)  LEGACY_THROTTLE_USER (2000/minute), "off" disables
    LEGACY_LINEAGE_STORE (table)  "metadata": the Neo4j era's schema, no lineage table
    LEGACY_DELAY_FILE ("")      with LEGACY_TEST_ENDPOINTS: a file holding milliseconds
                                to wait before every answer (a slow legacy, on demand)
"""
import os
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def _required(name):
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"environment variable {name} is required")
    return value


def _flag(name, default):
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = _required("JWT_SECRET")
DEBUG = _flag("LEGACY_DEBUG", "1")
ALLOWED_HOSTS = ["*"]

# Test-only fixture routes under /__test__/ (see testsupport/).
TEST_ENDPOINTS = _flag("LEGACY_TEST_ENDPOINTS", "0")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    # simplejwt is installed, its token_blacklist app is not (as in legacy):
    # BLACKLIST_AFTER_ROTATION is therefore a silent no-op.
    "rest_framework_simplejwt",
    "accounts",
    "list_cutter",
    "testsupport",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# A slow legacy on demand for the end-to-end suite (testsupport/delay.py).
DELAY_FILE = os.environ.get("LEGACY_DELAY_FILE", "") if TEST_ENDPOINTS else ""
if DELAY_FILE:
    MIDDLEWARE.insert(0, "testsupport.delay.DelayMiddleware")

ROOT_URLCONF = "legacy_site.urls"
WSGI_APPLICATION = "legacy_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("LEGACY_DB_NAME", "legacy"),
        "USER": os.environ.get("LEGACY_DB_USER", "postgres"),
        "PASSWORD": os.environ.get("LEGACY_DB_PASSWORD", ""),
        "HOST": os.environ.get("LEGACY_DB_HOST", "127.0.0.1"),
        "PORT": _required("LEGACY_DB_PORT"),
    }
}

# Django's defaults: PBKDF2-SHA256 at 870000 iterations under Django 5.1, so
# stored hashes look like pbkdf2_sha256$870000$<22-char salt>$<b64>.
AUTH_PASSWORD_VALIDATORS = []  # legacy registration had no strength checks

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

MEDIA_URL = "/media/"
MEDIA_ROOT = os.path.abspath(_required("LEGACY_MEDIA_ROOT"))
UPLOAD_DIR = os.path.join(MEDIA_ROOT, "uploads")
# Where lineage lives: the list_cutter_filerelationship table, or (the legacy of the
# Neo4j era, before that table existed) only each generated file's metadata.
LINEAGE_STORE = os.environ.get("LEGACY_LINEAGE_STORE", "table").strip() or "table"
if LINEAGE_STORE not in ("table", "metadata"):
    raise ImproperlyConfigured("LEGACY_LINEAGE_STORE must be 'table' or 'metadata'")

MAX_FILE_SIZE = int(os.environ.get("LEGACY_MAX_FILE_SIZE", str(10 * 1024 * 1024)))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": (
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ),
    "DEFAULT_RENDERER_CLASSES": ("rest_framework.renderers.JSONRenderer",),
    "DEFAULT_THROTTLE_CLASSES": (),
    "DEFAULT_THROTTLE_RATES": {},
}
# Legacy dev rates by default; a rate of "off" drops that throttle (handy for
# load tests, which all come from one address).
for _scope, _cls, _default in (
    ("anon", "AnonRateThrottle", "1000/minute"),
    ("user", "UserRateThrottle", "2000/minute"),
):
    _rate = os.environ.get(f"LEGACY_THROTTLE_{_scope.upper()}", _default).strip()
    if _rate.lower() not in ("", "off", "none", "0"):
        REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] += (f"rest_framework.throttling.{_cls}",)
        REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][_scope] = _rate

# Throttle counters live in the process-local cache, as in the legacy dev
# setup (one counter per gunicorn worker).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(
        seconds=int(os.environ.get("LEGACY_ACCESS_TTL_SECONDS", "600"))
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=int(os.environ.get("LEGACY_REFRESH_TTL_SECONDS", "86400"))
    ),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Present in the legacy settings, never read by anything.
    "AUTH_COOKIE": "access_token",
    "AUTH_COOKIE_SECURE": False,
    "AUTH_COOKIE_HTTP_ONLY": True,
    "AUTH_COOKIE_PATH": "/",
    "AUTH_COOKIE_SAMESITE": "Lax",
}

CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": os.environ.get("LEGACY_LOG_LEVEL", "WARNING")},
}

"""Settings shared by every environment. `local`, `test` and `production`
only override; nothing exists only in production that tests never load."""

from __future__ import annotations

from datetime import timedelta

from gaji_contracts.auth import ACCESS_TOKEN_LIFETIME_SECONDS, JWT_ALGORITHM, JWT_AUDIENCE, JWT_ISSUER
from gaji_contracts.conversations import MessageStatus
from gaji_contracts.cors import DEFAULT_WEB_ORIGINS, parse_web_origins

from config.env import (
    REPO_ROOT,
    ImproperlyConfigured,
    database_from_url,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
)
from config.keys import load_or_create_signing_key

GAJI_ENV = env_str("GAJI_ENV", "development")
if env_str("DJANGO_SETTINGS_MODULE", "").endswith(".production"):
    # Decided here, before production.py loads: base settings already act on it
    # (e.g. never creating a signing key in production).
    GAJI_ENV = "production"
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-insecure-secret-key-change-me-in-production")
SERVICE_TOKEN = env_str("SERVICE_TOKEN", "dev-service-token-not-for-production")
if GAJI_ENV == "production":
    # Whatever the settings module: refuse to start with development placeholders.
    for _name, _value in (("DJANGO_SECRET_KEY", SECRET_KEY), ("SERVICE_TOKEN", SERVICE_TOKEN)):
        if _value.startswith("dev-") or len(_value) < 32:
            raise ImproperlyConfigured(f"Set {_name} to a real secret (>= 32 chars) in production")
    DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "common",
    "accounts",
    "social",
    "novels",
    "scenarios",
    "conversations",
    "notifications",
    "cards",
    "internal",
    "integrations",
]

MIDDLEWARE = [
    # CORS first: every answer to an allowed origin carries its headers, and
    # preflights are answered before rate limits (common/middleware.py).
    "common.middleware.CorsMiddleware",
    # Outermost: every response (errors included) gets the request id,
    # a size check happens before any body is read, and rate-limit headers
    # are added to whatever the inner layers answer.
    "common.middleware.RequestIdMiddleware",
    "common.middleware.BodySizeLimitMiddleware",
    "common.middleware.RateLimitMiddleware",
    # Outside everything that can answer on its own (WhiteNoise, CSRF,
    # CommonMiddleware), so none of their error pages reach a client as HTML.
    "common.middleware.ErrorEnvelopeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Sessions, CSRF, session users and messages for /admin/ only.
    "common.middleware.AdminOnlyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ADMIN_PREFIX = "/admin/"
# The admin's checks look for these in MIDDLEWARE; they run, for the admin,
# inside AdminOnlyMiddleware (the admin tests log in, save and use messages).
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410"]
ADMIN_MIDDLEWARE = [
    # CORS first: every answer to an allowed origin carries its headers, and
    # preflights are answered before rate limits (common/middleware.py).
    "common.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

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
            ]
        },
    }
]

DATABASES = {
    "default": database_from_url(env_str("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/gaji"))
}
# Django's PostgreSQL backend with a health check that costs no round trip
# (common/db/base.py).
DATABASES["default"]["ENGINE"] = "common.db"
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
# Re-check a persistent connection before reuse, so a PostgreSQL restart
# costs one reconnect instead of a failed request (checked locally, see
# common/db/base.py).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["OPTIONS"] = {"connect_timeout": 5}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "gaji:core")

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "accounts.hashers.TunedArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 2)
ARGON2_MEMORY_COST_KIB = env_int("ARGON2_MEMORY_COST_KIB", 19456)
ARGON2_PARALLELISM = env_int("ARGON2_PARALLELISM", 1)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = REPO_ROOT / "var" / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from finders; it only needs the folder
MEDIA_URL = "/media/"
MEDIA_ROOT = env_str("MEDIA_ROOT", str(REPO_ROOT / "var" / "media"))
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Bodies: JSON requests are small; the avatar route is allowed its 5 MB file
# plus multipart overhead. Both are checked from Content-Length before any
# byte is read (common.middleware.BodySizeLimitMiddleware).
MAX_BODY_BYTES = env_int("MAX_BODY_BYTES", 1024 * 1024)
AVATAR_MAX_BYTES = env_int("AVATAR_MAX_BYTES", 5 * 1024 * 1024)
AVATAR_SIZE_PX = 400
AVATAR_MAX_PIXELS = env_int("AVATAR_MAX_PIXELS", 16_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Readers' own character cards and lorebooks (cards app): how many each may keep.
CARDS_MAX_PER_READER = env_int("CARDS_MAX_PER_READER", 200)
LOREBOOKS_MAX_PER_READER = env_int("LOREBOOKS_MAX_PER_READER", 100)
# Request bodies these imports may send (common.middleware.upload_limit); the
# formats' own caps (cards.formats.LIMITS) decide per file kind within them.
CARD_UPLOAD_MAX_BYTES = 20 * 1024 * 1024  # a CHARX card with its assets
LOREBOOK_UPLOAD_MAX_BYTES = 2 * 1024 * 1024
CONVERSATION_IMPORT_MAX_BYTES = 8 * 1024 * 1024  # an export of 2,000 long messages, with room

AI_BASE_URL = env_str("AI_BASE_URL", "http://127.0.0.1:8000")
# The ai service as browsers reach it: the base of the absolute stream_url
# core hands out (behind nginx this is the public origin).
AI_PUBLIC_URL = env_str("AI_PUBLIC_URL", AI_BASE_URL)
# Core as browsers reach it (config.json of the web app); empty: the request's own origin.
CORE_PUBLIC_URL = env_str("CORE_PUBLIC_URL", "")
# The reader web app as readers reach it: the base of the links mailed to
# them (a password reset). Never the request's Host header, which a caller chooses.
WEB_BASE_URL = env_str("WEB_BASE_URL", CORE_PUBLIC_URL or "http://127.0.0.1:8080").rstrip("/")
# The reader web app, built by `make web` (common/webapp.py).
WEB_DIST_DIR = env_str("WEB_DIST_DIR", str(REPO_ROOT / "web" / "dist"))
# Browser apps on other origins allowed to call the API (CORS; gaji_contracts.cors).
WEB_ORIGINS = parse_web_origins(env_str("WEB_ORIGINS", DEFAULT_WEB_ORIGINS))
HTTP_TIMEOUT_SECONDS = env_float("HTTP_TIMEOUT_SECONDS", 5.0)
# Handing a chat turn to ai must be quick: a user is waiting for the 202.
AI_ENQUEUE_TIMEOUT_SECONDS = env_float("AI_ENQUEUE_TIMEOUT_SECONDS", 3.0)
# Readers' story imports (novels/services.py, novels/fetch.py): the file or
# download cap, and each reader's quota (novels and bytes they imported).
NOVEL_IMPORT_MAX_BYTES = env_int("NOVEL_IMPORT_MAX_BYTES", 10 * 1024 * 1024)
NOVEL_IMPORT_MAX_COUNT = env_int("NOVEL_IMPORT_MAX_COUNT", 10)
NOVEL_IMPORT_MAX_TOTAL_BYTES = env_int("NOVEL_IMPORT_MAX_TOTAL_BYTES", 50 * 1024 * 1024)
# Imports a reader may start per hour (scaled by RATE_LIMIT_SCALE).
NOVEL_IMPORT_PER_HOUR = env_int("NOVEL_IMPORT_PER_HOUR", 10)
# Handing up to 20 MB of text to ai's ingest route.
NOVEL_IMPORT_AI_TIMEOUT_SECONDS = env_float("NOVEL_IMPORT_AI_TIMEOUT_SECONDS", 30.0)
# Tests only: let URL imports fetch from loopback addresses (never in production).
NOVEL_IMPORT_ALLOW_LOOPBACK = env_bool("NOVEL_IMPORT_ALLOW_LOOPBACK", False)
# Completed messages sent with a generation request (the context endpoint
# serves up to 100); ai trims them to the model's token budget.
CHAT_HISTORY_MESSAGES = env_int("CHAT_HISTORY_MESSAGES", 20)

# Mail (password resets), through Django's email framework. By default each
# message is written as a file under var/mail (`make run` prints where); for a
# real server set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend
# and EMAIL_HOST/EMAIL_PORT/EMAIL_HOST_USER/EMAIL_HOST_PASSWORD/EMAIL_USE_TLS.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(REPO_ROOT / "var" / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Gaji <no-reply@gaji.localhost>")
# How long a password-reset link works (seconds); a used link never works again.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600)

# Rate limits: the API spec's table scaled by RATE_LIMIT_SCALE (tests and
# benchmarks raise it); Redis-backed so they hold across processes.
RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)
# Totals and facets (common/counting.py): exact up to this many rows; a
# larger result is counted once and shared through Redis this long.
COUNT_EXACT_LIMIT = env_int("COUNT_EXACT_LIMIT", 1000)
COUNT_CACHE_SECONDS = env_int("COUNT_CACHE_SECONDS", 30)
# A search page (same parameters and page) is shared this long (scenarios/search.py); 0: never.
SEARCH_CACHE_SECONDS = env_int("SEARCH_CACHE_SECONDS", 10)
RATE_LIMIT_SCALE = env_float("RATE_LIMIT_SCALE", 1.0)
# Number of reverse proxies in front of us whose X-Forwarded-For we trust.
# 0 (default): the peer address is the client, X-Forwarded-For is ignored.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

JWT_PRIVATE_KEY_PATH = env_str("JWT_PRIVATE_KEY_PATH", str(REPO_ROOT / "var" / "keys" / "jwt-private.pem"))
JWT_SIGNING_KEY = load_or_create_signing_key(JWT_PRIVATE_KEY_PATH, create=GAJI_ENV != "production")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["common.auth.UserJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.SafeJSONParser"],
    "EXCEPTION_HANDLER": "common.exceptions.exception_handler",
    # `?format=` is the exports' own parameter (json, png, sillytavern, ...), not DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_SCHEMA_CLASS": "common.schema.GajiAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": [],
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=ACCESS_TOKEN_LIFETIME_SECONDS),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 14)),
    "ROTATE_REFRESH_TOKENS": False,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": JWT_ALGORITHM,
    "SIGNING_KEY": JWT_SIGNING_KEY.private_pem,
    "VERIFYING_KEY": JWT_SIGNING_KEY.public_pem,
    "AUDIENCE": JWT_AUDIENCE,
    "ISSUER": JWT_ISSUER,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Gaji core API",
    "DESCRIPTION": "Users, auth, profiles and follows of the Gaji What-If platform. "
    "Every error answers with the envelope "
    "{timestamp, status, error, message, path, trace_id, code, details}.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Several serializers carry a message's status (every MessageStatus value): one named enum.
    "ENUM_NAME_OVERRIDES": {
        "MessageStatusEnum": [s.value for s in MessageStatus],
        # A conversation's visibility and a reader's default_visibility (settings).
        "VisibilityEnum": ["private", "unlisted", "public"],
        # A lorebook's kind (cards), apart from memory and notification kinds.
        "LorebookKindEnum": ["lorebook_v3", "worldinfo", "character_book"],
        # Where a novel came from, apart from who wrote a memory entry.
        "NovelSourceEnum": "novels.models.NovelSource",
        "MemoryWriterEnum": ["model", "rule"],
    },
    # No global "SECURITY": each route's authentication class documents its own
    # scheme (jwtAuth, or serviceToken on /api/internal/), so an internal route
    # does not claim to take a user JWT it refuses.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.schema.document_empty_query_values",
        "common.schema.contract_components",
    ],
    "APPEND_COMPONENTS": {
        "securitySchemes": {"jwtAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    },
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "gaji_contracts.conventions.JsonFormatter", "service": "core"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our access log replaces Django's; its request logger would repeat
        # every 4xx/5xx without the request id.
        "django.request": {"level": "CRITICAL", "propagate": True},
        "django.server": {"level": "ERROR", "propagate": True},
    },
}

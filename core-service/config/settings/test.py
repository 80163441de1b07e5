import os

from config.env import env_str
from config.settings.base import *  # noqa: F403
from config.settings.base import REPO_ROOT

GAJI_ENV = "test"
# A Redis db of its own, so tests never see a running dev server's counters.
REDIS_URL = env_str("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
# ... and a key prefix of its own per run, for the same reason as the database.
REDIS_KEY_PREFIX = f"test{os.getpid()}:core"
MEDIA_ROOT = str(REPO_ROOT / "var" / "test-media")
# Sent mail is kept in django.core.mail.outbox (Django's test environment does the same).
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
WEB_BASE_URL = "http://testserver"
# Tests change scenarios between searches; the shared search page has its own tests.
SEARCH_CACHE_SECONDS = 0
LOG_LEVEL = "WARNING"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

# One test database per run, so parallel runs (developers, helpers, CI) never
# drop each other's database mid-run. pytest-django destroys it afterwards.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": env_str("TEST_DATABASE_NAME", f"test_gaji_{os.getpid()}"),
}

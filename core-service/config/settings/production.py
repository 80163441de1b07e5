from config.env import ImproperlyConfigured
from config.settings.base import *  # noqa: F403
from config.settings.base import SECRET_KEY, SERVICE_TOKEN

GAJI_ENV = "production"
DEBUG = False

# Refuse to start with the development placeholders.
if SECRET_KEY.startswith("dev-") or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY to a real secret (>= 32 chars)")
if SERVICE_TOKEN.startswith("dev-") or len(SERVICE_TOKEN) < 32:
    raise ImproperlyConfigured("Set SERVICE_TOKEN to a real secret (>= 32 chars)")

SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

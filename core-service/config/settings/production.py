from config.settings.base import *  # noqa: F403

# The placeholder checks live in base.py (they apply whenever GAJI_ENV is
# production); this module adds what only a deployment behind TLS wants.
GAJI_ENV = "production"
DEBUG = False

SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

from config.env import env_str
from config.settings.base import *  # noqa: F403
from config.settings.base import REPO_ROOT

GAJI_ENV = "test"
# A Redis db of its own, so tests never see a running dev server's counters.
REDIS_URL = env_str("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
MEDIA_ROOT = str(REPO_ROOT / "var" / "test-media")
LOG_LEVEL = "WARNING"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

"""Settings from the environment, and refusing placeholder secrets in production."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from gaji_ai.config import DEV_SERVICE_TOKEN, Settings

ENV_VARS = [
    "GAJI_ENV", "SERVICE_TOKEN", "REDIS_URL", "CELERY_BROKER_URL", "CORE_BASE_URL",
    "JWKS_URL", "JWKS_CACHE_SECONDS", "QDRANT_URL", "QDRANT_API_KEY", "QDRANT_PATH",
    "RATE_LIMIT_SCALE", "RATE_LIMIT_ENABLED", "RATE_LIMIT_PREFIX", "MAX_BODY_BYTES",
    "LOG_LEVEL", "HTTP_TIMEOUT_SECONDS", "WEB_ORIGINS",
]  # fmt: skip


@pytest.fixture
def clean_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults(clean_env):
    settings = Settings()
    assert settings.app.gaji_env == "development"
    assert settings.auth.service_token == DEV_SERVICE_TOKEN
    assert settings.redis.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.redis.celery_broker_url == settings.redis.redis_url
    assert settings.core.core_base_url == "http://127.0.0.1:8080"
    assert settings.auth.jwks_url == "http://127.0.0.1:8080/api/v1/auth/jwks.json"
    assert settings.auth.jwks_cache_seconds == 300
    assert settings.vectors.qdrant_url is None
    assert settings.vectors.qdrant_path == Path(__file__).resolve().parents[2] / "var" / "qdrant"
    assert settings.rate_limit.rate_limit_scale == 1.0
    assert settings.rate_limit.rate_limit_enabled is True
    assert settings.rate_limit.rate_limit_prefix == "gaji:ai"
    assert settings.app.max_body_bytes == 1_048_576
    assert settings.app.log_level == "INFO"
    assert settings.app.http_timeout_seconds == 5
    assert settings.app.web_origin_list() == ["http://127.0.0.1:8080", "http://localhost:8080"]


def test_environment_is_read(clean_env):
    clean_env.setenv("CORE_BASE_URL", "http://core.internal:9000/")
    clean_env.setenv("REDIS_URL", "redis://r:6379/3")
    clean_env.setenv("CELERY_BROKER_URL", "redis://broker:6379/4")
    clean_env.setenv("RATE_LIMIT_SCALE", "50")
    clean_env.setenv("RATE_LIMIT_ENABLED", "false")
    clean_env.setenv("QDRANT_URL", "http://qdrant:6333")
    clean_env.setenv("MAX_BODY_BYTES", "2048")
    clean_env.setenv("WEB_ORIGINS", "https://gaji.example.com/")
    settings = Settings()
    assert settings.app.web_origin_list() == ["https://gaji.example.com"]
    assert settings.auth.jwks_url == "http://core.internal:9000/api/v1/auth/jwks.json"
    assert settings.redis.celery_broker_url == "redis://broker:6379/4"
    assert settings.rate_limit.rate_limit_scale == 50
    assert settings.rate_limit.rate_limit_enabled is False
    assert settings.vectors.qdrant_url == "http://qdrant:6333"
    assert settings.app.max_body_bytes == 2048


def test_explicit_jwks_url_wins(clean_env):
    clean_env.setenv("JWKS_URL", "http://keys.example/jwks.json")
    assert Settings().auth.jwks_url == "http://keys.example/jwks.json"


@pytest.mark.parametrize("token", [DEV_SERVICE_TOKEN, "short-secret", "x" * 31])
def test_production_refuses_placeholder_or_short_token(clean_env, token):
    clean_env.setenv("GAJI_ENV", "production")
    clean_env.setenv("SERVICE_TOKEN", token)
    with pytest.raises(ValidationError, match="SERVICE_TOKEN"):
        Settings()


def test_production_accepts_a_long_secret(clean_env):
    clean_env.setenv("GAJI_ENV", "production")
    clean_env.setenv("SERVICE_TOKEN", "s" * 32)
    assert Settings().app.gaji_env == "production"


def test_development_allows_the_placeholder(clean_env):
    clean_env.setenv("GAJI_ENV", "development")
    assert Settings().auth.service_token == DEV_SERVICE_TOKEN


def test_unknown_environment_is_refused(clean_env):
    clean_env.setenv("GAJI_ENV", "staging")
    with pytest.raises(ValidationError):
        Settings()


def test_app_refuses_to_start_in_production_with_placeholder(tmp_path):
    env = {"GAJI_ENV": "production", "SERVICE_TOKEN": DEV_SERVICE_TOKEN, "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", "import gaji_ai.main"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "SERVICE_TOKEN must be a secret" in result.stderr

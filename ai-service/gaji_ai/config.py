"""Settings of the ai service, read from the environment (one class per concern).

Environment variables (all optional; defaults in brackets):

GAJI_ENV              development | test | production [development]
LOG_LEVEL             root log level of the JSON logs [INFO]
MAX_BODY_BYTES        largest request body accepted, larger -> 413 [1048576]
WEB_ORIGINS           comma-separated exact origins (scheme://host[:port]) of browser apps
                      allowed to call this API cross-origin (CORS, no credentials);
                      empty -> no CORS headers at all
                      [http://127.0.0.1:8080,http://localhost:8080]
SERVICE_TOKEN         shared secret of core <-> ai internal calls
                      [dev-service-token-not-for-production]; in production
                      the service refuses to start with the placeholder or
                      with fewer than 32 characters
JWKS_URL              where core publishes its public keys
                      [{CORE_BASE_URL}/api/v1/auth/jwks.json]
JWKS_CACHE_SECONDS    how long fetched keys are trusted before a refetch [300]
CORE_BASE_URL         base URL of core-service [http://127.0.0.1:8080]
HTTP_TIMEOUT_SECONDS  timeout of every outgoing HTTP call and readiness check [5]
REDIS_URL             Redis for rate limits (and later streams) [redis://127.0.0.1:6379/0]
CELERY_BROKER_URL     Celery broker and result backend [= REDIS_URL]
QDRANT_URL            Qdrant server URL; unset -> embedded Qdrant Edge [unset]
QDRANT_API_KEY        API key of the Qdrant server [unset]
QDRANT_PATH           storage folder of the embedded Qdrant Edge [<repo>/var/qdrant]
RATE_LIMIT_ENABLED    true | false [true]
RATE_LIMIT_SCALE      multiplies every limit, e.g. 100 for benchmarks [1.0]
RATE_LIMIT_PREFIX     prefix of the rate-limit keys in Redis [gaji:ai]
EMBEDDINGS_BASE_URL   an OpenAI-compatible embeddings API; unset -> local all-MiniLM-L6-v2 [unset]
EMBEDDINGS_API_KEY    its key [unset]
EMBEDDINGS_MODEL      its model (must give 384 dimensions) [all-MiniLM-L6-v2]
EMBEDDINGS_BATCH_SIZE passages embedded per batch [64]
EMBEDDINGS_PRELOAD    load the local model at process start [true]
NOVEL_DATA_DIR        ingestion by path reads only below this folder [<repo>/data/novels]
UPLOAD_DIR            uploaded novels wait here for their job [<repo>/var/uploads]
MAX_UPLOAD_BYTES      largest novel upload, larger -> 413 [20971520]
JOB_STALE_SECONDS     a running job silent this long is reported failed (worker lost) [300]
NOVEL_CHECK_SECONDS   how often core's ingested novels are checked against the vector store
                      (a novel whose passages are gone becomes `missing` on core) [300]
NOVEL_CHECK_ENABLED   run that check (and report it in /readyz) [true]
AI_INTERNAL_URL       how workers reach this API's internal vector endpoints [http://127.0.0.1:8000]
LLM_PROVIDER          local | openai | anthropic [local: the local engine, llama-server]
LLM_LOCAL_MODEL       the local chat model (python -m gaji_ai.llm.models list):
                      qwen2.5-coder-1.5b-instruct | qwen2.5-coder-0.5b-instruct |
                      smollm2-135m-instruct [qwen2.5-coder-1.5b-instruct]
LLM_LOCAL_ENGINE      server (llama-server, one supervised process for every worker)
                      | inprocess (llama-cpp-python in each chat worker: the fallback) [server]
LLM_ENGINE_HOST       where the local engine listens [127.0.0.1]
LLM_ENGINE_PORT       ... its port [8090]
LLM_ENGINE_SLOTS      parallel slots (streams decoded together; each has its own
                      LLM_CONTEXT_TOKENS window) [4]
LLM_ENGINE_CACHE_MIB  the engine's RAM prompt cache shared by the slots, MiB [256]
LLM_BASE_URL          the remote provider's base URL (openai: .../v1) [unset]
LLM_API_KEY           its key [unset]
LLM_MODEL             comma-separated models a request may choose; the first is the default [unset]
LLM_TIMEOUT_SECONDS   remote provider timeout [60]
LLM_CONTEXT_TOKENS    the local model's context window (per engine slot) [2048]
LLM_FALLBACK_LOCAL    a remote provider failing before its first token falls back to local [true]
LLM_THREADS           llama.cpp threads of the local model [all cores]
LLM_LOCAL_EXTRA_BUFTS auto | on | off: llama.cpp's extra buffer types (AMX, repacked
                      weights); auto: as setup's self-test found safe on this CPU
                      and build (var/llm-local.json), else off [auto]
LLM_GROUNDING_TOKENS  most prompt tokens of retrieved passages; 0: 256 local, 1024 remote [0]
LLM_PROMPT_CACHE_BYTES  (inprocess engine) the prompt cache per worker process: llama.cpp
                      states after each answer, so a conversation's next turn
                      evaluates only its new tokens; 0 turns it off [268435456]
GENERATION_START_TIMEOUT_SECONDS  a queued turn ends failed if no chat worker lives this long [300]
GENERATION_QUEUE_TIMEOUT_SECONDS  ... or once it waited this long in a busy queue [1800]
GENERATION_REAPER_SECONDS  how often the API looks for turns whose worker died [5]
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from gaji_contracts.cors import DEFAULT_WEB_ORIGINS, parse_web_origins
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gaji_ai.llm.models import CATALOGUE as LOCAL_MODELS
from gaji_ai.llm.models import DEFAULT_MODEL as DEFAULT_LOCAL_MODEL

DEV_SERVICE_TOKEN = "dev-service-token-not-for-production"
MIN_PRODUCTION_TOKEN_LENGTH = 32
# Passage tokens per prompt when LLM_GROUNDING_TOKENS is 0 (automatic).
LOCAL_GROUNDING_TOKENS = 256
REMOTE_GROUNDING_TOKENS = 1024
REPO_ROOT = Path(__file__).resolve().parents[2]

# Field names are the environment variable names, lower-cased, so a reader can
# grep either one and land on the other.
_ENV = SettingsConfigDict(case_sensitive=False, extra="ignore")
# What a browser sends as `Origin`: scheme, host, optional port; nothing else.


class AppSettings(BaseSettings):
    model_config = _ENV

    gaji_env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    http_timeout_seconds: float = Field(default=5.0, gt=0)
    # Browser apps allowed to call the API cross-origin (gaji_ai.common.cors).
    web_origins: str = DEFAULT_WEB_ORIGINS

    @field_validator("web_origins")
    @classmethod
    def _exact_origins(cls, value: str) -> str:
        return ",".join(parse_web_origins(value))

    def web_origin_list(self) -> list[str]:
        return [origin for origin in self.web_origins.split(",") if origin]


class AuthSettings(BaseSettings):
    model_config = _ENV

    service_token: str = DEV_SERVICE_TOKEN
    # None means "derive from CORE_BASE_URL" (resolved in Settings).
    jwks_url: str | None = None
    jwks_cache_seconds: int = Field(default=300, ge=0)


class CoreSettings(BaseSettings):
    model_config = _ENV

    core_base_url: str = "http://127.0.0.1:8080"


class RedisSettings(BaseSettings):
    model_config = _ENV

    redis_url: str = "redis://127.0.0.1:6379/0"
    celery_broker_url: str | None = None

    @model_validator(mode="after")
    def _broker_defaults_to_redis(self) -> RedisSettings:
        if not self.celery_broker_url:
            self.celery_broker_url = self.redis_url
        return self


class VectorSettings(BaseSettings):
    model_config = _ENV

    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    qdrant_path: Path = REPO_ROOT / "var" / "qdrant"


class EmbeddingSettings(BaseSettings):
    model_config = _ENV

    embeddings_base_url: str | None = None
    embeddings_api_key: str | None = None
    embeddings_model: str = "all-MiniLM-L6-v2"
    embeddings_batch_size: int = Field(default=64, ge=1, le=1024)
    embeddings_timeout_seconds: float = Field(default=60.0, gt=0)
    # Load the local model when a process starts (not on its first request).
    embeddings_preload: bool = True


class LLMSettings(BaseSettings):
    model_config = _ENV

    llm_provider: Literal["local", "openai", "anthropic"] = "local"
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    # Comma-separated; the first is the default (ignored by `local`).
    llm_model: str = ""
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    # The local model (gaji_ai.llm.models) and how it runs (gaji_ai.llm.engine).
    llm_local_model: str = DEFAULT_LOCAL_MODEL
    llm_local_engine: Literal["server", "inprocess"] = "server"
    llm_engine_host: str = "127.0.0.1"
    llm_engine_port: int = Field(default=8090, ge=1, le=65535)
    llm_engine_slots: int = Field(default=4, ge=1, le=64)
    llm_engine_cache_mib: int = Field(default=256, ge=0, le=65536)
    llm_context_tokens: int = Field(default=2048, ge=256, le=32768)
    # llama.cpp threads for the local model (its own default is half the cores).
    llm_threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)
    # Extra buffer types crashed llama.cpp on some CPUs (gaji_ai.llm.local_config).
    llm_local_extra_bufts: Literal["auto", "on", "off"] = "auto"
    # A remote provider failing before its first token: answer with the local
    # model instead (the message is marked degraded).
    llm_fallback_local: bool = True
    # Every new prompt token costs the local model milliseconds before its first
    # answer token on 2 cores: with the prompt cache below a follow-up pays only
    # for its new tokens, which leaves room for 256 (0 = automatic).
    llm_grounding_tokens: int = Field(default=0, ge=0, le=16384)
    # llama.cpp states kept per worker process (gaji_ai.llm.prompt_cache); 0 = off.
    llm_prompt_cache_bytes: int = Field(default=256 * 1024 * 1024, ge=0, le=64 * 1024**3)
    # The branch's memory (gaji_ai.generation.memory): `model` writes it with
    # the chat model (structured output; the rule when that fails), `rule`
    # with the rule only, `off` neither writes nor reads it.
    memory_mode: Literal["model", "rule", "off"] = "model"
    # Prompt tokens for memory (at most a third of what the prompt has left).
    memory_tokens: int = Field(default=256, ge=0, le=8192)
    generation_start_timeout_seconds: float = Field(default=300.0, ge=1)
    generation_queue_timeout_seconds: float = Field(default=1800.0, ge=1)
    generation_reaper_seconds: float = Field(default=5.0, gt=0, le=300)

    @field_validator("llm_local_model")
    @classmethod
    def _known_local_model(cls, value: str) -> str:
        if value not in LOCAL_MODELS:
            raise ValueError(f"unknown local model; choose one of: {', '.join(LOCAL_MODELS)}")
        return value

    @property
    def uses_engine(self) -> bool:
        """Chat turns run on the local engine (LLM_PROVIDER=local on llama-server)."""
        return self.llm_provider == "local" and self.llm_local_engine == "server"

    @property
    def engine_url(self) -> str:
        return f"http://{self.llm_engine_host}:{self.llm_engine_port}"

    def grounding_tokens(self, provider_name: str) -> int:
        if self.llm_grounding_tokens:
            return self.llm_grounding_tokens
        return LOCAL_GROUNDING_TOKENS if provider_name == "local" else REMOTE_GROUNDING_TOKENS

    def model_list(self) -> list[str]:
        return [m.strip() for m in self.llm_model.split(",") if m.strip()]


class IngestionSettings(BaseSettings):
    model_config = _ENV

    novel_data_dir: Path = REPO_ROOT / "data" / "novels"
    upload_dir: Path = REPO_ROOT / "var" / "uploads"
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    job_stale_seconds: int = Field(default=300, ge=5)
    ai_internal_url: str = "http://127.0.0.1:8000"
    # How often the API checks core's ingested novels against the vector store.
    novel_check_seconds: float = Field(default=300.0, ge=1)
    novel_check_enabled: bool = True


class RateLimitSettings(BaseSettings):
    model_config = _ENV

    rate_limit_enabled: bool = True
    rate_limit_scale: float = Field(default=1.0, gt=0)
    rate_limit_prefix: str = "gaji:ai"
    # Reverse proxies whose X-Forwarded-For entries are trusted (as on core).
    trusted_proxy_count: int = Field(default=0, ge=0, le=10)


class Settings(BaseModel):
    """All settings of the service, grouped by concern."""

    app: AppSettings = Field(default_factory=AppSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    core: CoreSettings = Field(default_factory=CoreSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    vectors: VectorSettings = Field(default_factory=VectorSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    ingestion: IngestionSettings = Field(default_factory=IngestionSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)

    @model_validator(mode="after")
    def _resolve_and_refuse_placeholders(self) -> Settings:
        if not self.auth.jwks_url:
            base = self.core.core_base_url.rstrip("/")
            self.auth = self.auth.model_copy(update={"jwks_url": f"{base}/api/v1/auth/jwks.json"})
        token = self.auth.service_token
        if self.app.gaji_env == "production" and (
            token == DEV_SERVICE_TOKEN or len(token) < MIN_PRODUCTION_TOKEN_LENGTH
        ):
            raise ValueError(
                "SERVICE_TOKEN must be a secret of at least "
                f"{MIN_PRODUCTION_TOKEN_LENGTH} characters in production"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()

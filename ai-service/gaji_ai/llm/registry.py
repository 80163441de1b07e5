"""The providers this process uses, built once and shared: the configured
one (`provider_for`) and the local model a failing remote provider falls
back to (`local_fallback`)."""

from __future__ import annotations

import threading

from gaji_ai.config import Settings
from gaji_ai.llm.providers import LLMProvider, build_local_provider, build_provider

_providers: dict[str, LLMProvider] = {}
_lock = threading.Lock()


def provider_for(settings: Settings) -> LLMProvider:
    with _lock:
        if "main" not in _providers:
            _providers["main"] = build_provider(settings)
        return _providers["main"]


def local_fallback(settings: Settings) -> LLMProvider:
    with _lock:
        if "local" not in _providers:
            _providers["local"] = build_local_provider(settings)
        return _providers["local"]


def clear() -> None:
    """Forget every provider (tests; a settings change)."""
    with _lock:
        _providers.clear()

"""The generation queue's task: one chat turn (gaji_ai.generation.turn)."""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery

from gaji_ai.config import Settings
from gaji_ai.generation.turn import run_generation
from gaji_ai.taskqueue import GENERATE_TASK


def register(celery: Celery, settings: Settings, ready: Callable[[], object]) -> None:
    @celery.task(name=GENERATE_TASK, shared=False)
    def generate(payload: dict) -> str:
        """One chat turn; `payload` is a gaji_ai.generation.task.TurnTask."""
        return run_generation(settings, payload, ready=ready)

"""Small pieces of the ingestion pipeline: slugs, deterministic ids, core retries."""

from __future__ import annotations

import pytest

from gaji_ai.clients.core import CoreResponseError, CoreUnavailable
from gaji_ai.ingestion import pipeline
from gaji_ai.ingestion.pipeline import character_id, passage_id, slugify, with_retries


def test_slugs_from_titles():
    assert slugify("Pride and Prejudice") == "pride-and-prejudice"
    assert (
        slugify("Frankenstein; Or, The Modern Prometheus")
        == "frankenstein-or-the-modern-prometheus"
    )
    assert slugify("Les Misérables!") == "les-miserables"
    assert slugify("???") == "novel"


def test_ids_are_deterministic_per_novel():
    assert passage_id("n1", 3) == passage_id("n1", 3) != passage_id("n2", 3)
    assert (
        character_id("n1", "Mr. Darcy")
        == character_id("n1", "mr. darcy")
        != character_id("n1", "Jane")
    )


async def test_core_briefly_unreachable_is_retried(monkeypatch):
    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(pipeline.asyncio, "sleep", no_sleep)
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise CoreUnavailable("down")
        return "ok"

    assert await with_retries(flaky) == "ok"
    assert calls == 3 and sleeps == [0.5, 1.0]


async def test_retries_give_up_and_refusals_are_not_retried(monkeypatch):
    async def no_sleep(seconds: float) -> None:
        pass

    monkeypatch.setattr(pipeline.asyncio, "sleep", no_sleep)

    async def down() -> None:
        raise CoreUnavailable("down")

    with pytest.raises(CoreUnavailable):
        await with_retries(down, attempts=3)
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise CoreResponseError("no", status=400)

    with pytest.raises(CoreResponseError):
        await with_retries(refused)
    assert calls == 1

"""The local model's prompt cache (gaji_ai.llm.prompt_cache): states are kept
small and within capacity, a conversation's next turn restores its own
state, and what the model answers is the same with the cache as without."""

from __future__ import annotations

import numpy as np
import pytest
from llama_cpp import LlamaState

from gaji_ai.config import Settings
from gaji_ai.llm import registry
from gaji_ai.llm.prompt_cache import CompactPromptCache, CompactStateLlama, compact, state_bytes
from gaji_ai.llm.providers import ChatMessage, LocalProvider, ProviderError, build_provider
from gaji_ai.llm.registry import local_fallback

VOCAB = 1000


def state(tokens: list[int], *, kv_bytes: int = 10_000, rows: int = 64) -> LlamaState:
    ids = np.zeros(2048, dtype=np.intc)
    ids[: len(tokens)] = tokens
    scores = np.arange(rows * VOCAB, dtype=np.single).reshape(rows, VOCAB)
    return LlamaState(
        input_ids=ids,
        scores=scores,
        n_tokens=len(tokens),
        llama_state=b"\0" * kv_bytes,
        llama_state_size=kv_bytes,
        seed=7,
    )


def test_a_stored_state_keeps_only_the_last_logits_row():
    full = state([1, 2, 3])
    small = compact(full)
    assert small.scores.shape == (1, VOCAB)
    assert np.array_equal(small.scores[0], full.scores[-1])
    # Everything load_state needs is kept: the whole input_ids array, the KV bytes.
    assert small.input_ids.shape == (2048,) and small.n_tokens == 3
    assert small.llama_state == full.llama_state and small.seed == 7
    assert state_bytes(small) < state_bytes(full) / 10


def test_lookup_returns_the_longest_cached_prefix_and_counts_hits():
    cache = CompactPromptCache(10_000_000)
    cache[(1, 2, 3)] = state([1, 2, 3])
    cache[(1, 2, 9, 9)] = state([1, 2, 9, 9])
    assert cache[(1, 2, 3, 4, 5)].n_tokens == 3
    assert cache[(1, 2, 9, 9, 1)].n_tokens == 4
    with pytest.raises(KeyError):
        cache[(5, 6)]
    assert (cache.hits, cache.misses) == (2, 1)


def test_capacity_counts_everything_held_and_evicts_least_recently_used():
    one = state_bytes(compact(state([1])))
    cache = CompactPromptCache(one * 2 + 10)
    cache[(1,)] = state([1])
    cache[(2,)] = state([2])
    _ = cache[(1, 5)]  # conversation 1 is used again
    cache[(3,)] = state([3])
    assert set(cache.cache_state) == {(1,), (3,)}
    assert cache.cache_size <= cache.capacity_bytes


def test_a_state_larger_than_the_capacity_is_not_kept():
    cache = CompactPromptCache(1_000)
    cache[(1,)] = state([1], kv_bytes=5_000)
    assert len(cache.cache_state) == 0
    with pytest.raises(ValueError):
        CompactPromptCache(0)


def test_the_local_model_reads_256_passage_tokens_by_default(monkeypatch):
    monkeypatch.delenv("LLM_GROUNDING_TOKENS", raising=False)
    llm = Settings().llm
    assert llm.grounding_tokens("local") == 256
    assert llm.grounding_tokens("openai") == 1024
    monkeypatch.setenv("LLM_GROUNDING_TOKENS", "512")
    assert Settings().llm.grounding_tokens("local") == 512


def test_settings_turn_the_cache_on_by_default_and_zero_turns_it_off(monkeypatch):
    """The in-process engine's cache (LLM_LOCAL_ENGINE=inprocess, the fallback)."""
    monkeypatch.delenv("LLM_PROMPT_CACHE_BYTES", raising=False)
    monkeypatch.setenv("LLM_LOCAL_ENGINE", "inprocess")
    on = build_provider(Settings())
    assert isinstance(on, LocalProvider) and on.prompt_cache_bytes == 256 * 1024 * 1024
    monkeypatch.setenv("LLM_PROMPT_CACHE_BYTES", "0")
    assert build_provider(Settings()).prompt_cache_bytes == 0
    # The local fallback behind a remote provider takes the same setting.
    monkeypatch.setattr(registry, "_providers", {})
    monkeypatch.setenv("LLM_PROMPT_CACHE_BYTES", "1048576")
    assert local_fallback(Settings()).prompt_cache_bytes == 1048576
    monkeypatch.setenv("LLM_PROMPT_CACHE_BYTES", "-1")
    with pytest.raises(ValueError):
        Settings()


def conversation(name: str, question: str) -> list[ChatMessage]:
    return [
        ChatMessage("system", f"You are {name} from Pride and Prejudice. Stay in character."),
        ChatMessage("user", question),
    ]


def test_interleaved_conversations_restore_their_own_state_and_answer_the_same():
    """Two readers take turns on one model. With the cache, each reader's
    second turn starts from that reader's cached state (a hit), and the
    answers are token for token those of a model without a cache."""

    def play(provider: LocalProvider) -> list[str]:
        answers = []
        a = conversation("Elizabeth Bennet", "What do you think of Mr. Darcy?")
        b = conversation("Jane Bennet", "How is Mr. Bingley?")
        for msgs in (a, b):
            answers.append("".join(provider.stream(msgs, max_tokens=12, temperature=0.0)))
        a += [ChatMessage("assistant", answers[0]), ChatMessage("user", "And his sister?")]
        b += [ChatMessage("assistant", answers[1]), ChatMessage("user", "Will he return?")]
        for msgs in (a, b):
            answers.append("".join(provider.stream(msgs, max_tokens=12, temperature=0.0)))
        return answers

    cached = LocalProvider(n_ctx=1024, prompt_cache_bytes=64 * 1024 * 1024)
    with_cache = play(cached)
    assert cached.prompt_cache is not None
    # Both follow-ups found their own conversation's state.
    assert cached.prompt_cache.hits >= 2
    assert len(cached.prompt_cache.cache_state) == 4
    assert cached.prompt_cache.cache_size <= 64 * 1024 * 1024
    plain = LocalProvider(n_ctx=1024)
    assert play(plain) == with_cache
    assert plain.prompt_cache is None


def test_the_model_saves_the_last_logits_row_only_and_keeps_its_own():
    """Saving a state after an answer copies one row of logits, not every
    evaluated token's (~100 MB), and leaves the model's logits as they were."""
    provider = LocalProvider(n_ctx=1024, prompt_cache_bytes=64 * 1024 * 1024)
    "".join(provider.stream(conversation("Jane Bennet", "Hello?"), max_tokens=4))
    llm = provider._loaded()
    assert isinstance(llm, CompactStateLlama)
    before = llm.scores.shape
    saved = llm.save_state()
    assert saved.scores.shape == (1, before[1]) and saved.n_tokens == llm.n_tokens
    assert np.array_equal(saved.scores[0], llm.scores[min(llm.n_tokens, before[0]) - 1])
    assert llm.scores.shape == before
    assert not isinstance(LocalProvider(n_ctx=512)._loaded(), CompactStateLlama)


def test_a_cached_state_that_will_not_load_costs_the_reader_nothing(monkeypatch):
    """llama.cpp refusing a cached state (RuntimeError from load_state) must
    not fail the turn: the cache is emptied and the turn runs cold."""
    provider = LocalProvider(n_ctx=1024, prompt_cache_bytes=64 * 1024 * 1024)
    first = conversation("Elizabeth Bennet", "What do you think of Mr. Darcy?")
    other = conversation("Jane Bennet", "How is Mr. Bingley?")
    answer = "".join(provider.stream(first, max_tokens=8, temperature=0.0))
    "".join(provider.stream(other, max_tokens=8, temperature=0.0))
    assert len(provider.prompt_cache.cache_state) == 2
    llm = provider._loaded()
    calls = []

    def broken(state):
        calls.append(state)
        raise RuntimeError("Failed to set llama state data")

    monkeypatch.setattr(llm, "load_state", broken)
    follow = [*first, ChatMessage("assistant", answer), ChatMessage("user", "And his aunt?")]
    text = "".join(provider.stream(follow, max_tokens=8, temperature=0.0))
    assert calls, "the follow-up should have tried its cached state"
    assert text.strip()
    # The cache was emptied, then refilled by the cold turn.
    assert len(provider.prompt_cache.cache_state) == 1
    monkeypatch.undo()
    plain = LocalProvider(n_ctx=1024)
    assert "".join(plain.stream(follow, max_tokens=8, temperature=0.0)) == text


def test_a_failure_without_a_cache_to_drop_is_reported_once(monkeypatch):
    provider = LocalProvider(n_ctx=512)
    llm = provider._loaded()
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        raise RuntimeError("llama_decode returned -1")

    monkeypatch.setattr(llm, "create_chat_completion", broken)
    with pytest.raises(ProviderError, match="llama_decode"):
        list(provider.stream(conversation("Jane Bennet", "Hello?"), max_tokens=4))
    assert len(calls) == 1

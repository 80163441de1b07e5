"""llama.cpp's prompt cache for the local model, kept small.

One generation worker serves many conversations in turn. llama.cpp reuses
its context only for the prompt it evaluated last, so when readers take
turns every prompt is evaluated from its first token: the system brief, the
persona, the whole conversation so far. With a prompt cache, the state
(KV cache) after each answer is kept per token sequence; the next prompt of
that conversation starts from the longest cached prefix and evaluates only
what is new (the last answer, the passages of this message, the message).
That is what lets the local model read several hundred tokens of the novel
per turn within the first-token budget (bench/REPORT.md, "Grounding").

`llama_cpp.LlamaRAMCache` as shipped stores, with each state, a copy of
the logits of every evaluated token (up to n_batch x vocabulary floats:
~100 MB for SmolLM2's 49k vocabulary) and does not count it against its
capacity, so a few conversations would hold gigabytes. Those logits are
never read back for a prefix: `generate` re-evaluates from the matched
prefix, and a restored state is always re-evaluated (`_requires_eval`).
`CompactPromptCache` keeps only the last row (`load_state` broadcasts it)
and counts everything it holds against `capacity_bytes`, evicting the
least recently used states first. `CompactStateLlama` saves that row only
in the first place: `Llama.save_state` would copy all of them (~100 MB,
30-290 ms measured) at the end of every answer, under the model's lock."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from llama_cpp import Llama, LlamaRAMCache, LlamaState


def state_bytes(state: LlamaState) -> int:
    return int(state.llama_state_size) + int(state.input_ids.nbytes) + int(state.scores.nbytes)


def compact(state: LlamaState) -> LlamaState:
    """The same state with the logits of its last token only."""
    scores = state.scores
    last = scores[-1:] if len(scores) else np.zeros((1, scores.shape[1]), dtype=np.single)
    return LlamaState(
        # The whole n_ctx array: load_state puts it back as the context's own.
        input_ids=state.input_ids.copy(),
        scores=np.array(last, dtype=np.single, copy=True),
        n_tokens=state.n_tokens,
        llama_state=state.llama_state,
        llama_state_size=state.llama_state_size,
        seed=state.seed,
    )


class CompactStateLlama(Llama):
    """`Llama` whose saved states hold the logits of their last token only."""

    def save_state(self) -> LlamaState:
        full = self.scores
        last = min(self.n_tokens, len(full))
        # save_state copies `_scores`, i.e. scores[:n_tokens]: show it one row.
        self.scores = full[max(last - 1, 0) : last]
        try:
            return super().save_state()
        finally:
            self.scores = full


class CompactPromptCache(LlamaRAMCache):
    """An LRU of llama.cpp states keyed by their token sequence, within
    `capacity_bytes` of everything it holds."""

    def __init__(self, capacity_bytes: int) -> None:
        if capacity_bytes <= 0:
            raise ValueError("capacity_bytes must be positive")
        super().__init__(capacity_bytes=capacity_bytes)
        self.hits = 0
        self.misses = 0

    @property
    def cache_size(self) -> int:
        return sum(state_bytes(state) for state in self.cache_state.values())

    def __getitem__(self, key: Sequence[int]) -> LlamaState:
        try:
            state = super().__getitem__(key)
        except KeyError:
            self.misses += 1
            raise
        self.hits += 1
        return state

    def __setitem__(self, key: Sequence[int], value: LlamaState) -> None:
        small = compact(value)
        if state_bytes(small) > self.capacity_bytes:
            return  # would evict everything and still not fit
        key = tuple(key)
        self.cache_state.pop(key, None)
        self.cache_state[key] = small
        size = self.cache_size
        while size > self.capacity_bytes and len(self.cache_state) > 1:
            _, evicted = self.cache_state.popitem(last=False)
            size -= state_bytes(evicted)

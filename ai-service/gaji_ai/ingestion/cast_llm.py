"""Character descriptions written by the configured LLM, when it is good enough.

The extractor (gaji_ai.ingestion.cast) chooses, for each character, the
sentences of the novel that characterise them best. With a remote provider
(LLM_PROVIDER=openai or anthropic) those sentences are handed to the model,
which writes a two-sentence description from them and nothing else; the
chosen sentences stay the description when it fails or answers nonsense.

The bundled local model is not used for this: SmolLM2-135M, given Elizabeth
Bennet's sentences, wrote "a young, intelligent, and spirited female
character ... a lively, playful disposition that contrasts with her reserved
nature and Mr. Darcy's strict social standing" (the reserve and the standing
are invented), at temperature 0.7 repeated the instructions back, said of
Victor Frankenstein only "a complex and multifaceted character", and took
14-20 s per character on 2 cores (10 minutes for a cast of 30). The
novel's own sentences are better than that."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from gaji_ai.config import get_settings
from gaji_ai.ingestion.cast import CharacterProfile
from gaji_ai.llm.providers import ChatMessage, ProviderError, build_provider

logger = logging.getLogger("gaji_ai.ingestion")

Describer = Callable[[CharacterProfile], str | None]
SYSTEM = (
    "You write short character descriptions for a reader's cast list. Use only the "
    "quoted sentences from the novel; invent nothing; no spoilers beyond them."
)
REFUSAL = re.compile(r"^(?:i (?:cannot|can't|am unable)|as an ai|sorry)", re.I)


def prompt(profile: CharacterProfile) -> str:
    evidence = "\n".join(f"- {s}" for s in profile.evidence[:4])
    first = profile.first_appearance.get("quote", "")
    lines = [f"Character: {profile.name}"]
    if profile.aliases[1:]:
        lines.append(f"Also called: {', '.join(profile.aliases[1:5])}")
    lines.append(f"Sentences from the novel:\n{evidence}")
    if first and first not in profile.evidence:
        lines.append(f"First appearance: {first}")
    lines.append(
        f"In at most two sentences, say who {profile.name} is and what they are like. "
        "Plain prose, no heading, no quotation marks."
    )
    return "\n".join(lines)


def accept(profile: CharacterProfile, text: str) -> str | None:
    """The model's description, or None when it is empty, too long, a refusal,
    or not about this character."""
    text = " ".join(text.split()).strip('"\u201c\u201d ')
    if not 20 <= len(text) <= 600 or REFUSAL.search(text):
        return None
    names = {w for n in profile.aliases for w in re.findall(r"[A-Za-z]{3,}", n)} - {"Mrs", "Miss"}
    if names and not any(n.lower() in text.lower() for n in names):
        return None
    return text


def llm_describer(provider, *, max_tokens: int = 160) -> Describer:
    def describe(profile: CharacterProfile) -> str | None:
        if not profile.evidence:
            return None
        messages = [ChatMessage("system", SYSTEM), ChatMessage("user", prompt(profile))]
        try:
            text = "".join(provider.stream(messages, max_tokens=max_tokens, temperature=0.2))
        except ProviderError as exc:
            logger.warning("character description by the LLM failed: %s", exc)
            return None
        return accept(profile, text)

    return describe


def configured_describer(settings=None) -> Describer | None:
    """The remote LLM's describer when one is configured; None for the local
    model (see the module's docstring), and when it cannot be built."""
    if settings is None:
        settings = get_settings()
    if settings.llm.llm_provider == "local":
        return None
    try:
        return llm_describer(build_provider(settings))
    except ValueError as exc:
        logger.warning("no LLM for character descriptions: %s", exc)
        return None


def describe_cast(
    profiles: list[CharacterProfile], describer: Describer, *, limit: int = 12
) -> int:
    """Rewrite the descriptions of the first `limit` (main) characters in place;
    returns how many the LLM wrote."""
    written = 0
    for profile in profiles[:limit]:
        text = describer(profile)
        if text:
            profile.description = text
            profile.description_source = "llm"
            written += 1
    return written

"""The grounded prompt of a chat turn.

Order matters for llama.cpp's prompt cache: the stable part (who the model
plays, the what-if brief, the character's profile) comes first and is the
same on every turn of a conversation; then the conversation so far; the
passages retrieved for this message travel with the last user turn.

Everything fits the model's window: the budget is counted with the model's
own tokenizer, passages are cut first, then history is trimmed oldest-first
(the first exchange is kept: it usually sets the scene).

Passages also have a budget of their own (`grounding_tokens`): on a small
local model every new prompt token costs ~5 ms before the first answer
token, so a passage that does not fit whole is condensed to its sentences
sharing the most words with the reader's message."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gaji_contracts.conversations import GenerationRequest

from gaji_ai.llm.providers import ChatMessage, LLMProvider

# An answer's length in tokens; the prompt leaves it room in the window.
MAX_ANSWER_TOKENS = 200


def prompt_budget(context_tokens: int) -> int:
    """Prompt tokens a model window holds: the answer's room and a margin left out."""
    return context_tokens - MAX_ANSWER_TOKENS - 32


def count_tokens_of(provider: LLMProvider) -> Callable[[str], int]:
    """The provider's own token count, else about four characters a token."""
    counter = getattr(provider, "count_tokens", None)
    return counter if counter else (lambda text: max(1, len(text) // 4))


NARRATOR = "the narrator"


def persona_name(request: GenerationRequest) -> str:
    """Whom the reader speaks to: the character they address, else the
    scenario's character, else the narrator."""
    if request.character and request.character.strip():
        return request.character.strip()
    parameters = request.scenario.parameters
    if request.scenario.scenario_type == "CHARACTER_CHANGE" and parameters.get("character"):
        return str(parameters["character"])
    return NARRATOR


ALTERATIONS = {
    "prevent": "never happened",
    "accelerate": "happened earlier",
    "relocate": "happened somewhere else",
    "outcome_change": "ended differently",
}


def _join(items: list[str]) -> str:
    return ", ".join(i for i in items if i)


def render_brief(scenario_type: str, parameters: dict[str, Any]) -> str:
    """A scenario's typed parameters as a plain-language what-if."""
    p = parameters
    if scenario_type == "CHARACTER_CHANGE":
        was = f" instead of {p['original_value']}" if p.get("original_value") else ""
        when = f", starting at {p['change_point']}" if p.get("change_point") else ""
        text = f"What if {p['character']}'s {p['property']} were {p['new_value']}{was}{when}?"
        if p.get("ripple_effects"):
            text += f" Ripple effects: {_join(p['ripple_effects'])}."
        return text
    if scenario_type == "EVENT_ALTERATION":
        when = f" ({p['timeline_point']})" if p.get("timeline_point") else ""
        how = ALTERATIONS.get(p.get("alteration_type", ""), "changed")
        text = f"What if {p['event']}{when} {how}? Now: {p['new_outcome']}."
        if p.get("original_outcome"):
            text += f" In the original story: {p['original_outcome']}."
        if p.get("affected_characters"):
            text += f" Most affected: {_join(p['affected_characters'])}."
        return text
    if scenario_type == "SETTING_MODIFICATION":
        element = str(p.get("setting_element", "setting")).replace("_", " ")
        return (
            f"What if the story's {element} changed ({p.get('scope', 'global')} scope, "
            f"{p.get('impact_level', 'moderate')} impact): {p['change_description']}."
        )
    return "What if the story went differently?"


# A sentence ends at . ! ? or ; (a closing quote or bracket may follow).
SENTENCE = re.compile(r"(?:(?<=[.!?;])|(?<=[.!?;][\"'\u2019\u201d)]))\s+")
WORD = re.compile(r"[a-z][a-z'\u2019-]{2,}")
COMMON = set(
    """the and you your was were what did how why who with that this have had for not but
    are his her him she they them then than there their from would could should about when
    which will into out all any one tell said say does been very much more some""".split()  # noqa: SIM905
)
MIN_CONDENSED_TOKENS = 24
ABBREVIATIONS = ("Mr.", "Mrs.", "Ms.", "Dr.", "St.", "Col.", "Capt.", "Gen.", "Rev.")


def sentences(text: str) -> list[str]:
    """Split on sentence ends, but not after a title such as "Mr."."""
    out: list[str] = []
    for piece in (p.strip() for p in SENTENCE.split(text)):
        if not piece:
            continue
        if out and out[-1].endswith(ABBREVIATIONS):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in COMMON}


def condense(passage: str, query: str, *, count_tokens: Callable[[str], int], budget: int) -> str:
    """The passage's sentences most related to the query (shared words, then
    earlier first), in their original order, within `budget` tokens."""
    parts = sentences(passage)
    wanted = _words(query)
    ranked = sorted(range(len(parts)), key=lambda i: (-len(_words(parts[i]) & wanted), i))
    chosen: list[int] = []
    used = 0
    for i in ranked:
        cost = count_tokens(parts[i]) + 1
        if used + cost <= budget:
            chosen.append(i)
            used += cost
    return " ".join(parts[i] for i in sorted(chosen))


@dataclass(frozen=True)
class KeptPassage:
    """A passage that reached the prompt: its index in `passages`, the text
    the model saw (condensed or whole) and whether it was condensed."""

    index: int
    text: str
    condensed: bool = False


@dataclass(frozen=True)
class Persona:
    name: str  # "Elizabeth Bennet", or "the narrator"
    description: str = ""
    traits: tuple[str, ...] = ()


@dataclass(frozen=True)
class Turn:
    role: str  # user | assistant
    content: str


def system_prompt(*, story: str, brief: str, persona: Persona) -> str:
    lines = [
        f"You are {persona.name} from {story}. "
        f"Stay in character and answer as {persona.name} would.",
        f"The reader is exploring an alternate timeline. {brief}",
        "Keep to the story's world and tone; "
        "when the passages below answer a question, follow them.",
    ]
    if persona.description:
        lines.append(f"About {persona.name}: {persona.description}")
    if persona.traits:
        lines.append(f"Traits: {', '.join(persona.traits)}.")
    return "\n".join(lines)


def build_messages(
    *,
    story: str,
    brief: str,
    persona: Persona,
    passages: list[str],
    history: list[Turn],
    user_message: str,
    count_tokens: Callable[[str], int],
    budget: int,
    grounding_tokens: int | None = None,
    kept: list[KeptPassage] | None = None,
) -> list[ChatMessage]:
    """Messages for the model, within `budget` tokens (the window minus the
    answer's room). Passages get at most `grounding_tokens` (and half of
    what the instructions and message leave): taken whole in rank order,
    the first that does not fit is condensed to its most related
    sentences, the rest dropped. Then history is trimmed from the oldest
    (keeping the first exchange).

    `kept`, when given, is filled with the passages that reached the
    prompt, in the order they are numbered [1], [2], ... there."""
    system = system_prompt(story=story, brief=brief, persona=persona)
    overhead = 8  # chat-template tokens per message

    def cost(text: str) -> int:
        return count_tokens(text) + overhead

    remaining = budget - cost(system) - cost(user_message) - 16
    if remaining < 0:
        raise ValueError("the prompt budget cannot hold the instructions and the message")
    kept_passages: list[str] = []
    used: list[KeptPassage] = []
    passage_budget = remaining // 2
    if grounding_tokens is not None:
        passage_budget = min(passage_budget, grounding_tokens)
    for index, passage in enumerate(passages):
        if cost(passage) > passage_budget:
            room = passage_budget - overhead
            if room >= MIN_CONDENSED_TOKENS:
                short = condense(passage, user_message, count_tokens=count_tokens, budget=room)
                if short:
                    kept_passages.append(short)
                    used.append(KeptPassage(index, short, condensed=True))
                    remaining -= cost(short)
            break
        kept_passages.append(passage)
        used.append(KeptPassage(index, passage))
        passage_budget -= cost(passage)
        remaining -= cost(passage)
    turns = list(history)
    while turns and sum(cost(t.content) for t in turns) > remaining:
        # Keep the first exchange; drop the oldest turn after it.
        drop = 2 if len(turns) > 2 else 0
        turns.pop(drop)
    if kept is not None:
        kept[:] = used
    final = user_message
    if kept_passages:
        quoted = "\n\n".join(f"[{i + 1}] {p}" for i, p in enumerate(kept_passages))
        final = f"Passages from the novel:\n{quoted}\n\nReader: {user_message}"
    return [
        ChatMessage("system", system),
        *(ChatMessage(t.role, t.content) for t in turns),
        ChatMessage("user", final),
    ]

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
from dataclasses import dataclass, field
from typing import Any

from gaji_contracts.conversations import GenerationRequest
from gaji_contracts.timeline import step_summary

from gaji_ai.llm.providers import ChatMessage, LLMProvider

# An answer's length in tokens; the prompt leaves it room in the window.
MAX_ANSWER_TOKENS = 200
ANSWER_TEMPERATURE = 0.7


def prompt_budget(context_tokens: int, answer_tokens: int = MAX_ANSWER_TOKENS) -> int:
    """Prompt tokens a model window holds: the answer's room and a margin left out."""
    return context_tokens - answer_tokens - 32


def answer_tokens(requested: int | None, context_tokens: int) -> int:
    """An answer's room: the reader's `max_tokens` (their settings), kept
    to half the window so the prompt still fits; MAX_ANSWER_TOKENS when
    they chose none."""
    if requested is None:
        return MAX_ANSWER_TOKENS
    return max(1, min(requested, context_tokens // 2))


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


def render_brief(scenario_type: str, parameters: dict[str, Any]) -> str:
    """A scenario's own change as a plain-language what-if (the timeline's
    brief, when core sends one, holds it and every change before it)."""
    return step_summary(scenario_type, parameters)


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
    # A character from a Character Card (gaji_contracts.conversations.CardPersona):
    # its own texts, with {{char}}/{{user}} still in them.
    nickname: str = ""
    personality: str = ""
    scenario: str = ""
    system_prompt: str = ""
    post_history: str = ""

    @property
    def is_narrator(self) -> bool:
        return self.name == NARRATOR


# A card's texts can be long (20,000 characters each): each is cut to this
# many characters in the prompt, so a card cannot take the whole window.
CARD_TEXT_PROMPT_CHARS = 1200
_CHAR_MACRO = re.compile(r"\{\{char\}\}|<BOT>", re.IGNORECASE)
_USER_MACRO = re.compile(r"\{\{user\}\}|<USER>", re.IGNORECASE)
_ORIGINAL_MACRO = re.compile(r"\{\{original\}\}", re.IGNORECASE)


def card_text(text: str, persona: Persona, reader: str, *, original: str = "") -> str:
    """A card's text as the model reads it: {{char}}/<BOT> is the character
    (its nickname when it has one), {{user}}/<USER> the reader and
    {{original}} what Gaji would have said, all case-insensitively."""
    char = persona.nickname or persona.name
    text = _ORIGINAL_MACRO.sub(lambda _: original, text[:CARD_TEXT_PROMPT_CHARS].strip())
    text = _CHAR_MACRO.sub(lambda _: char, text)
    return _USER_MACRO.sub(lambda _: reader, text)


@dataclass(frozen=True)
class Turn:
    """A line of the conversation as the persona sees it: its own lines are
    `assistant`, everyone else's are `user`, labelled with who said them."""

    role: str  # user | assistant
    content: str


READER = "Reader"
# The reader's response style (their settings): one line in the system
# prompt and the length the final instruction asks for. Balanced is the
# prompt as it always was.
STYLE_LINES = {
    "concise": "Keep every answer short: one or two sentences.",
    "detailed": "Give full, vivid answers: a paragraph or two.",
}
STYLE_LENGTHS = {"concise": "in one or two sentences", "detailed": "in a paragraph or two"}
DEFAULT_LENGTH = "in a few sentences"
MEMORY_HEADER = "What you remember of this branch of the story:"
PASSAGES_HEADER = "Passages from the novel (the what-if overrides them):"


def persona_prompt(persona: Persona, reader: str = READER) -> str:
    """Who the model plays (the `persona` section). A card character brings
    its description, personality and scenario; its `system_prompt`, when
    not empty, replaces these instructions ({{original}} inserts them)."""
    if persona.is_narrator:
        return (
            "You are the narrator. Describe the scene and what the characters do and say, "
            "in the third person, in the novel's style; do not speak as the reader."
        )
    lines = [
        f"You are {persona.name}. Speak only as {persona.name}: in the first person "
        '("I", "me", "my"), in your own voice and manner, never about yourself by name.'
    ]
    if persona.description:
        lines.append(f"About {persona.name}: {card_text(persona.description, persona, reader)}")
    if persona.personality:
        lines.append(f"Personality: {card_text(persona.personality, persona, reader)}")
    if persona.scenario:
        lines.append(f"Scenario: {card_text(persona.scenario, persona, reader)}")
    if persona.traits:
        lines.append(f"Traits: {', '.join(persona.traits)}.")
    ours = "\n".join(lines)
    if persona.system_prompt.strip():
        return card_text(persona.system_prompt, persona, reader, original=ours)
    return ours


def brief_prompt(*, story: str, brief: str) -> str:
    """The what-if (the `brief` section): before any passage of the novel."""
    return (
        f"The story is {story}, changed by a what-if:\n{brief}\n"
        "Everything you say happens inside this what-if, even where the novel differs."
    )


def reader_prompt(*, reader: str = READER, style: str | None = None) -> str:
    """The reader's settings as the model is told them: what the reader is
    called (when not the default) and the response style ("" for neither)."""
    lines = []
    if reader != READER:
        lines.append(f"The reader is called {reader}; address them as {reader}.")
    if style in STYLE_LINES:
        lines.append(STYLE_LINES[style])
    return "\n".join(lines)


def who_prompt(persona: Persona, *, reader: str = READER, style: str | None = None) -> str:
    """Who the model plays and how the reader wants it (the `persona` section)."""
    settings = reader_prompt(reader=reader, style=style)
    who = persona_prompt(persona, reader)
    return f"{who}\n{settings}" if settings else who


def system_prompt(
    *, story: str, brief: str, persona: Persona, reader: str = READER, style: str | None = None
) -> str:
    who = who_prompt(persona, reader=reader, style=style)
    return f"{who}\n\n{brief_prompt(story=story, brief=brief)}"


def instruction(
    persona: Persona,
    premise: str,
    *,
    scene_goes_on: bool,
    style: str | None = None,
    reader: str = READER,
) -> str:
    """The final instruction, restating the premise (small models follow the
    end of a prompt). A card's `post_history_instructions`, when not empty,
    replace it ({{original}} inserts it)."""
    length = STYLE_LENGTHS.get(style or "", DEFAULT_LENGTH)
    if persona.is_narrator:
        what = "Continue the scene" if scene_goes_on else "Narrate what happens next"
        return f"{what} as the narrator, {length}, keeping to the what-if: {premise}"
    what = "Continue the scene" if scene_goes_on else "Answer"
    ours = (
        f"{what} as {persona.name}, in the first person, {length}, "
        f"keeping to the what-if: {premise}"
    )
    if persona.post_history.strip():
        return card_text(persona.post_history, persona, reader, original=ours)
    return ours


@dataclass(frozen=True)
class Section:
    name: str
    text: str
    tokens: int


@dataclass(frozen=True)
class BuiltPrompt:
    messages: list[ChatMessage]
    sections: list[Section]
    kept: list[KeptPassage]
    lore_kept: list[int] = field(
        default_factory=list
    )  # indices into `lore` that reached the prompt


LORE_HEADER = "What is known of this world (lore):"


def fit_lore(entries: list[str], *, count_tokens: Callable[[str], int], budget: int) -> list[int]:
    """The indices of lore entries kept, in order, while they fit `budget`
    tokens (one that does not fit is skipped; core already chose them
    within its own lore budget, this keeps them within the model's window)."""
    kept: list[int] = []
    used = count_tokens(LORE_HEADER) + 1
    for index, entry in enumerate(entries):
        cost = count_tokens(entry) + 1
        if used + cost <= budget:
            kept.append(index)
            used += cost
    return kept


def fit_memory(lines: list[str], *, count_tokens: Callable[[str], int], budget: int) -> list[str]:
    """Memory lines in order while they fit `budget` tokens (one that does not is skipped)."""
    kept: list[str] = []
    used = count_tokens(MEMORY_HEADER) + 1
    for line in lines:
        cost = count_tokens(line) + 1
        if used + cost <= budget:
            kept.append(line)
            used += cost
    return kept


def _merged(turns: list[Turn]) -> list[Turn]:
    """Consecutive lines of one role as one message (chat templates expect turns to alternate)."""
    out: list[Turn] = []
    for turn in turns:
        if out and out[-1].role == turn.role:
            out[-1] = Turn(turn.role, f"{out[-1].content}\n\n{turn.content}")
        else:
            out.append(turn)
    return out


def build_prompt(
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
    premise: str = "",
    scene: list[str] | None = None,
    memory: list[str] | None = None,
    memory_tokens: int = 0,
    reader: str = READER,
    style: str | None = None,
    lore: list[str] | None = None,
) -> BuiltPrompt:
    """Messages for the model, within `budget` tokens (the window minus the
    answer's room), and the sections they are made of.

    Order: who the model plays and the what-if (system, the same on every
    turn of a conversation: llama.cpp reuses it), the conversation so far
    (each line labelled with its speaker, the persona's own as assistant),
    then what the persona remembers of the branch (`memory`, in priority
    order, within `memory_tokens`), the passages, the reader's message,
    what others answered to it in this turn (`scene`), and the
    instruction restating the premise. `reader` is what the reader is
    called in the lines (their persona name), `style` their response
    style (reader_prompt). `lore`: the lorebook entries that fired, in
    insertion order; they go before the memory in the final message
    (not in the system prompt, which stays the same turn after turn so
    the engine reuses it), within a third of what is left.

    Passages get at most `grounding_tokens` (and half of what the rest
    leaves): taken whole in rank order, the first that does not fit is
    condensed to its most related sentences, the rest dropped. Then
    history is trimmed from the oldest (keeping the first exchange)."""
    system = system_prompt(story=story, brief=brief, persona=persona, reader=reader, style=style)
    scene_goes_on = not user_message.strip()
    tail_lines = [f"{reader}: {user_message}"] if user_message.strip() else []
    tail_lines += scene or []
    tail_lines.append(
        instruction(
            persona, premise or brief, scene_goes_on=scene_goes_on, style=style, reader=reader
        )
    )
    tail = "\n\n".join(tail_lines)
    overhead = 8  # chat-template tokens per message

    def cost(text: str) -> int:
        return count_tokens(text) + overhead

    remaining = budget - cost(system) - cost(tail) - 16
    if remaining < 0:
        raise ValueError("the prompt budget cannot hold the instructions and the message")
    # Lore that fired, then memory (each its own budget, at most a third of
    # what is left): pins and the most relevant entries come first in `memory`.
    known = ""
    lore_kept: list[int] = []
    if lore:
        texts = [card_text(entry, persona, reader) for entry in lore]
        lore_kept = fit_lore(texts, count_tokens=count_tokens, budget=remaining // 3)
        if lore_kept:
            known = "\n".join([LORE_HEADER, *(texts[i] for i in lore_kept)])
            remaining -= cost(known)
    remembered = ""
    if memory and memory_tokens > 0:
        lines = fit_memory(
            memory, count_tokens=count_tokens, budget=min(memory_tokens, remaining // 3)
        )
        if lines:
            remembered = "\n".join([MEMORY_HEADER, *lines])
            remaining -= cost(remembered)
    kept_passages: list[str] = []
    used: list[KeptPassage] = []
    passage_budget = remaining // 2
    if grounding_tokens is not None:
        passage_budget = min(passage_budget, grounding_tokens)
    query = user_message if user_message.strip() else " ".join(scene or [])
    for index, passage in enumerate(passages):
        if cost(passage) > passage_budget:
            room = passage_budget - overhead
            if room >= MIN_CONDENSED_TOKENS:
                short = condense(passage, query, count_tokens=count_tokens, budget=room)
                if short:
                    kept_passages.append(short)
                    used.append(KeptPassage(index, short, condensed=True))
                    remaining -= cost(short)
            break
        kept_passages.append(passage)
        used.append(KeptPassage(index, passage))
        passage_budget -= cost(passage)
        remaining -= cost(passage)
    turns = _merged(list(history))
    while turns and sum(cost(t.content) for t in turns) > remaining:
        # Keep the first exchange; drop the oldest turn after it.
        drop = 2 if len(turns) > 2 else 0
        turns.pop(drop)
    turns = _merged(turns)
    # Someone else's line last (another speaker, or the reader's unanswered
    # message): it joins the final message, so turns still alternate.
    carry = turns.pop().content if turns and turns[-1].role == "user" else ""
    quoted = ""
    if kept_passages:
        numbered = "\n\n".join(f"[{i + 1}] {p}" for i, p in enumerate(kept_passages))
        quoted = f"{PASSAGES_HEADER}\n{numbered}"
    final = "\n\n".join(part for part in (carry, known, remembered, quoted, tail) if part)
    messages = [
        ChatMessage("system", system),
        *(ChatMessage(t.role, t.content) for t in turns),
        ChatMessage("user", final),
    ]
    history_text = "\n\n".join(part for part in (*(t.content for t in turns), carry) if part)
    parts = [
        ("persona", who_prompt(persona, reader=reader, style=style)),
        ("brief", brief_prompt(story=story, brief=brief)),
        ("history", history_text),
        ("lore", known),
        ("memory", remembered),
        ("passages", quoted),
        ("message", tail),
    ]
    sections = [Section(name, text, count_tokens(text) if text else 0) for name, text in parts]
    return BuiltPrompt(messages=messages, sections=sections, kept=used, lore_kept=lore_kept)


def build_messages(*, kept: list[KeptPassage] | None = None, **arguments: Any) -> list[ChatMessage]:
    """build_prompt's messages (`kept`, when given, is filled with the
    passages that reached the prompt, in their [1], [2], ... order)."""
    built = build_prompt(**arguments)
    if kept is not None:
        kept[:] = built.kept
    return built.messages

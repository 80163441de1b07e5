"""What a chat turn's task carries from the API process to the worker (the
turn core handed over and its grounding: gaji_ai.generation.grounding), and
the prompt built from it for a provider, with the citations of the passages
that prompt holds. Nothing here touches the vector store."""

from __future__ import annotations

import logging
from typing import Any

from gaji_contracts.conversations import (
    CITATION_QUOTE_CHARS,
    MAX_CHAPTER_TITLE_CHARS,
    MAX_CITATIONS,
    MAX_PROMPT_TEXT_CHARS,
    CardPersona,
    Citation,
    GenerationRequest,
    PlannedAnswer,
    PromptMessage,
    PromptRecord,
    PromptSection,
    Speaker,
    SpeakerKind,
)
from gaji_contracts.conversations import (
    ChatMessage as HistoryMessage,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gaji_ai.config import Settings
from gaji_ai.generation.memory import known_lines
from gaji_ai.generation.prompt import (
    ANSWER_TEMPERATURE,
    NARRATOR,
    READER,
    KeptPassage,
    Persona,
    Turn,
    answer_tokens,
    build_prompt,
    count_tokens_of,
    persona_name,
    prompt_budget,
    render_brief,
)
from gaji_ai.llm.providers import ChatMessage, LLMProvider

logger = logging.getLogger("gaji_ai.generation")


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class Passage(BaseModel):
    """A retrieved passage of the novel and where it is in the book."""

    model_config = ConfigDict(frozen=True)

    text: str
    passage_id: str = ""
    chapter: int = 0
    chapter_title: str = ""
    chunk_index: int = 0

    def __init__(self, text: str | None = None, /, **fields: Any) -> None:
        if text is not None:
            fields["text"] = text
        super().__init__(**fields)

    @classmethod
    def of(cls, point_id: object, payload: dict[str, Any]) -> Passage:
        return cls(
            text=str(payload.get("text") or ""),
            passage_id=str(point_id),
            chapter=_count(payload.get("chapter")),
            chapter_title=str(payload.get("chapter_title") or ""),
            chunk_index=_count(payload.get("chunk_index")),
        )


class PersonaData(BaseModel):
    name: str
    description: str = ""
    traits: list[str] = Field(default_factory=list)
    # A card character's own texts (see Persona).
    nickname: str = ""
    personality: str = ""
    scenario: str = ""
    system_prompt: str = ""
    post_history: str = ""

    @classmethod
    def of(cls, persona: Persona) -> PersonaData:
        return cls(
            name=persona.name,
            description=persona.description,
            traits=list(persona.traits),
            nickname=persona.nickname,
            personality=persona.personality,
            scenario=persona.scenario,
            system_prompt=persona.system_prompt,
            post_history=persona.post_history,
        )

    @classmethod
    def of_card(cls, card: CardPersona) -> PersonaData:
        return cls(
            name=card.name,
            description=card.description,
            nickname=card.nickname,
            personality=card.personality,
            scenario=card.scenario,
            system_prompt=card.system_prompt,
            post_history=card.post_history_instructions,
        )

    def persona(self) -> Persona:
        return Persona(
            self.name,
            self.description,
            tuple(self.traits),
            nickname=self.nickname,
            personality=self.personality,
            scenario=self.scenario,
            system_prompt=self.system_prompt,
            post_history=self.post_history,
        )


class Grounding(BaseModel):
    """What the prompt is grounded in, as it travels with the task: the
    persona of each answer (in speaking order) and the passages."""

    persona: PersonaData
    personas: list[PersonaData] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    canon_chapter: int | None = Field(
        default=None, description="The last chapter passages were taken from (the spoiler boundary)"
    )

    def persona_of(self, index: int) -> Persona:
        personas = self.personas or [self.persona]
        return personas[min(index, len(personas) - 1)].persona()


class TurnTask(BaseModel):
    """The generation task's payload: the turn core handed over, grounded."""

    request: GenerationRequest
    grounding: Grounding

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> TurnTask:
        """A task of this version, or a bare GenerationRequest (queued by an
        older API process before an upgrade): that one is answered ungrounded
        rather than lost."""
        if "request" in payload:
            return cls.model_validate(payload)
        request = GenerationRequest.model_validate(payload)
        return cls(request=request, grounding=ungrounded(request))


def planned_answers(request: GenerationRequest) -> list[PlannedAnswer]:
    """The turn's answers in speaking order (one, from an older core)."""
    if request.answers:
        return request.answers
    name = persona_name(request)
    speaker = (
        Speaker.narrator() if name == NARRATOR else Speaker(kind=SpeakerKind.CHARACTER, name=name)
    )
    return [
        PlannedAnswer(
            message_id=request.assistant_message_id, attempt=request.attempt, speaker=speaker
        )
    ]


def speaker_persona_name(speaker: Speaker) -> str:
    return NARRATOR if speaker.kind == SpeakerKind.NARRATOR else speaker.name or NARRATOR


def ungrounded(request: GenerationRequest) -> Grounding:
    personas = [
        PersonaData.of_card(a.persona)
        if a.persona
        else PersonaData(name=speaker_persona_name(a.speaker))
        for a in planned_answers(request)
    ]
    return Grounding(persona=personas[0], personas=personas)


def same_speaker(a: Speaker | None, b: Speaker) -> bool:
    if a is None or a.kind != b.kind:
        return False
    if a.kind != SpeakerKind.CHARACTER:
        return True
    if a.character_id and b.character_id:
        return a.character_id == b.character_id
    return a.name.strip().lower() == b.name.strip().lower()


def label(speaker: Speaker | None, default: str, reader: str = READER) -> str:
    if speaker is None:
        return default
    if speaker.kind == SpeakerKind.USER:
        return reader
    return speaker.name or default


def perspective(
    messages: list[HistoryMessage], speaker: Speaker, reader: str = READER
) -> list[Turn]:
    """The conversation as `speaker` sees it: its own lines as assistant,
    everyone else's as user lines labelled with who said them (the reader's
    with `reader`: what they asked to be called). A message of an older
    core (no speaker) keeps its role."""
    turns = []
    for message in messages:
        if message.speaker is None:
            turns.append(Turn(message.role.value, message.content))
        elif same_speaker(message.speaker, speaker):
            turns.append(Turn("assistant", message.content))
        else:
            turns.append(
                Turn("user", f"{label(message.speaker, reader, reader)}: {message.content}")
            )
    return turns


def quote_of(text: str, limit: int = CITATION_QUOTE_CHARS) -> str:
    """The start of `text` verbatim, cut at a word boundary with an ellipsis
    when longer than `limit` characters."""
    text = text.replace("\x00", "").strip()
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
    head = cut[:space] if space >= limit // 2 else text[:limit]
    return head.rstrip(" \t\n,;:-\u2014") + "…"


def citations_of(passages: list[Passage], kept: list[KeptPassage]) -> list[Citation]:
    """The citations of the passages that reached the prompt, in prompt order."""
    citations = []
    for item in kept[:MAX_CITATIONS]:
        passage = passages[item.index]
        title = passage.chapter_title.replace("\x00", "")[:MAX_CHAPTER_TITLE_CHARS]
        try:
            citations.append(
                Citation(
                    passage_id=passage.passage_id,
                    chapter=passage.chapter,
                    chapter_title=title,
                    chunk_index=passage.chunk_index,
                    quote=quote_of(item.text),
                )
            )
        except ValidationError as exc:  # a point without an id: cited by nobody
            logger.warning("passage %r cannot be cited: %s", passage.passage_id, exc)
    return citations


def _story(request: GenerationRequest) -> str:
    return request.scenario.base_story.replace("-", " ").replace("_", " ").title()


def _record_text(text: str) -> str:
    return text if len(text) <= MAX_PROMPT_TEXT_CHARS else text[: MAX_PROMPT_TEXT_CHARS - 1] + "…"


class Prompt:
    """A grounded turn's context; `fit(provider, index, scene)` fits the
    prompt of its `index`-th answer to that provider's tokenizer and window
    (`scene`: what the turn's earlier answers said). The benchmark builds
    the very same prompt to call a provider directly.

    The reader's options (their settings, sent by core) set the answer's
    length cap and temperature (`max_tokens`, `temperature`: what the
    provider is called with), the response style and what the reader is
    called; a request without them is answered as before they existed."""

    def __init__(self, settings: Settings, task: TurnTask) -> None:
        self.settings = settings
        self.request = task.request
        self.grounding = task.grounding
        self.answers = planned_answers(task.request)
        self.passages = task.grounding.passages
        options = task.request.options
        self.max_tokens = answer_tokens(options.max_tokens, settings.llm.llm_context_tokens)
        self.temperature = (
            ANSWER_TEMPERATURE if options.temperature is None else options.temperature
        )
        self.reader = options.persona_name or READER
        self.style = options.response_style

    def memory_lines(self, speaker: Speaker) -> list[str]:
        """What `speaker` may remember of the branch (nothing with MEMORY_MODE=off)."""
        memory = self.request.memory
        if memory is None or self.settings.llm.memory_mode == "off":
            return []
        history_from = max(0, memory.position - len(self.request.recent_messages))
        return known_lines(memory, speaker, history_from=history_from)

    def messages_for(self, provider: LLMProvider) -> list[ChatMessage]:
        return self.fit(provider)[0]

    def fit(
        self,
        provider: LLMProvider,
        index: int = 0,
        scene: list[str] | None = None,
        *,
        model: str = "",
    ) -> tuple[list[ChatMessage], list[Citation], PromptRecord]:
        """The messages of answer `index` for this provider, the citations of
        the passages they hold, and the record of what the model is given."""
        request = self.request
        speaker = self.answers[index].speaker
        count = count_tokens_of(provider)
        built = build_prompt(
            story=_story(request),
            brief=request.brief
            or render_brief(request.scenario.scenario_type, request.scenario.parameters),
            persona=self.grounding.persona_of(index),
            passages=[p.text for p in self.passages],
            history=perspective(request.recent_messages, speaker, self.reader),
            user_message=request.user_message,
            count_tokens=count,
            budget=prompt_budget(self.settings.llm.llm_context_tokens, self.max_tokens),
            grounding_tokens=self.settings.llm.grounding_tokens(provider.name),
            premise=render_brief(request.scenario.scenario_type, request.scenario.parameters),
            scene=scene,
            memory=self.memory_lines(speaker),
            memory_tokens=self.settings.llm.memory_tokens,
            reader=self.reader,
            style=self.style,
            lore=[entry.content for entry in request.lore],
        )
        record = PromptRecord(
            model=(model or getattr(provider, "default_model", "") or "")[:100],
            provider=provider.name[:40],
            settings={
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "context_tokens": self.settings.llm.llm_context_tokens,
                "grounding_tokens": self.settings.llm.grounding_tokens(provider.name),
                "memory_tokens": self.settings.llm.memory_tokens,
                "memory": self.settings.llm.memory_mode,
                "canon_chapter": self.grounding.canon_chapter,
                "response_style": self.style or "balanced",
            },
            messages=[
                PromptMessage(role=m.role, content=_record_text(m.content)) for m in built.messages
            ],
            sections=[
                PromptSection(name=x.name, tokens=x.tokens, text=_record_text(x.text))
                for x in built.sections
            ],
            prompt_tokens=sum(count(m.content) for m in built.messages),
            lore=[request.lore[i] for i in built.lore_kept],
        )
        return built.messages, citations_of(self.passages, built.kept), record

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
    Citation,
    GenerationRequest,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gaji_ai.config import Settings
from gaji_ai.generation.prompt import (
    KeptPassage,
    Persona,
    Turn,
    build_messages,
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

    @classmethod
    def of(cls, persona: Persona) -> PersonaData:
        return cls(name=persona.name, description=persona.description, traits=list(persona.traits))

    def persona(self) -> Persona:
        return Persona(self.name, self.description, tuple(self.traits))


class Grounding(BaseModel):
    """What the prompt is grounded in, as it travels with the task."""

    persona: PersonaData
    passages: list[Passage] = Field(default_factory=list)


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


def ungrounded(request: GenerationRequest) -> Grounding:
    return Grounding(persona=PersonaData(name=persona_name(request)))


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


class Prompt:
    """A grounded turn's context; `fit(provider)` fits it to that provider's
    tokenizer and window. The benchmark builds the very same prompt to call
    a provider directly."""

    def __init__(self, settings: Settings, task: TurnTask) -> None:
        self.settings = settings
        self.request = task.request
        self.persona = task.grounding.persona.persona()
        self.passages = task.grounding.passages

    def messages_for(self, provider: LLMProvider) -> list[ChatMessage]:
        return self.fit(provider)[0]

    def fit(self, provider: LLMProvider) -> tuple[list[ChatMessage], list[Citation]]:
        """The messages for this provider, and the citations of the passages they hold."""
        request = self.request
        kept: list[KeptPassage] = []
        messages = build_messages(
            story=_story(request),
            brief=render_brief(request.scenario.scenario_type, request.scenario.parameters),
            persona=self.persona,
            passages=[p.text for p in self.passages],
            history=[Turn(m.role.value, m.content) for m in request.recent_messages],
            user_message=request.user_message,
            count_tokens=count_tokens_of(provider),
            budget=prompt_budget(self.settings.llm.llm_context_tokens),
            grounding_tokens=self.settings.llm.grounding_tokens(provider.name),
            kept=kept,
        )
        return messages, citations_of(self.passages, kept)

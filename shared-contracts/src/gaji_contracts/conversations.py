"""The chat turn between core and ai (DESIGN.md, "The chat turn").

core -> ai   POST /api/ai/internal/generations        GenerationRequest -> 202 GenerationAccepted
core -> ai   POST /api/ai/internal/generations/{message_id}/cancel          -> CancelAccepted
core -> ai   GET  /api/ai/models                                            -> ModelList
ai -> core   GET  /api/internal/conversations/{id}/context               -> ConversationContext
ai -> core   POST /api/internal/conversations/{id}/messages  AssistantMessageResult -> PersistResult
             (with the `citations` of the passages the answer's prompt held)
ai -> core   POST /api/internal/conversations/{id}/turns     TurnCreate -> 201 GenerationRequest
             (the direct ai endpoint: core stores the turn, ai queues it)

The stream's `message_complete` event carries MessageComplete: the answer as
saved on core, with the same citations.

The browser opens the ai stream with a short-lived ticket core signs with its
JWT key (StreamTicketClaims); ai verifies it through core's JWKS like any
user token, but a ticket is never an access token (own audience and type).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from gaji_contracts.memory import MemoryContext
from gaji_contracts.text import CleanText, NoNulText
from gaji_contracts.timeline import MAX_BRIEF_CHARS

MAX_USER_MESSAGE_CHARS = 4000
# An assistant answer is bounded by the model's output budget; this cap only
# keeps a runaway or hostile caller from storing megabytes.
MAX_ASSISTANT_MESSAGE_CHARS = 100_000
FORK_MESSAGE_WINDOW = 6
GENERATIONS_PATH = "/api/ai/internal/generations"
MODELS_PATH = "/api/ai/models"
MAX_CHARACTER_NAME_CHARS = 100
# An answer cites the passages its prompt held (a handful); these caps only
# bound what a caller may store. ai trims a quote to CITATION_QUOTE_CHARS
# (plus an ellipsis); core accepts a little more.
MAX_CITATIONS = 20
CITATION_QUOTE_CHARS = 200
MAX_CITATION_QUOTE_CHARS = 300
MAX_CHAPTER_TITLE_CHARS = 300
MAX_PASSAGE_ID_CHARS = 100

STREAM_TICKET_AUDIENCE = "gaji-stream"
STREAM_TICKET_TYPE = "stream_ticket"
STREAM_TICKET_TTL_SECONDS = 300


def generation_cancel_path(message_id: UUID | str) -> str:
    return f"{GENERATIONS_PATH}/{message_id}/cancel"


def turns_path(conversation_id: UUID | str) -> str:
    """core's internal route that stores a chat turn for the ai direct endpoint."""
    return f"/api/internal/conversations/{conversation_id}/turns"


def stream_path(conversation_id: UUID | str) -> str:
    """The ai service's SSE route for a conversation (message id in the query)."""
    return f"/api/ai/conversations/{conversation_id}/stream"


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class SpeakerKind(StrEnum):
    USER = "user"
    CHARACTER = "character"
    NARRATOR = "narrator"


NARRATOR_NAME = "Narrator"
MAX_CHARACTER_ID_CHARS = 64
# Answers to one reader message (or one `continue`): characters and the narrator.
MAX_SPEAKERS = 3


class Speaker(BaseModel):
    """Who said a message: the reader, a character (of the novel's cast by
    id, or named freely with no id) or the narrator."""

    model_config = ConfigDict(extra="forbid")

    kind: SpeakerKind
    character_id: Annotated[NoNulText, StringConstraints(max_length=MAX_CHARACTER_ID_CHARS)] | None = None
    name: Annotated[NoNulText, StringConstraints(max_length=MAX_CHARACTER_NAME_CHARS)] = ""

    @classmethod
    def narrator(cls) -> Speaker:
        return cls(kind=SpeakerKind.NARRATOR, name=NARRATOR_NAME)

    @classmethod
    def reader(cls, name: str = "") -> Speaker:
        return cls(kind=SpeakerKind.USER, name=name[:MAX_CHARACTER_NAME_CHARS])


class MessageStatus(StrEnum):
    PENDING = "pending"
    STREAMING = "streaming"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


TERMINAL_STATUSES = frozenset({MessageStatus.COMPLETED, MessageStatus.CANCELLED, MessageStatus.FAILED})


class Citation(BaseModel):
    """A passage of the novel an answer's prompt held, numbered [1], [2], ...
    in the prompt in this list's order. `quote` is the passage's text as the
    model saw it (condensed passages: the condensed text), trimmed at a word
    boundary with an ellipsis."""

    model_config = ConfigDict(extra="forbid")

    passage_id: Annotated[NoNulText, StringConstraints(min_length=1, max_length=MAX_PASSAGE_ID_CHARS)] = (
        Field(description="The passage's point id in the vector store")
    )
    chapter: int = Field(ge=0, le=1_000_000)
    chapter_title: Annotated[NoNulText, StringConstraints(max_length=MAX_CHAPTER_TITLE_CHARS)] = ""
    chunk_index: int = Field(ge=0, le=100_000_000)
    quote: Annotated[NoNulText, StringConstraints(min_length=1, max_length=MAX_CITATION_QUOTE_CHARS)]


Citations = Annotated[list[Citation], Field(max_length=MAX_CITATIONS)]


class ChatMessage(BaseModel):
    """One message of a conversation's history, as the generation reads it."""

    id: UUID
    role: MessageRole
    content: str
    status: MessageStatus = MessageStatus.COMPLETED
    created_at: datetime
    speaker: Speaker | None = Field(default=None, description="None from an older core")


class ScenarioBrief(BaseModel):
    """What the what-if is: enough to render the prompt's brief."""

    id: UUID
    base_story: str
    scenario_type: str
    parameters: dict[str, Any]


# A character imported from a Character Card (core's cards app) speaks with
# its card's texts; their bounds are the card import's (cards.formats).
CARD_CHARACTER_PREFIX = "card:"  # Speaker.character_id of a card character: "card:<card uuid>"
MAX_CARD_TEXT_CHARS = 20_000
CardText = Annotated[str, StringConstraints(max_length=MAX_CARD_TEXT_CHARS)]


class CardPersona(BaseModel):
    """Who a character from a Character Card is, as the prompt needs it.
    `{{char}}`/`<BOT>` and `{{user}}`/`<USER>` are still in the texts: ai
    replaces them (case-insensitively) with `nickname or name` and the
    reader's name. `system_prompt` replaces ai's own persona instructions
    (`{{original}}` inserts them; empty keeps them);
    `post_history_instructions` replaces the final instruction likewise."""

    model_config = ConfigDict(extra="forbid")

    card_id: UUID
    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CHARACTER_NAME_CHARS)]
    nickname: Annotated[str, StringConstraints(max_length=MAX_CHARACTER_NAME_CHARS)] = ""
    description: CardText = ""
    personality: CardText = ""
    scenario: CardText = ""
    system_prompt: CardText = ""
    post_history_instructions: CardText = ""


class PlannedAnswer(BaseModel):
    """One answer of a turn: its pending message and who speaks it."""

    model_config = ConfigDict(extra="forbid")

    message_id: UUID
    attempt: int = Field(default=1, ge=1)
    speaker: Speaker
    persona: CardPersona | None = Field(
        default=None, description="Set when the speaker is a character from a card (`card:<id>`)"
    )


MAX_LORE_ENTRIES = 50
LorePosition = Literal["before_char", "after_char"]


class LoreEntry(BaseModel):
    """A lorebook entry that fired for this turn (core's cards.lore chose it:
    its keys matched the recent messages, or it is constant), in insertion
    order. The prompt inspector records the ones that reached the prompt."""

    model_config = ConfigDict(extra="forbid")

    book: Annotated[str, StringConstraints(max_length=200)] = ""
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    content: Annotated[str, StringConstraints(min_length=1, max_length=MAX_CARD_TEXT_CHARS)]
    position: LorePosition = "before_char"
    reason: Annotated[str, StringConstraints(max_length=300)] = ""


# A reader's turn settings (core's GET/PUT /users/me/settings): the bounds
# core checks and ai honours. An answer of MAX_ANSWER_TOKENS_LIMIT tokens
# still leaves the prompt room in the local model's window (ai also keeps
# the answer to at most half the window).
MIN_ANSWER_TOKENS = 16
MAX_ANSWER_TOKENS_LIMIT = 1024
MAX_TEMPERATURE = 2.0
MAX_PERSONA_NAME_CHARS = 50
RESPONSE_STYLES = ("concise", "balanced", "detailed")
ResponseStyle = Literal["concise", "balanced", "detailed"]


# What no_control refuses, as JSON Schema says it (Unicode category Cc).
NO_CONTROL_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"


def no_control(value: str) -> str:
    """Refuse control characters (newlines, tabs, NUL, ...): a name the
    prompt quotes stays on its line."""
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must not contain control characters")
    return value


class TurnOptions(BaseModel):
    """How the reader wants their turns answered (their settings, filled in
    by core). Every field None: the service's defaults, as before options
    existed."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0, le=MAX_TEMPERATURE, allow_inf_nan=False)
    max_tokens: int | None = Field(
        default=None,
        ge=MIN_ANSWER_TOKENS,
        le=MAX_ANSWER_TOKENS_LIMIT,
        description="The answer's length cap in tokens (ai keeps it within half its window)",
    )
    response_style: ResponseStyle | None = Field(default=None, description="None: balanced")
    persona_name: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PERSONA_NAME_CHARS),
            AfterValidator(no_control),
            Field(json_schema_extra={"pattern": NO_CONTROL_PATTERN}),
        ]
        | None
    ) = Field(default=None, description='What characters call the reader; None: "Reader"')


class GenerationRequest(BaseModel):
    """core -> ai: generate the turn's answers, one after another in one
    stream keyed by `assistant_message_id` (the first answer), each seeing
    the lines before it. Checked together: a reader's message
    (`user_message_id` set) is not empty; `answers` start with
    `assistant_message_id`, each answer once."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: UUID
    user_id: UUID
    user_message_id: UUID | None = Field(default=None, description="None when the scene goes on by itself")
    assistant_message_id: UUID = Field(description="The first answer's id: the turn's stream")
    attempt: int = Field(default=1, ge=1, description="1, then +1 for every regenerate")
    answers: list[PlannedAnswer] = Field(
        default_factory=list,
        max_length=MAX_SPEAKERS,
        description="The answers in speaking order, the first being assistant_message_id; empty from an "
        "older core (one answer, spoken by `character`)",
    )
    user_message: Annotated[str, StringConstraints(max_length=MAX_USER_MESSAGE_CHARS)] = Field(
        default="", description="The reader's message; empty when the scene goes on by itself (continue)"
    )
    scenario: ScenarioBrief
    brief: Annotated[str, StringConstraints(max_length=MAX_BRIEF_CHARS)] | None = Field(
        default=None,
        description="The whole timeline from the novel to this scenario as the model is told it "
        "(gaji_contracts.timeline); None from an older core: the scenario's own change alone",
    )
    novel_id: UUID | None = Field(default=None, description="Set when the scenario's novel is ingested")
    recent_messages: list[ChatMessage] = Field(
        default_factory=list, description="Completed messages before the user message, oldest first"
    )
    model: str | None = Field(default=None, max_length=100, description="A model from GET /api/ai/models")
    character: str | None = Field(
        default=None,
        max_length=MAX_CHARACTER_NAME_CHARS,
        description="The character the user addresses (else the scenario's character, else the narrator)",
    )
    memory: MemoryContext | None = Field(
        default=None, description="The branch's memory (gaji_contracts.memory); None from an older core"
    )
    options: TurnOptions = Field(
        default_factory=TurnOptions,
        description="The reader's settings for this turn; empty from an older core (the defaults)",
    )
    lore: list[LoreEntry] = Field(
        default_factory=list,
        max_length=MAX_LORE_ENTRIES,
        description="Lorebook entries that fired (the conversation's and its novel's lorebooks, and "
        "the books of the scene's card characters), within core's lore budget, in insertion order",
    )

    @model_validator(mode="after")
    def _consistent(self) -> GenerationRequest:
        if self.user_message_id is not None and not self.user_message.strip():
            raise ValueError("user_message: a reader's message cannot be empty")
        if self.answers and self.answers[0].message_id != self.assistant_message_id:
            raise ValueError("answers: the first answer must be assistant_message_id")
        if len({a.message_id for a in self.answers}) != len(self.answers):
            raise ValueError("answers: each answer once")
        return self


class GenerationAccepted(BaseModel):
    """ai's 202 answer to a GenerationRequest."""

    message_id: UUID
    status: Literal["queued"] = "queued"


class CancelAccepted(BaseModel):
    """ai's answer to a cancel: the worker stops within a second."""

    message_id: UUID
    cancel_requested: bool = True


class ModelList(BaseModel):
    """GET /api/ai/models: the models a request may choose (`default` when none is given)."""

    provider: str
    default: str
    models: list[str]


class TurnCreate(BaseModel):
    """ai -> core: store a chat turn for `user_id` (the ai direct endpoint).

    core checks the user owns the conversation, stores the user message and a
    pending answer, and returns the GenerationRequest without dispatching it."""

    model_config = ConfigDict(extra="forbid")

    user_id: UUID
    content: CleanText = Field(max_length=MAX_USER_MESSAGE_CHARS)
    model: str | None = Field(default=None, max_length=100)
    character: CleanText | None = Field(default=None, max_length=MAX_CHARACTER_NAME_CHARS)


# The prompt inspector: what a model received for an answer.
MAX_PROMPT_MESSAGES = 400
MAX_PROMPT_TEXT_CHARS = 200_000
PromptText = Annotated[str, StringConstraints(max_length=MAX_PROMPT_TEXT_CHARS)]


class PromptMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: PromptText


class PromptSection(BaseModel):
    """A labelled part of the prompt: brief, persona, passages (with their
    citation numbers), history, message, ..."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    tokens: int = Field(
        ge=0, le=10_000_000, description="Counted with the model's own tokenizer when it has one"
    )
    text: PromptText


class PromptRecord(BaseModel):
    """Exactly what the model received for one answer."""

    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, StringConstraints(max_length=100)]
    provider: Annotated[str, StringConstraints(max_length=40)] = ""
    settings: dict[str, float | int | str | bool | None] = Field(
        default_factory=dict, description="temperature, max_tokens, context_tokens, ..."
    )
    messages: list[PromptMessage] = Field(max_length=MAX_PROMPT_MESSAGES)
    sections: list[PromptSection] = Field(default_factory=list, max_length=40)
    lore: list[LoreEntry] = Field(
        default_factory=list,
        max_length=MAX_LORE_ENTRIES,
        description="The lorebook entries that reached the prompt (the `lore` section), with why each fired",
    )
    prompt_tokens: int = Field(default=0, ge=0, le=10_000_000)


class AssistantMessageResult(BaseModel):
    """ai -> core: the final (or progress) state of a pending assistant message.

    Idempotent by `message_id`: a retried call changes nothing twice."""

    model_config = ConfigDict(extra="forbid")

    message_id: UUID
    role: Literal["assistant"] = "assistant"
    content: Annotated[str, StringConstraints(max_length=MAX_ASSISTANT_MESSAGE_CHARS)] = ""
    status: Literal["streaming", "completed", "cancelled", "failed"]
    model: Annotated[str, StringConstraints(max_length=100)] = ""
    total_tokens: int = Field(default=0, ge=0, le=10_000_000)
    degraded: bool = False
    attempt: int | None = Field(
        default=None, ge=1, description="The GenerationRequest's attempt; a stale attempt is ignored"
    )
    error_code: Annotated[str, StringConstraints(max_length=50)] = ""
    grounded: bool | None = Field(
        default=None,
        description="Whether passages of the novel reached the model (None: not known yet)",
    )
    citations: Citations = Field(
        default_factory=list,
        description="The passages the answer's prompt held, in their prompt order ([] when ungrounded)",
    )
    prompt: PromptRecord | None = Field(
        default=None, description="What the model received (the prompt inspector); None when no model ran"
    )
    reader_attached: bool | None = Field(
        default=None,
        description="Set on a turn's last answer: whether a reader was attached to the turn's stream "
        "when it ended (false: core notifies the owner that the answer is ready; None: not the turn's "
        "end, or not known)",
    )


class MessageComplete(BaseModel):
    """The stream's `message_complete` event: the answer as saved on core.
    `more`: another answer of the same turn follows in this stream."""

    message_id: UUID
    role: Literal["assistant"] = "assistant"
    speaker: Speaker | None = None
    more: bool = False
    content: str
    total_tokens: int
    model: str
    degraded: bool
    grounded: bool | None
    status: Literal["streaming", "completed", "cancelled", "failed"]
    citations: list[Citation] = Field(default_factory=list)

    @classmethod
    def of(
        cls, result: AssistantMessageResult, *, speaker: Speaker | None = None, more: bool = False
    ) -> MessageComplete:
        return cls(
            message_id=result.message_id,
            speaker=speaker,
            more=more,
            content=result.content,
            total_tokens=result.total_tokens,
            model=result.model,
            degraded=result.degraded,
            grounded=result.grounded,
            status=result.status,
            citations=result.citations,
        )


class PersistResult(BaseModel):
    message_id: UUID
    status: MessageStatus
    applied: bool = Field(description="False when the call changed nothing (a retry, or a stale attempt)")


class ConversationRef(BaseModel):
    id: UUID
    title: str
    user_id: UUID
    parent_conversation_id: UUID | None
    message_count: int


class NovelRef(BaseModel):
    id: UUID
    slug: str
    title: str
    author: str
    ingestion_status: str


class OwnerRef(BaseModel):
    id: UUID
    username: str


class ConversationContext(BaseModel):
    """core -> ai: what a generation needs to know about a conversation."""

    conversation: ConversationRef
    scenario: ScenarioBrief
    novel: NovelRef | None
    owner: OwnerRef
    messages: list[ChatMessage] = Field(description="The last N messages, oldest first")


class StreamTicketClaims(BaseModel):
    """The signed ticket in core's `stream_url` (RS256, core's JWKS)."""

    sub: str = Field(description="User id")
    conversation_id: str
    message_id: str
    token_type: Literal["stream_ticket"] = STREAM_TICKET_TYPE
    aud: str = STREAM_TICKET_AUDIENCE
    iss: str
    exp: int
    iat: int
    jti: str

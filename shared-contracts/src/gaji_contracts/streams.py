"""The events of an answer's stream (ai's SSE route, GET
/api/ai/conversations/{id}/stream), as models: what the worker writes and
what every reader (the web app, core's tests, the benchmarks) receives.

    message_chunk     MessageChunk      the answer so far and the new delta
    message_complete  MessageComplete   the answer as saved on core (the last event)
    error             StreamError       a code and a message; for the codes in
                                        ERRORS_BEFORE_COMPLETE a message_complete follows
    not_resumable     StreamError       the stream has expired (NOT_RESUMABLE)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from gaji_contracts.conversations import MessageComplete, Speaker

MESSAGE_CHUNK = "message_chunk"
MESSAGE_COMPLETE = "message_complete"
ERROR = "error"
NOT_RESUMABLE = "not_resumable"
EVENT_NAMES = (MESSAGE_CHUNK, MESSAGE_COMPLETE, ERROR, NOT_RESUMABLE)


class StreamErrorCode(StrEnum):
    PROVIDER_ERROR = "PROVIDER_ERROR"  # the model failed; a failed message_complete follows
    WORKER_LOST = "WORKER_LOST"  # the worker died mid-answer; a failed message_complete follows
    PERSIST_FAILED = "PERSIST_FAILED"  # core away: the answer is kept, message_complete once saved
    NOT_STARTED = "NOT_STARTED"  # no worker started the answer in time
    STREAM_UNAVAILABLE = "STREAM_UNAVAILABLE"  # Redis away: the answer will be in the history
    NOT_RESUMABLE = "NOT_RESUMABLE"  # the stream has expired


# These errors are followed by a message_complete (failed, or for
# PERSIST_FAILED the answer once core took it); any other ends the stream.
ERRORS_BEFORE_COMPLETE = frozenset(
    {StreamErrorCode.PROVIDER_ERROR, StreamErrorCode.WORKER_LOST, StreamErrorCode.PERSIST_FAILED}
)


class MessageChunk(BaseModel):
    content: str = Field(description="The answer so far")
    delta: str = Field(description="What this event added")
    message_id: UUID | None = Field(default=None, description="The answer being spoken")
    speaker: Speaker | None = Field(default=None, description="Who is speaking")


class StreamError(BaseModel):
    code: StreamErrorCode
    message: str

    @property
    def ends_stream(self) -> bool:
        return self.code not in ERRORS_BEFORE_COMPLETE


# The messages readers see; one place, so every writer says the same.
STREAM_ERROR_MESSAGES: dict[StreamErrorCode, str] = {
    StreamErrorCode.PROVIDER_ERROR: "The model failed; regenerate the answer.",
    StreamErrorCode.WORKER_LOST: "The answer stopped unexpectedly; regenerate it.",
    StreamErrorCode.PERSIST_FAILED: "The answer is kept and will be saved once the service is back.",
    StreamErrorCode.NOT_STARTED: "The answer has not started; retry later.",
    StreamErrorCode.STREAM_UNAVAILABLE: "The live stream is unavailable; the answer will be in the history.",
    StreamErrorCode.NOT_RESUMABLE: "This stream has expired.",
}


def stream_error(code: StreamErrorCode) -> StreamError:
    return StreamError(code=code, message=STREAM_ERROR_MESSAGES[code])


StreamEventName = Literal["message_chunk", "message_complete", "error", "not_resumable"]

__all__ = [
    "ERROR",
    "ERRORS_BEFORE_COMPLETE",
    "EVENT_NAMES",
    "MESSAGE_CHUNK",
    "MESSAGE_COMPLETE",
    "NOT_RESUMABLE",
    "MessageChunk",
    "MessageComplete",
    "StreamError",
    "StreamErrorCode",
    "StreamEventName",
    "stream_error",
]

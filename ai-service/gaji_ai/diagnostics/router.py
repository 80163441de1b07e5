"""Internal diagnostic routes: prove a JSON request makes it through every
middleware, the service-token check and validation unchanged."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from gaji_ai.common.errors import error_responses
from gaji_ai.deps import JsonBody

router = APIRouter(tags=["internal"])


class EchoPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=1000)
    tags: list[str] = Field(default_factory=list, max_length=10)


@router.post(
    "/echo",
    response_model=EchoPayload,
    dependencies=[JsonBody],
    responses=error_responses(400, 401, 403, 413, 415, 429),
)
async def echo(payload: EchoPayload) -> EchoPayload:
    return payload

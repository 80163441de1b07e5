"""Public auth routes: who the token's bearer is."""

from __future__ import annotations

from fastapi import APIRouter
from gaji_contracts.auth import WhoAmI

from gaji_ai.auth.dependencies import CurrentUser
from gaji_ai.common.errors import error_responses

router = APIRouter(tags=["auth"])


@router.get("/me", response_model=WhoAmI, responses=error_responses(401, 403, 429, 503))
async def me(user: CurrentUser) -> WhoAmI:
    return WhoAmI(user_id=user.sub, username=user.username, is_staff=user.is_staff)

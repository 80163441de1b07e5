"""A novel's cast and lore out, in the formats other apps read:

GET /api/v1/novels/{id_or_slug}/lorebook?format=lorebook_v3|worldinfo
GET /api/v1/novels/{id_or_slug}/characters/{character_id}/card?format=json|png

Anyone who may read the novel (a private novel is its owner's and staff's)
may export it. The texts come from ai (the stored cast and the passages
each entry is drawn from: novels.card_export)."""

from __future__ import annotations

import json
import re

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from gaji_contracts.errors import ErrorCode
from rest_framework import serializers
from rest_framework.views import APIView

from cards import formats
from common.exceptions import ApplicationError
from common.schema import errors
from integrations.ai import AiUnavailable, novel_lore
from novels import selectors
from novels.card_export import character_card, novel_lorebook

NOT_INGESTED = "The novel is not ingested yet: it has no cast or lore to export."


def _attachment(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:80] or "export"


def _lore_of(request, id_or_slug: str):
    novel = selectors.novel_get(id_or_slug=id_or_slug, user=request.user)
    try:
        lore = novel_lore(novel.id, request_id=getattr(request, "request_id", None))
    except AiUnavailable:
        raise ApplicationError(
            "The novel's lore cannot be read right now; retry shortly.",
            status=503,
            code=ErrorCode.AI_UNAVAILABLE,
        ) from None
    if lore is None:
        raise ApplicationError(NOT_INGESTED, status=404, code=ErrorCode.NOT_FOUND)
    return novel, lore


class LorebookFormat(serializers.Serializer):
    format = serializers.ChoiceField(choices=["lorebook_v3", "worldinfo"], default="lorebook_v3")


class CardFormat(serializers.Serializer):
    format = serializers.ChoiceField(choices=["json", "png"], default="json")


FILE = {200: OpenApiResponse(OpenApiTypes.BINARY, description="The file, as an attachment")}


class NovelLorebookExportApi(APIView):
    @extend_schema(
        operation_id="novels_lorebook_export",
        parameters=[LorebookFormat],
        responses={**FILE, **errors(404, 503)},
        auth=[],
        description="The novel's places and characters as a lorebook (`lorebook_v3`, or SillyTavern "
        "`worldinfo`): keys are the names the text uses, and each entry keeps the passages it comes "
        'from under `extensions["gaji/sources"]`. 404 for a novel not ingested yet (or private to '
        "someone else); 503 when ai cannot be reached.",
    )
    def get(self, request, id_or_slug: str):
        wanted = LorebookFormat(data=request.query_params)
        wanted.is_valid(raise_exception=True)
        novel, lore = _lore_of(request, id_or_slug)
        book = novel_lorebook(lore, novel)
        kind = wanted.validated_data["format"]
        document = formats.lorebook_v3(book) if kind == "lorebook_v3" else formats.worldinfo(book)
        body = json.dumps(document, ensure_ascii=False, indent=2).encode()
        return _attachment(body, "application/json", f"{_safe_name(novel.slug)}-{kind}.json")


class NovelCharacterCardExportApi(APIView):
    @extend_schema(
        operation_id="novels_character_card_export",
        parameters=[CardFormat],
        responses={**FILE, **errors(404, 503)},
        auth=[],
        description="One character of the novel as a Character Card V3 (`json`, or `png` with the card "
        "in its `ccv3` chunk and a V2 copy in `chara`), with the novel's lorebook embedded as "
        "`character_book`. The character id is an `id` of GET /api/ai/novels/{id}/characters. 404 for "
        "an unknown character or a novel not ingested yet.",
    )
    def get(self, request, id_or_slug: str, character_id: str):
        wanted = CardFormat(data=request.query_params)
        wanted.is_valid(raise_exception=True)
        novel, lore = _lore_of(request, id_or_slug)
        entry = next((c for c in lore.characters if c.character.id == character_id.lower()), None)
        if entry is None:
            raise ApplicationError("No such character in this novel.", status=404, code=ErrorCode.NOT_FOUND)
        card = character_card(entry, novel, novel_lorebook(lore, novel))
        name = f"{_safe_name(novel.slug)}-{_safe_name(entry.character.name)}"
        if wanted.validated_data["format"] == "png":
            return _attachment(formats.card_png(card, None), "image/png", f"{name}.png")
        return _attachment(formats.card_json(card), "application/json", f"{name}.json")

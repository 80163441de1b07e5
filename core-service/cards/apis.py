"""A reader's own character cards and lorebooks under /api/v1: import (a
file, or the JSON itself as the body), list, read, delete and export in the
field's formats (FORMATS.md), and the lorebooks a conversation or a novel
uses. Everything is the owner's alone: anyone else gets 404."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions as drf
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from cards import selectors, services
from cards.models import CardContainer, CardSpec, CharacterCard, Lorebook
from common.exceptions import ApplicationError
from common.pagination import PageQuerySerializer, PageRequest, page_serializer, paginate
from common.parsers import SafeJSONParser
from common.schema import errors
from common.serializers import StrictSerializer

FILE_REQUIRED = "Missing file field 'file'."
# Refusals JSON Schema cannot state; the API document says them in words.
RULES_IN_WORDS = (
    FILE_REQUIRED,
    services.CARD_EXTENSION_RULE,
    services.LOREBOOK_EXTENSION_RULE,
    services.NUL_RULE,
    services.NUMBER_RULE,
    services.SURROGATE_RULE,
    services.ASSET_PATH_RULE,
    services.NOT_YOUR_LOREBOOK,
    services.LISTED_TWICE,
    "A file cards.formats refuses (not JSON, invalid UTF-8, a wrong or missing spec, a newer major "
    "version, a missing or invalid name, a corrupt PNG, a zip bomb, a CHARX without card.json, "
    "too deep, too many entries, ...): 400 on `file` with the reason.",
)


class _FormatNamesTheExport(DefaultContentNegotiation):
    """`?format=` names the export's format on these routes, not a renderer
    (DRF would answer 404 for `?format=png`)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type


def _upload(request, *, limits: dict[str, int], rule: str, what: str) -> tuple[bytes, str]:
    """The file's bytes and name: a multipart `file`, or the whole JSON body
    (the largest .json allowed). Past its kind's limit: 413."""
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        upload = request.FILES.get("file")
        if upload is None:
            raise ApplicationError(FILE_REQUIRED, details={"file": ["This field is required."]})
        name = upload.name or ""
        extension = services.extension_of(name)
        if extension not in limits:
            raise ApplicationError(rule, details={"file": [rule]})
        if upload.size > limits[extension]:
            raise services.too_large(limits[extension], f"A {extension} {what}")
        return upload.read(), name
    if content_type == "application/json":
        limit = limits[".json"]
        stream = request.stream
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise services.too_large(limit, f"A .json {what}")
        return raw, ""
    raise drf.UnsupportedMediaType(content_type or "none")


def _download(download: services.Download):
    response = HttpResponse(download.content, content_type=download.content_type)
    response["Content-Disposition"] = content_disposition_header(True, download.filename)
    response["Cache-Control"] = "private, no-store"
    return response


def _import_body(name: str) -> dict:
    return {
        "multipart/form-data": inline_serializer(name, {"file": serializers.FileField()}),
        "application/json": OpenApiTypes.OBJECT,
    }


# -- character cards ---------------------------------------------------------------


class AssetSerializer(serializers.Serializer):
    path = serializers.CharField()
    size = serializers.IntegerField()


class CardSerializer(serializers.Serializer):
    """A card's normalized view; texts exactly as stored (raw text: escape them to show them)."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    spec = serializers.ChoiceField(choices=CardSpec.values)
    container = serializers.ChoiceField(choices=CardContainer.values, help_text="The file it came in")
    spec_version = serializers.CharField(allow_blank=True, help_text="1.0 for V1")
    warnings = serializers.ListField(child=serializers.CharField(), help_text="What the import noticed")
    description = serializers.CharField(allow_blank=True)
    personality = serializers.CharField(allow_blank=True)
    scenario = serializers.CharField(allow_blank=True)
    first_mes = serializers.CharField(allow_blank=True)
    mes_example = serializers.CharField(allow_blank=True)
    system_prompt = serializers.CharField(allow_blank=True)
    post_history_instructions = serializers.CharField(allow_blank=True)
    alternate_greetings = serializers.ListField(child=serializers.CharField(allow_blank=True))
    group_only_greetings = serializers.ListField(child=serializers.CharField(allow_blank=True))
    tags = serializers.ListField(child=serializers.CharField(allow_blank=True))
    creator = serializers.CharField(allow_blank=True)
    creator_notes = serializers.CharField(allow_blank=True)
    character_version = serializers.CharField(allow_blank=True)
    nickname = serializers.CharField(allow_blank=True)
    has_image = serializers.BooleanField(help_text="GET characters/{id}/image serves it")
    assets = AssetSerializer(many=True, help_text="The CHARX files it carried besides card.json")
    lorebook_entries = serializers.IntegerField(help_text="Entries of its embedded lorebook")
    created_at = serializers.DateTimeField()


_TEXTS = (
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "creator_notes",
    "character_version",
    "nickname",
)
_LISTS = ("alternate_greetings", "group_only_greetings", "tags")


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def card_json(card: CharacterCard, *, has_image: bool | None = None) -> dict:
    fields = card.fields if isinstance(card.fields, dict) else {}
    if has_image is None:
        has_image = bool(getattr(card, "has_image", False))
    return {
        "id": str(card.id),
        "name": card.name,
        "spec": card.spec,
        "container": card.container,
        "spec_version": card.spec_version,
        "warnings": list(card.warnings or []),
        **{name: _text(fields.get(name)) for name in _TEXTS},
        **{name: _strings(fields.get(name)) for name in _LISTS},
        "has_image": has_image,
        "assets": [{"path": a.path, "size": a.size} for a in card.assets.all()],
        "lorebook_entries": card.lorebook_entries,
        "created_at": card.created_at.isoformat().replace("+00:00", "Z"),
    }


class CardListItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    nickname = serializers.CharField(allow_blank=True)
    spec = serializers.ChoiceField(choices=CardSpec.values)
    container = serializers.ChoiceField(choices=CardContainer.values)
    spec_version = serializers.CharField(allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(allow_blank=True))
    creator = serializers.CharField(allow_blank=True)
    has_image = serializers.BooleanField()
    lorebook_entries = serializers.IntegerField()
    created_at = serializers.DateTimeField()


def card_item_json(card: CharacterCard) -> dict:
    return {
        "id": str(card.id),
        "name": card.name,
        "nickname": _text(card.listed_nickname),
        "spec": card.spec,
        "container": card.container,
        "spec_version": card.spec_version,
        "tags": _strings(card.listed_tags),
        "creator": _text(card.listed_creator),
        "has_image": card.has_image,
        "lorebook_entries": card.lorebook_entries,
        "created_at": card.created_at.isoformat().replace("+00:00", "Z"),
    }


_CardPage = page_serializer("CharacterCardPage", CardListItemSerializer)


class CardImportApi(APIView):
    openapi_body_required = True  # a file, or the JSON itself
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, SafeJSONParser]

    @extend_schema(
        operation_id="characters_import",
        request=_import_body("CharacterCardUpload"),
        responses={201: CardSerializer, **errors(401, 409, 413, 415)},
        description="Import a character card: a multipart `file` (.json up to 2 MB, .png up to 10 MB, "
        ".charx up to 20 MB; the kind is read from the bytes) or the card's JSON as the body. Character "
        "Card V1, V2 and V3; kept exactly as read, so an export gives it back. An embedded lorebook "
        "stays in the card. A refused file is a 400 on `file` saying why; past the size, 413; past "
        "CARDS_MAX_PER_READER cards, 409.",
    )
    def post(self, request):
        raw, filename = _upload(
            request, limits=services.CARD_MAX_BYTES, rule=services.CARD_EXTENSION_RULE, what="card"
        )
        card = services.card_import(user=request.user, raw=raw, filename=filename)
        body = card_json(selectors.card_get(owner_id=request.user.id, card_id=card.id))
        return Response(body, status=status.HTTP_201_CREATED)


class CardListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="characters_list",
        parameters=[PageQuerySerializer],
        responses={200: _CardPage, **errors(401)},
        description="Your character cards, newest first (GET characters/{id} for a card's texts).",
    )
    def get(self, request):
        page = PageRequest.from_request(request)
        return Response(paginate(selectors.card_list(owner_id=request.user.id), page, card_item_json))


class CardDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="characters_get",
        responses={200: CardSerializer, **errors(401, 404)},
        description="One of your character cards.",
    )
    def get(self, request, card_id):
        return Response(card_json(selectors.card_get(owner_id=request.user.id, card_id=card_id)))

    @extend_schema(
        operation_id="characters_delete",
        responses={204: None, **errors(401, 404)},
        description="Delete one of your character cards (its image and assets with it).",
    )
    def delete(self, request, card_id):
        services.card_delete(user=request.user, card_id=card_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CardImageApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="characters_image",
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="The card's PNG image"),
            **errors(401, 404),
        },
        description="The image of a card: a PNG card's (without the card's chunks) or a CHARX card's "
        "main PNG icon; 404 when it has none.",
    )
    def get(self, request, card_id):
        card = selectors.card_full(owner_id=request.user.id, card_id=card_id)
        if card.image is None:
            raise drf.NotFound("This card has no image.")
        response = HttpResponse(bytes(card.image), content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class CardExportApi(APIView):
    permission_classes = [IsAuthenticated]
    content_negotiation_class = _FormatNamesTheExport

    class QuerySerializer(serializers.Serializer):
        format = serializers.ChoiceField(
            choices=services.CARD_FORMATS,
            required=False,
            help_text="json or png: the card's own spec; charx: V3 with its assets. Left out: the "
            "container it came in",
        )

    @extend_schema(
        operation_id="characters_export",
        parameters=[QuerySerializer],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The card JSON"),
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="A card PNG"),
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="A .charx file"),
            **errors(401, 404),
        },
        description="Download a card (Content-Disposition: attachment). What was imported comes back "
        "unchanged: every field and every `extensions` key.",
    )
    def get(self, request, card_id):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        card = selectors.card_full(owner_id=request.user.id, card_id=card_id)
        return _download(services.card_export(card, query.validated_data.get("format")))


# -- lorebooks --------------------------------------------------------------------


class EntrySerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The entry's id in its book (its index when it has none)")
    name = serializers.CharField(allow_blank=True, help_text="Its name, else its comment")
    keys = serializers.ListField(child=serializers.CharField(allow_blank=True))
    secondary_keys = serializers.ListField(child=serializers.CharField(allow_blank=True))
    constant = serializers.BooleanField()
    enabled = serializers.BooleanField()
    insertion_order = serializers.IntegerField()
    priority = serializers.IntegerField(allow_null=True)
    position = serializers.CharField(allow_null=True, help_text="before_char or after_char")
    content = serializers.CharField(allow_blank=True, help_text="Raw text, decorators included")


class LorebookItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["lorebook_v3", "worldinfo", "character_book"])
    entry_count = serializers.IntegerField()
    warnings = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()


class LorebookSerializer(LorebookItemSerializer):
    entries = EntrySerializer(many=True)


def _strings(value) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _int(value, default: int | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def entry_json(entry, index: int) -> dict:
    entry = entry if isinstance(entry, dict) else {}
    entry_id = entry.get("id")
    position = entry.get("position")
    return {
        "id": str(entry_id)
        if isinstance(entry_id, (str, int)) and not isinstance(entry_id, bool)
        else str(index),
        "name": _text(entry.get("name")) or _text(entry.get("comment")),
        "keys": _strings(entry.get("keys")),
        "secondary_keys": _strings(entry.get("secondary_keys")),
        "constant": entry.get("constant") is True,
        "enabled": entry.get("enabled") is not False,
        "insertion_order": _int(entry.get("insertion_order"), 0),
        "priority": _int(entry.get("priority"), None),
        "position": position if isinstance(position, str) else None,
        "content": _text(entry.get("content")),
    }


def lorebook_item_json(book: Lorebook) -> dict:
    return {
        "id": str(book.id),
        "name": book.name,
        "kind": book.kind,
        "entry_count": book.entry_count,
        "warnings": list(book.warnings or []),
        "created_at": book.created_at.isoformat().replace("+00:00", "Z"),
    }


def lorebook_json(book: Lorebook) -> dict:
    entries = book.book.get("entries") if isinstance(book.book, dict) else None
    entries = entries if isinstance(entries, list) else []
    return {**lorebook_item_json(book), "entries": [entry_json(e, i) for i, e in enumerate(entries)]}


_LorebookPage = page_serializer("LorebookPage", LorebookItemSerializer)


class LorebookImportApi(APIView):
    openapi_body_required = True  # a file, or the JSON itself
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, SafeJSONParser]

    @extend_schema(
        operation_id="lorebooks_import",
        request=_import_body("LorebookUpload"),
        responses={201: LorebookSerializer, **errors(401, 409, 413, 415)},
        description="Import a lorebook: a multipart `file` (.json, up to 2 MB) or its JSON as the body. "
        "A lorebook_v3 file, SillyTavern World Info or a card's `character_book`; kept exactly as read. "
        "A refused file is a 400 on `file` saying why; past the size, 413; past "
        "LOREBOOKS_MAX_PER_READER lorebooks, 409.",
    )
    def post(self, request):
        limits = {".json": services.LOREBOOK_MAX_BYTES}
        raw, filename = _upload(
            request, limits=limits, rule=services.LOREBOOK_EXTENSION_RULE, what="lorebook"
        )
        book = services.lorebook_import(user=request.user, raw=raw, filename=filename)
        return Response(lorebook_json(book), status=status.HTTP_201_CREATED)


class LorebookListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="lorebooks_list",
        parameters=[PageQuerySerializer],
        responses={200: _LorebookPage, **errors(401)},
        description="Your lorebooks, newest first (without their entries).",
    )
    def get(self, request):
        page = PageRequest.from_request(request)
        rows = selectors.lorebook_list(owner_id=request.user.id)
        return Response(paginate(rows, page, lorebook_item_json))


class LorebookDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="lorebooks_get",
        responses={200: LorebookSerializer, **errors(401, 404)},
        description="One of your lorebooks with its entries.",
    )
    def get(self, request, lorebook_id):
        return Response(
            lorebook_json(selectors.lorebook_get(owner_id=request.user.id, lorebook_id=lorebook_id))
        )

    @extend_schema(
        operation_id="lorebooks_delete",
        responses={204: None, **errors(401, 404)},
        description="Delete one of your lorebooks (conversations and novels stop using it).",
    )
    def delete(self, request, lorebook_id):
        services.lorebook_delete(user=request.user, lorebook_id=lorebook_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LorebookExportApi(APIView):
    permission_classes = [IsAuthenticated]
    content_negotiation_class = _FormatNamesTheExport

    class QuerySerializer(serializers.Serializer):
        format = serializers.ChoiceField(
            choices=services.BOOK_FORMATS,
            required=False,
            help_text="Left out: the kind it came in (lorebook_v3 for a card's book)",
        )

    @extend_schema(
        operation_id="lorebooks_export",
        parameters=[QuerySerializer],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The lorebook file"),
            **errors(401, 404),
        },
        description="Download a lorebook (Content-Disposition: attachment). In the kind it came in, "
        "exactly the file imported; in the other kind, converted as SillyTavern converts.",
    )
    def get(self, request, lorebook_id):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        book = selectors.lorebook_get(owner_id=request.user.id, lorebook_id=lorebook_id, document=True)
        return _download(services.lorebook_export(book, query.validated_data.get("format")))


# -- the lorebooks a conversation or a novel uses ---------------------------------------------


class LinksInSerializer(StrictSerializer):
    lorebook_ids = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=services.MAX_LINKED_LOREBOOKS,
        help_text=f"At most {services.MAX_LINKED_LOREBOOKS}, each once, in the order they are read",
    )


class LinksOutSerializer(serializers.Serializer):
    lorebook_ids = serializers.ListField(child=serializers.UUIDField())
    lorebooks = LorebookItemSerializer(many=True)


def _links_json(books: list[Lorebook]) -> dict:
    return {"lorebook_ids": [str(b.id) for b in books], "lorebooks": [lorebook_item_json(b) for b in books]}


def _ids(request) -> list:
    data = LinksInSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data["lorebook_ids"]


class ConversationLorebooksApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="conversations_lorebooks_get",
        responses={200: LinksOutSerializer, **errors(401, 404)},
        description="The lorebooks this conversation reads, in order (after them, its novel's). The "
        "conversation's owner only.",
    )
    def get(self, request, conversation_id):
        books = services.conversation_lorebooks(user=request.user, conversation_id=conversation_id)
        return Response(_links_json(books))

    @extend_schema(
        operation_id="conversations_lorebooks_set",
        request=LinksInSerializer,
        responses={200: LinksOutSerializer, **errors(401, 404)},
        description="Choose the lorebooks this conversation reads (your own; replaces the list). "
        f"{services.NOT_YOUR_LOREBOOK} {services.LISTED_TWICE} (400 on `lorebook_ids.N`). The "
        "conversation's owner only.",
    )
    def put(self, request, conversation_id):
        books = services.conversation_lorebooks_set(
            user=request.user, conversation_id=conversation_id, lorebook_ids=_ids(request)
        )
        return Response(_links_json(books))


class NovelLorebooksApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="novels_lorebooks_get",
        responses={200: LinksOutSerializer, **errors(401, 404)},
        description="The lorebooks every conversation on this novel reads. The novel's owner or staff.",
    )
    def get(self, request, novel_id):
        return Response(_links_json(services.novel_lorebooks(user=request.user, novel_id=novel_id)))

    @extend_schema(
        operation_id="novels_lorebooks_set",
        request=LinksInSerializer,
        responses={200: LinksOutSerializer, **errors(401, 404)},
        description="Choose the lorebooks every conversation on this novel reads (yours, or for staff "
        f"the novel owner's; replaces the list). {services.NOT_YOUR_LOREBOOK} {services.LISTED_TWICE} "
        "(400 on `lorebook_ids.N`). The novel's owner or staff.",
    )
    def put(self, request, novel_id):
        books = services.novel_lorebooks_set(user=request.user, novel_id=novel_id, lorebook_ids=_ids(request))
        return Response(_links_json(books))

"""Importing, exporting and deleting readers' character cards and lorebooks,
the lorebooks a conversation or a novel uses, and what the turn code reads
(`card_for`, `books_for_turn`).

Files are parsed (cards.formats, pure Python) before any row is touched;
each import is then one transaction, so a refused file leaves nothing
behind. Cards and lorebooks are their owner's alone: for anyone else they
do not exist (404)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import uuid
from collections.abc import Iterable
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, Subquery
from django.http import Http404
from django.utils.text import slugify
from gaji_contracts.errors import ErrorCode

from cards import formats, lore
from cards.models import (
    MAX_ASSET_PATH_CHARS,
    MAX_NAME_CHARS,
    BookKind,
    CardAsset,
    CardContainer,
    CardSpec,
    CharacterCard,
    Lorebook,
    LorebookLink,
)
from common.exceptions import ApplicationError

MB = 1024 * 1024
# Largest file per kind, checked before reading it (413).
CARD_MAX_BYTES = {
    ".json": formats.LIMITS.card_json_bytes,
    ".png": formats.LIMITS.png_bytes,
    ".charx": formats.LIMITS.charx_bytes,
}
LOREBOOK_MAX_BYTES = formats.LIMITS.lorebook_bytes
CARD_EXTENSIONS = tuple(CARD_MAX_BYTES)
LOREBOOK_EXTENSIONS = (".json",)
MAX_LINKED_LOREBOOKS = 5

CARD_FORMATS = ("json", "png", "charx")
BOOK_FORMATS = ("lorebook_v3", "worldinfo")

CARD_EXTENSION_RULE = "Use a .json, .png or .charx file."
LOREBOOK_EXTENSION_RULE = "Use a .json file."
NUL_RULE = "The file holds a NUL character (\\u0000), which cannot be stored."
NUMBER_RULE = "The file holds a number JSON cannot carry (NaN or Infinity)."
SURROGATE_RULE = "The file holds text that is not valid Unicode (a lone surrogate)."
ASSET_PATH_RULE = f"An asset's path must be at most {MAX_ASSET_PATH_CHARS} printable characters."
NOT_YOUR_LOREBOOK = "No lorebook of yours has this id."
LISTED_TWICE = "This lorebook is listed twice."

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse(message: str, field: str = "file") -> ApplicationError:
    return ApplicationError(message, details={field: [message]})


def too_large(limit: int, what: str) -> ApplicationError:
    return ApplicationError(
        f"{what} may be at most {limit // MB} MB.", status=413, code=ErrorCode.PAYLOAD_TOO_LARGE
    )


def extension_of(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower()


def _read(reader, raw: bytes, filename: str):
    try:
        return reader(raw, filename)
    except formats.FormatTooLarge as exc:
        raise ApplicationError(str(exc), status=413, code=ErrorCode.PAYLOAD_TOO_LARGE) from None
    except formats.FormatError as exc:
        field = getattr(exc, "field", "file") or "file"
        raise _refuse(str(exc), field) from None
    except RecursionError:
        raise _refuse("The file's JSON is nested too deeply.") from None


def _storable(document) -> None:
    """PostgreSQL's jsonb holds neither NUL characters, nor lone surrogates
    (a JSON `\\ud800` escape with no pair), nor NaN/Infinity: refused with a
    clear message instead of a failed insert. Keys and values alike."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise _refuse(NUL_RULE)
            if _SURROGATE.search(item):
                raise _refuse(SURROGATE_RULE)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _refuse(NUMBER_RULE)
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _quota(user_id, model, limit: int, what: str) -> None:
    """Lock the owner's row (imports by one reader run one at a time) and
    refuse past `limit` (409)."""
    get_user_model().objects.select_for_update(no_key=True).filter(id=user_id).values("id").first()
    if model.objects.filter(owner_id=user_id).count() >= limit:
        raise ApplicationError(
            f"You have {limit} {what}, the most one reader may keep. Delete one to import another.",
            status=409,
            code=ErrorCode.CONFLICT,
        )


def _clean_name(value, fallback: str) -> str:
    name = _CONTROL.sub("", value).strip() if isinstance(value, str) else ""
    return (name or fallback)[:MAX_NAME_CHARS]


# -- character cards -------------------------------------------------------------


def _field_dict(fields) -> dict:
    if dataclasses.is_dataclass(fields):
        return dataclasses.asdict(fields)
    return dict(fields or {})


def _entries_of(book) -> list:
    entries = book.get("entries") if isinstance(book, dict) else None
    return entries if isinstance(entries, list) else []


def card_import(*, user, raw: bytes, filename: str = "") -> CharacterCard:
    """A card file (JSON, PNG or CHARX, sniffed from its bytes) as a new card of `user`."""
    imported = _read(formats.read_card, raw, filename)
    _storable(imported.document)
    fields = _field_dict(imported.fields)
    book = fields.pop("character_book", None)
    for asset in imported.assets:  # cards.formats refuses duplicate and unsafe paths
        if len(asset.path) > MAX_ASSET_PATH_CHARS or _CONTROL.search(asset.path):
            raise _refuse(ASSET_PATH_RULE)
    with transaction.atomic():
        _quota(user.id, CharacterCard, settings.CARDS_MAX_PER_READER, "character cards")
        card = CharacterCard.objects.create(
            owner_id=user.id,
            name=_clean_name(fields.get("name"), "Unnamed"),
            spec=imported.spec,
            container=imported.container,
            spec_version=_CONTROL.sub("", imported.spec_version)[:20],
            document=imported.document,
            fields=fields,
            book=book if isinstance(book, dict) else None,
            lorebook_entries=len(_entries_of(book)),
            warnings=list(imported.warnings),
            image=imported.image,
        )
        CardAsset.objects.bulk_create(
            CardAsset(card=card, path=a.path, data=a.data, size=len(a.data)) for a in imported.assets
        )
    return card


def card_delete(*, user, card_id) -> None:
    deleted, _ = CharacterCard.objects.filter(id=card_id, owner_id=user.id).delete()
    if not deleted:
        raise Http404


def card_for(owner_id, card_id) -> CharacterCard | None:
    """The card, when `owner_id` owns it (the turn code: a cast member played from a card)."""
    try:
        card_id = uuid.UUID(str(card_id))
    except ValueError:
        return None
    return CharacterCard.objects.defer("image").filter(id=card_id, owner_id=owner_id).first()


@dataclasses.dataclass(frozen=True)
class Download:
    content: bytes
    content_type: str
    filename: str


def _filename(name: str, fallback: str, extension: str) -> str:
    return f"{slugify(name, allow_unicode=True)[:80] or fallback}{extension}"


def card_export(card: CharacterCard, fmt: str | None = None) -> Download:
    """`json`/`png` in the card's own spec (the document as read); `charx` as
    V3 with the card's assets. Left out: the container it came in."""
    fmt = fmt or card.container
    document = card.document
    if fmt == CardContainer.JSON:
        return Download(
            formats.card_json(document), "application/json", _filename(card.name, "card", ".json")
        )
    if fmt == CardContainer.PNG:
        image = bytes(card.image) if card.image is not None else None
        return Download(formats.card_png(document, image), "image/png", _filename(card.name, "card", ".png"))
    if card.spec != CardSpec.V3:
        document = formats.to_v3(document)
    assets = [formats.Asset(path=a.path, data=bytes(a.data)) for a in card.assets.all()]
    return Download(
        formats.card_charx(document, assets), "application/zip", _filename(card.name, "card", ".charx")
    )


# -- lorebooks ------------------------------------------------------------------


def lorebook_import(*, user, raw: bytes, filename: str = "") -> Lorebook:
    """A lorebook file (lorebook_v3, SillyTavern World Info or a bare card
    book) as a new lorebook of `user`."""
    imported = _read(formats.read_lorebook, raw, filename)
    _storable(imported.document)
    _storable(imported.book)
    book = imported.book if isinstance(imported.book, dict) else {}
    stem = PurePosixPath(filename.replace("\\", "/")).stem if filename else ""
    fallback = _clean_name(stem, "Lorebook")
    with transaction.atomic():
        _quota(user.id, Lorebook, settings.LOREBOOKS_MAX_PER_READER, "lorebooks")
        return Lorebook.objects.create(
            owner_id=user.id,
            name=_clean_name(book.get("name"), fallback),
            kind=imported.kind,
            document=imported.document,
            book=book,
            entry_count=len(_entries_of(book)),
            warnings=list(imported.warnings),
        )


def lorebook_delete(*, user, lorebook_id) -> None:
    deleted, _ = Lorebook.objects.filter(id=lorebook_id, owner_id=user.id).delete()
    if not deleted:
        raise Http404


def lorebook_export(lorebook: Lorebook, fmt: str | None = None) -> Download:
    """In the kind it came in, the document as read; in the other kind,
    converted from the normalized book. Left out: the kind it came in
    (lorebook_v3 for a bare card book)."""
    if fmt is None:
        fmt = lorebook.kind if lorebook.kind in BOOK_FORMATS else BookKind.LOREBOOK_V3
    if fmt == lorebook.kind:
        document = lorebook.document
    elif fmt == BookKind.WORLDINFO:
        document = formats.worldinfo(lorebook.book)
    else:
        document = formats.lorebook_v3(lorebook.book)
    content = json.dumps(document, ensure_ascii=False).encode()
    return Download(content, "application/json", _filename(lorebook.name, "lorebook", ".json"))


# -- which lorebooks a conversation or a novel uses ------------------------------------


def _owned_conversation(user, conversation_id, *, lock: bool = False):
    from conversations.models import Conversation

    rows = Conversation.objects.select_for_update(no_key=True) if lock else Conversation.objects
    conversation = rows.filter(id=conversation_id).only("id", "user_id").first()
    if conversation is None or conversation.user_id != user.id:
        raise Http404  # someone else's conversation does not exist here
    return conversation


def _owned_novel(user, novel_id, *, lock: bool = False):
    from novels.models import Novel

    rows = Novel.objects.select_for_update(no_key=True) if lock else Novel.objects
    novel = rows.filter(id=novel_id).first()
    owner_id = getattr(novel, "owner_id", None)
    if novel is None or not (user.is_staff or (owner_id is not None and owner_id == user.id)):
        raise Http404
    return novel


def _links(target: dict) -> list[Lorebook]:
    links = LorebookLink.objects.filter(**target).select_related("lorebook").order_by("position", "id")
    return [link.lorebook for link in links.defer("lorebook__document", "lorebook__book")]


def conversation_lorebooks(*, user, conversation_id) -> list[Lorebook]:
    _owned_conversation(user, conversation_id)
    return _links({"conversation_id": conversation_id})


def novel_lorebooks(*, user, novel_id) -> list[Lorebook]:
    _owned_novel(user, novel_id)
    return _links({"novel_id": novel_id})


def _set_links(target: dict, lorebook_ids: list, owner_ids: Iterable) -> list[Lorebook]:
    """Replace the target's links by `lorebook_ids`, in that order (the
    target's row is locked by the caller)."""
    found = {
        book.id: book
        for book in Lorebook.objects.filter(id__in=lorebook_ids, owner_id__in=list(owner_ids)).defer(
            "document", "book"
        )
    }
    details, seen = {}, set()
    for index, book_id in enumerate(lorebook_ids):
        if book_id in seen:
            details[f"lorebook_ids.{index}"] = [LISTED_TWICE]
        elif book_id not in found:
            details[f"lorebook_ids.{index}"] = [NOT_YOUR_LOREBOOK]
        seen.add(book_id)
    if details:
        field, messages = next(iter(details.items()))
        raise ApplicationError(f"Validation failed for field '{field}': {messages[0]}", details=details)
    LorebookLink.objects.filter(**target).delete()
    LorebookLink.objects.bulk_create(
        LorebookLink(lorebook_id=book_id, position=position, **target)
        for position, book_id in enumerate(lorebook_ids)
    )
    return [found[book_id] for book_id in lorebook_ids]


def conversation_lorebooks_set(*, user, conversation_id, lorebook_ids: list) -> list[Lorebook]:
    """The conversation's owner chooses up to MAX_LINKED_LOREBOOKS of their lorebooks."""
    with transaction.atomic():
        _owned_conversation(user, conversation_id, lock=True)
        return _set_links({"conversation_id": conversation_id}, lorebook_ids, [user.id])


def novel_lorebooks_set(*, user, novel_id, lorebook_ids: list) -> list[Lorebook]:
    """The novel's owner (or staff) chooses lorebooks every conversation on
    it uses: the caller's own, or (staff) the novel owner's."""
    with transaction.atomic():
        novel = _owned_novel(user, novel_id, lock=True)
        owners = {user.id, getattr(novel, "owner_id", None)} - {None}
        return _set_links({"novel_id": novel_id}, lorebook_ids, owners)


def books_for_turn(conversation) -> list[lore.BookRef]:
    """The lorebooks a turn of `conversation` reads: the conversation's own
    links, then its novel's, each in link order, each book once. One query."""
    from scenarios.models import Scenario

    novel = Scenario.objects.filter(id=conversation.scenario_id).values("novel_id")[:1]
    links = (
        LorebookLink.objects.filter(Q(conversation_id=conversation.id) | Q(novel_id=Subquery(novel)))
        .select_related("lorebook")
        .only("conversation_id", "novel_id", "position", "lorebook__id", "lorebook__name", "lorebook__book")
    )
    ordered = sorted(links, key=lambda link: (link.conversation_id is None, link.position, link.id))
    books, seen = [], set()
    for link in ordered:
        if link.lorebook_id in seen:
            continue
        seen.add(link.lorebook_id)
        book = link.lorebook
        books.append(lore.BookRef(book_id=str(book.id), name=book.name, book=book.book))
    return books

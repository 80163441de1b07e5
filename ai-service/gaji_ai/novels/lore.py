"""A novel's lore for export (core turns it into Character Card V3 files and
a lorebook): the stored cast, each character with the passages it is drawn
from, and the places the text names most, each with the sentences that
name it. Every entry keeps its sources, so an exported card says where in
the novel each of its facts comes from.

GET /api/ai/internal/novels/{novel_id}/lore   (service token)"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from gaji_contracts.characters import (
    LoreCharacter,
    LorePlace,
    LoreSource,
    NovelLore,
)
from gaji_contracts.errors import ErrorCode

from gaji_ai.auth.dependencies import ServiceCaller
from gaji_ai.common.errors import AppError, error_responses
from gaji_ai.common.ids import UUID_PATTERN
from gaji_ai.deps import VectorStoreDep, store_unavailable_as_503
from gaji_ai.ingestion.cast.extract import extract_cast
from gaji_ai.ingestion.pipeline import MAX_PASSAGES
from gaji_ai.ingestion.text import Chapter
from gaji_ai.novels.router import _character
from gaji_ai.vectors.store import CHARACTERS, PASSAGES

lore_router = APIRouter(tags=["internal"])

MAX_SOURCES = 3
MAX_QUOTE_CHARS = 300
MAX_PLACE_TEXT_CHARS = 600
# Places found per novel, by (novel id, passages stored): finding them
# reads the whole text (about a second for a long novel).
_PLACES: OrderedDict[tuple[str, int], list[str]] = OrderedDict()
MAX_CACHED = 32
_SENTENCE = re.compile(r"[^.!?]+[.!?]+[\"'\u201d\u2019)]*|[^.!?]+$")


def _chapters(passages: list[dict]) -> list[Chapter]:
    """The novel's chapters rebuilt from its passages in reading order."""
    by_chapter: OrderedDict[int, list[dict]] = OrderedDict()
    for p in passages:
        by_chapter.setdefault(int(p.get("chapter") or 0), []).append(p)
    chapters, offset = [], 0
    for number, parts in by_chapter.items():
        text = "\n\n".join(str(p.get("text") or "") for p in parts)
        title = str(parts[0].get("chapter_title") or "")
        chapters.append(
            Chapter(number=number, title=title, start=offset, end=offset + len(text), text=text)
        )
        offset += len(text) + 2
    return chapters


def _places(key: tuple[str, int], passages: list[dict]) -> list[str]:
    if key not in _PLACES:
        chapters = _chapters(passages)
        body = "\n\n".join(c.text for c in chapters)
        _PLACES[key] = extract_cast(body, chapters).locations
        while len(_PLACES) > MAX_CACHED:
            _PLACES.popitem(last=False)
    return _PLACES[key]


def _sentence_with(text: str, name: str) -> str | None:
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    for match in _SENTENCE.finditer(text):
        sentence = " ".join(match.group(0).split())
        if pattern.search(sentence):
            return sentence[:MAX_QUOTE_CHARS]
    return None


def _sources(names: list[str], passages: list[dict]) -> list[LoreSource]:
    """The first passages (reading order) naming any of `names`, at most MAX_SOURCES."""
    found: list[LoreSource] = []
    for p in passages:
        text = str(p.get("text") or "")
        quote = next((q for n in names if n and (q := _sentence_with(text, n))), None)
        if quote:
            found.append(
                LoreSource(
                    passage_id=p["id"],
                    chapter=int(p.get("chapter") or 0),
                    chapter_title=str(p.get("chapter_title") or ""),
                    chunk_index=int(p.get("chunk_index") or 0),
                    quote=quote,
                )
            )
            if len(found) == MAX_SOURCES:
                break
    return found


def _mentions(name: str, passages: list[dict]) -> int:
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    return sum(1 for p in passages if pattern.search(str(p.get("text") or "")))


def build_lore(novel_id: str, characters: list, passages: list[dict]) -> NovelLore:
    """The lore of a novel from its stored character points and passages."""
    passages = sorted(passages, key=lambda p: int(p.get("chunk_index") or 0))
    # Sources come from the story itself: front matter (chapter 0: a title
    # page, a publisher's line) names places and people too.
    story = [p for p in passages if int(p.get("chapter") or 0) > 0] or passages
    cast = sorted((_character(h) for h in characters), key=lambda c: -c.mention_count)
    lore_characters = [
        LoreCharacter(character=c, sources=_sources([c.name, *c.aliases], story)) for c in cast
    ]
    places = []
    for name in _places((novel_id, len(passages)), passages):
        sources = _sources([name], story)
        if not sources:
            continue
        description = " ".join(s.quote for s in sources)[:MAX_PLACE_TEXT_CHARS]
        places.append(
            LorePlace(
                name=name,
                mentions=_mentions(name, story),
                description=description,
                sources=sources,
            )
        )
    return NovelLore(novel_id=novel_id, characters=lore_characters, places=places)


@lore_router.get(
    "/novels/{novel_id}/lore",
    response_model=NovelLore,
    responses=error_responses(400, 401, 403, 404, 503),
)
async def novel_lore(
    novel_id: Annotated[str, PathParam(pattern=UUID_PATTERN)],
    caller: ServiceCaller,
    store: VectorStoreDep,
) -> NovelLore:
    """A novel's cast with the passages each is drawn from, and the places
    the text names most (service token). 404 when the store holds no
    passage of the novel."""
    novel_id = novel_id.lower()
    with store_unavailable_as_503():
        hits = await store.scroll(PASSAGES, novel_id=novel_id, limit=MAX_PASSAGES)
        characters = await store.scroll(CHARACTERS, novel_id=novel_id, limit=100)
    if not hits:
        raise AppError(404, ErrorCode.NOT_FOUND, "No ingested novel with this id.")
    passages = [{**h.payload, "id": str(h.id)} for h in hits]
    return await asyncio.to_thread(build_lore, novel_id, characters, passages)

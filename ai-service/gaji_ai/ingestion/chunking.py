"""Passages that fit the embedding model's window.

all-MiniLM-L6-v2 reads at most 256 word pieces (special tokens included) and
silently drops the rest: a passage cut off there cannot be found by what it
says at its end. Passages are built from whole sentences, paragraph by
paragraph, until the next sentence would pass `max_tokens` (counted with the
model's own tokenizer); consecutive passages of a chapter share their last /
first sentence (the overlap). A single sentence longer than the window is
split at word boundaries.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from gaji_ai.ingestion.text import Chapter

# A sentence ends at . ! ? (optionally followed by closing quotes or brackets)
# before whitespace; "Mr." "Mrs." "Dr." "St." and single initials do not end one.
_SENTENCE_END = re.compile(r"(?<=[.!?])([\"'\u201d\u2019)\]]*)\s+")
_NOT_AN_END = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Col|Capt|Gen|Lt|Rev|Sir|Mme|Mlle|Jr|Sr|vs|viz|i\.e|e\.g)|\b[A-Z])\.$"
)
_PARAGRAPH = re.compile(r"\n[ \t]*\n+")

DEFAULT_MAX_TOKENS = 240  # + [CLS] and [SEP] stays under 256
DEFAULT_OVERLAP_SENTENCES = 1


@dataclass(frozen=True)
class Passage:
    chunk_index: int  # 0, 1, ... over the whole novel
    chapter: int
    chapter_title: str
    text: str
    start: int  # character offsets in the novel's body
    end: int
    tokens: int


@dataclass(frozen=True)
class _Span:
    start: int
    end: int


def _sentences(text: str, offset: int) -> Iterator[_Span]:
    """Sentence spans (absolute offsets) of one paragraph, whitespace trimmed."""
    cursor = 0
    for match in _SENTENCE_END.finditer(text):
        if _NOT_AN_END.search(text[cursor : match.start()].rstrip()):
            continue
        if text[cursor : match.end(1)].strip():  # the sentence keeps its closing quotes
            yield _trimmed(text, cursor, match.end(1), offset)
        cursor = match.end()
    if text[cursor:].strip():
        yield _trimmed(text, cursor, len(text), offset)


def sentences(text: str) -> list[str]:
    """The sentences of a text (abbreviations such as "Mr." do not end one)."""
    return [
        " ".join(part[s.start : s.end].split())
        for part in _PARAGRAPH.split(text)
        for s in _sentences(part, 0)
    ]


def _trimmed(text: str, start: int, end: int, offset: int) -> _Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return _Span(offset + start, offset + end)


def _paragraph_sentences(body: str, chapter: Chapter) -> list[tuple[_Span, bool]]:
    """(sentence, starts_a_paragraph) over a chapter."""
    out: list[tuple[_Span, bool]] = []
    cursor = chapter.start
    for part in _PARAGRAPH.split(body[chapter.start : chapter.end]):
        first = True
        index = body.find(part, cursor) if part else cursor
        for span in _sentences(part, index):
            out.append((span, first))
            first = False
        cursor = index + len(part)
    return out


def _split_long(
    body: str, span: _Span, count: Callable[[str], int], max_tokens: int
) -> list[_Span]:
    """A sentence longer than the window, cut at word boundaries."""
    words = [
        (m.start() + span.start, m.end() + span.start)
        for m in re.finditer(r"\S+", body[span.start : span.end])
    ]
    pieces: list[_Span] = []
    begin = 0
    while begin < len(words):
        end = begin + 1
        # Grow while it fits; count on the text, as the tokenizer will see it.
        step = 32
        while end < len(words):
            trial = min(len(words), end + step)
            if count(body[words[begin][0] : words[trial - 1][1]]) <= max_tokens:
                end = trial
            elif step > 1:
                step //= 2
            else:
                break
        pieces.append(_Span(words[begin][0], words[end - 1][1]))
        begin = end
    return pieces


def chunk_chapters(
    body: str,
    chapters: list[Chapter],
    count_tokens: Callable[[str], int],
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    overlap_sentences: int = DEFAULT_OVERLAP_SENTENCES,
) -> list[Passage]:
    passages: list[Passage] = []

    def emit(chapter: Chapter, spans: list[_Span]) -> None:
        start, end = spans[0].start, spans[-1].end
        text = " ".join(" ".join(body[s.start : s.end].split()) for s in spans)
        passages.append(
            Passage(
                chunk_index=len(passages),
                chapter=chapter.number,
                chapter_title=chapter.title,
                text=text,
                start=start,
                end=end,
                tokens=count_tokens(text),
            )
        )

    for chapter in chapters:
        units: list[tuple[_Span, int]] = []
        for span, _ in _paragraph_sentences(body, chapter):
            tokens = count_tokens(body[span.start : span.end])
            if tokens > max_tokens:
                units.extend(
                    (piece, count_tokens(body[piece.start : piece.end]))
                    for piece in _split_long(body, span, count_tokens, max_tokens)
                )
            else:
                units.append((span, tokens))
        current: list[tuple[_Span, int]] = []
        used = 0
        for unit in units:
            if current and used + unit[1] > max_tokens:
                emit(chapter, [s for s, _ in current])
                kept = current[-overlap_sentences:] if overlap_sentences else []
                # The overlap never makes the next passage overflow.
                while kept and sum(t for _, t in kept) + unit[1] > max_tokens:
                    kept = kept[1:]
                current, used = list(kept), sum(t for _, t in kept)
            current.append(unit)
            used += unit[1]
        if current and (
            not passages
            or passages[-1].end < current[-1][0].end
            or passages[-1].chapter != chapter.number
        ):
            emit(chapter, [s for s, _ in current])
    return passages


DEFAULT_WINDOW_SENTENCES = 2


@dataclass(frozen=True)
class Window:
    """A few consecutive sentences of one chapter: what a question is matched
    against (retrieve small), while the passages holding it are what a search
    returns (return the surrounding window)."""

    window_index: int  # 0, 1, ... over the whole novel
    chapter: int
    text: str
    passages: tuple[int, ...]  # chunk_index of every passage holding one of its sentences


def sentence_windows(
    body: str,
    chapters: list[Chapter],
    passages: list[Passage],
    *,
    size: int = DEFAULT_WINDOW_SENTENCES,
) -> list[Window]:
    """Every run of `size` consecutive sentences of a chapter (stride 1), with
    the passages it belongs to. A chapter shorter than `size` sentences is one
    window."""
    by_chapter: dict[int, list[Passage]] = {}
    for passage in passages:
        by_chapter.setdefault(passage.chapter, []).append(passage)
    windows: list[Window] = []
    for chapter in chapters:
        spans = [span for span, _ in _paragraph_sentences(body, chapter)]
        held = by_chapter.get(chapter.number, [])
        if not spans or not held:
            continue
        starts = [p.start for p in held]
        owners = []
        for span in spans:
            # Passages are in order and overlap by a sentence or so: the
            # owners of a sentence are the last few starting at or before it.
            last = bisect.bisect_right(starts, span.start) - 1
            owners.append(
                tuple(
                    held[k].chunk_index
                    for k in range(max(0, last - 2), min(len(held), last + 2))
                    if held[k].start < span.end and span.start < held[k].end
                )
            )
        for first in range(max(1, len(spans) - size + 1)):
            run = range(first, min(first + size, len(spans)))
            text = " ".join(" ".join(body[spans[i].start : spans[i].end].split()) for i in run)
            chunks = tuple(sorted({c for i in run for c in owners[i]}))
            if text and chunks:
                windows.append(Window(len(windows), chapter.number, text, chunks))
    return windows

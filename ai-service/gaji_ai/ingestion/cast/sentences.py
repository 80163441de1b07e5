"""The text as the cast extraction reads it: paragraphs cut into sentences,
which spans are dialogue, and the runs of capitalised words that may be
names."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from gaji_ai.ingestion.cast.lexicon import (
    ABBREVIATED,
    ILLUSTRATION,
    NAME_WORD,
    NOT_NAMES,
    OPENERS,
    ROLE_TITLES,
    SPEECH_VERBS,
    TITLES,
    WORD,
)
from gaji_ai.ingestion.text import Chapter


@dataclass
class _Sentence:
    index: int
    chapter: int  # the chapter's number
    paragraph: int
    text: str
    quoted: list[tuple[int, int]]  # spans inside quotation marks (dialogue)

    def in_quote(self, position: int) -> bool:
        return any(start <= position < end for start, end in self.quoted)

    def quote_share(self) -> float:
        return sum(end - start for start, end in self.quoted) / max(len(self.text), 1)


def _quote_style(text: str) -> str:
    double = text.count('"') + text.count("\u201c")
    single = text.count("\u2018") + len(re.findall(r"(?:^|[\s(\u2014-])'(?=[A-Za-z])", text))
    return "double" if double >= single else "single"


def _quoted_spans(paragraph: str, style: str) -> list[tuple[int, int]]:
    """Dialogue spans of a paragraph. A quotation that opens the paragraph and
    runs past its end for more than a few lines is a narrator's framed tale
    (the creature's story in Frankenstein), not dialogue."""
    spans, start = [], None
    for i, char in enumerate(paragraph):
        before = paragraph[i - 1] if i else " "
        after = paragraph[i + 1] if i + 1 < len(paragraph) else " "
        if style == "double":
            opening = char == "\u201c" or (char == '"' and start is None)
            closing = char == "\u201d" or (char == '"' and start is not None)
        else:
            opening = start is None and (
                char == "\u2018"
                or (char == "'" and (before.isspace() or before in '(\u2014-"') and after.isalpha())
            )
            closing = (
                start is not None
                and char in "'\u2019"
                and not after.isalpha()
                and not before.isspace()
            )
        if opening and start is None:
            start = i
        elif closing and start is not None:
            spans.append((start, i + 1))
            start = None
    if start is not None and not (start == 0 and len(paragraph) > 300):
        spans.append((start, len(paragraph)))
    return spans


_END = re.compile(r"[.!?]['\"\u201d\u2019)\]_]*\s+(?=['\"\u201c\u2018(_]?[A-Z0-9])")


_NOT_END = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Col|Capt|Rev|Mme|Mlle|M|Messrs)|\b[A-Z])\.$")


def _split(paragraph: str) -> list[tuple[int, int]]:
    spans, cursor = [], 0
    for match in _END.finditer(paragraph):
        if _NOT_END.search(paragraph[cursor : match.start() + 1]):
            continue
        end = match.start() + len(match.group().rstrip())
        spans.append((cursor, end))
        cursor = match.end()
    if paragraph[cursor:].strip():
        spans.append((cursor, len(paragraph)))
    return spans


def _sentences(chapters: list[Chapter]) -> list[_Sentence]:
    style = _quote_style(" ".join(c.text for c in chapters))
    out: list[_Sentence] = []
    paragraph_index = 0
    for chapter in chapters:
        for raw in re.split(r"\n[ \t]*\n+", chapter.text):
            paragraph = " ".join(ILLUSTRATION.sub(" ", raw).split())
            if not paragraph:
                continue
            quoted = _quoted_spans(paragraph, style)
            for start, end in _split(paragraph):
                spans = [
                    (max(s, start) - start, min(e, end) - start)
                    for s, e in quoted
                    if s < end and e > start
                ]
                out.append(
                    _Sentence(
                        len(out), chapter.number, paragraph_index, paragraph[start:end], spans
                    )
                )
            paragraph_index += 1
    return out


@dataclass
class _Run:
    """A run of capitalised words ("Mr. Darcy", "Elizabeth Bennet") in a sentence."""

    title: str  # "" when untitled
    words: list[str]
    start: int
    end: int
    initial: bool  # starts a sentence (or a quotation): capitalised anyway
    possessive: bool
    prev: str  # the word before, lowercase ("" after punctuation)
    prev2: str
    next: str  # the word after, lowercase ("" before punctuation)
    gap_before: str
    gap_after: str
    quoted: bool

    @property
    def name(self) -> str:
        return " ".join(self.words)

    def speaks(self) -> bool:
        return (
            self.next in SPEECH_VERBS
            or self.prev in SPEECH_VERBS
            or (self.prev == "the" and self.prev2 in SPEECH_VERBS)
        )


def _tokens(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in WORD.finditer(text)]


def _base(word: str) -> str:
    return re.sub(r"['\u2019]s$", "", word)


def _starts_clause(text: str, tokens: list, i: int) -> bool:
    """Whether token i is capitalised because of where it stands."""
    if i == 0:
        return True
    gap = text[tokens[i - 1][1] : tokens[i][0]]
    if gap == ". " and tokens[i - 1][2] in ABBREVIATED:
        return False
    return any(o in gap for o in OPENERS) or bool(re.search(r"[.!?]\s*$", gap))


def _word_counts(sentences: list[_Sentence]) -> tuple[Counter, Counter]:
    lower: Counter[str] = Counter()
    caps_mid: Counter[str] = Counter()
    for s in sentences:
        tokens = _tokens(s.text)
        for i, (_start, _end, word) in enumerate(tokens):
            if word[0].islower():
                lower[word.lower()] += 1
            elif not _starts_clause(s.text, tokens, i):
                caps_mid[_base(word)] += 1
    return lower, caps_mid


def _runs(sentence: _Sentence, lower: Counter, caps_mid: Counter) -> list[_Run]:
    text = sentence.text
    tokens = _tokens(text)
    runs: list[_Run] = []
    i = 0
    while i < len(tokens):
        start, _end, word = tokens[i]
        base = _base(word)
        if not (NAME_WORD.match(base) or base in TITLES):
            i += 1
            continue
        gap_before = text[tokens[i - 1][1] : start] if i else text[:start]
        initial = _starts_clause(text, tokens, i)
        prev = tokens[i - 1][2].lower() if i and gap_before == " " else ""
        prev2 = tokens[i - 2][2].lower() if i > 1 and prev else ""
        words, j = [base], i
        possessive = base != word
        while not possessive and j + 1 < len(tokens):
            gap = text[tokens[j][1] : tokens[j + 1][0]]
            following = tokens[j + 1][2]
            joined = gap == " " or (gap == ". " and words[-1] in ABBREVIATED)
            if joined and following in {"de", "De"} and j + 2 < len(tokens):
                after = tokens[j + 2][2]
                if text[tokens[j + 1][1] : tokens[j + 2][0]] == " " and NAME_WORD.match(
                    _base(after)
                ):
                    words.append("de")
                    j += 1
                    continue
            if not (joined and NAME_WORD.match(_base(following))):
                break
            words.append(_base(following))
            possessive = _base(following) != following
            j += 1
        # A capitalised first word that is usually lowercase ("Poor Alice") is no name.
        while len(words) > 1 and initial and words[0] not in TITLES:
            first = words[0]
            if (
                first in NOT_NAMES
                or lower[first.lower()] >= 2 * caps_mid[first]
                or not caps_mid[first]
            ):
                prev, prev2 = first.lower(), prev
                words = words[1:]
                initial = False
            else:
                break
        title = ""
        if words[0] in TITLES and (len(words) > 1 or words[0] in ROLE_TITLES):
            title = words[0]
            words = words[1:]
        end_offset = tokens[j][1]
        after_start = tokens[j + 1][0] if j + 1 < len(tokens) else len(text)
        gap_after = text[end_offset:after_start]
        runs.append(
            _Run(
                title=title,
                words=words,
                start=start,
                end=end_offset,
                initial=initial,
                possessive=possessive,
                prev=prev,
                prev2=prev2,
                next=tokens[j + 1][2].lower() if j + 1 < len(tokens) and gap_after == " " else "",
                gap_before=gap_before,
                gap_after=gap_after,
                quoted=sentence.in_quote(start),
            )
        )
        i = j + 1
    return runs

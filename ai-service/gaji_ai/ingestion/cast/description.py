"""Descriptions: the narration sentences that best characterise a person
(copula and appositive descriptions, the introduction preferred)."""

from __future__ import annotations

import re

from gaji_ai.ingestion.cast.lexicon import (
    APPOSITIVE,
    CHARACTER_NOUNS,
    COMPLEMENTS,
    DESCRIBING,
    DESCRIPTIVE_NEXT,
    IDENTITY_NOUNS,
    PRONOUN_START,
    TRAITS,
)
from gaji_ai.ingestion.cast.people import _Entity, _Mentions
from gaji_ai.ingestion.cast.sentences import _Sentence


def _describe(
    sentences: list[_Sentence], entity: _Entity, name: str, mentions: _Mentions
) -> list[str]:
    """The one or two sentences that best characterise the person, in
    reading order: narration about them, not dialogue ("Lizzy is not a bit
    better than the others" is Mr. Bennet talking); a description ("X was a
    man of ...", "X, the youngest ...", the narrator's "She had a lively,
    playful disposition" right after naming her); the introduction preferred;
    a sentence crowded with other people is about them as much."""
    own = mentions.of(entity.key)
    if not own:
        return []
    gender = entity.gender
    pronouns = {"male": ("He", "His"), "female": ("She", "Her")}.get(gender, ())
    candidates: list[tuple[float, bool, int, str]] = []  # (score, describes, index, text)
    total = len(own)
    for rank, index in enumerate(own[:400]):
        s = sentences[index]
        ms = mentions.by_sentence[index]
        mine = [m for m in ms if m[0] == entity.key]
        others = {m[0] for m in ms} - {entity.key}
        narrated = [m for m in mine if not m[3]]
        text = s.text
        early = 2.0 * max(0.0, 1 - rank / max(8, 0.05 * total))  # the introduction
        score = early - 2.5 * s.quote_share()
        if not narrated:
            score -= 6  # only named in somebody's speech
        first = narrated[0] if narrated else mine[0]
        after = text[first[2] :]
        if _describes(after):
            score += 3 + (1.5 if first[1] <= 2 else 0)  # the sentence is about them
            describes = True
        else:
            describes = bool(APPOSITIVE.match(after))  # "X, the youngest", "X, who"
            score += 1.5 if describes else 0.0
        mine_share = len(re.findall(r"\b(?:I|me|my|myself)\b", text))
        score -= 0.3 * min(max(mine_share - 1, 0), 3)  # about the narrator as much
        score += _quality(text)
        score += 1.0 if first[1] < len(text) / 3 else 0.0  # named early: the sentence is about them
        score -= 1.0 * len(others)
        candidates.append((score - _length_penalty(text), describes, index, text))
        # The narrator's next sentence about them: "She had a lively, playful disposition."
        if pronouns and narrated and index + 1 < len(sentences):
            following = sentences[index + 1]
            match = PRONOUN_START.match(following.text)
            if (
                match
                and match.group(1) in pronouns
                and following.paragraph == s.paragraph
                and not mentions.by_sentence[following.index]
                and not any(mentions.entities[k].gender == gender for k in others)
                and following.quote_share() < 0.2
            ):
                f_score = 1.5 + early + _quality(following.text) - _length_penalty(following.text)
                candidates.append(
                    (f_score, True, following.index, _named(following.text, name, pronouns))
                )
    candidates.sort(key=lambda c: (-c[0], c[2]))
    best = candidates[0]
    chosen = [best]
    if best[0] >= -2:  # (else nothing but dialogue names them: one line says where)
        for candidate in candidates[1:8]:
            if (
                candidate[1]
                and candidate[0] >= max(3.5, best[0] - 3)
                and _quality(candidate[3]) >= 2
                and candidate[2] != best[2]
                and len(best[3]) + len(candidate[3]) <= 560
            ):
                chosen.append(candidate)
                break
    return [_clean(text) for *_rest, text in sorted(chosen, key=lambda c: c[2])]


def _describes(after: str) -> bool:
    """Whether the words after a name describe its owner: "was a man of",
    "was proud", "was good-looking", not "was here" or "was eager with her
    thanks" (a passing state)."""
    copula = DESCRIBING.match(after)
    if not copula:
        return False
    word, then = copula.group("next"), copula.group("then")
    if word in DESCRIPTIVE_NEXT:
        return True
    adjective = word in TRAITS or word.endswith(ADJECTIVE_ENDINGS)
    return adjective and then not in COMPLEMENTS


ADJECTIVE_ENDINGS = ("ly", "-looking", "like", "ful", "ous", "ive", "able", "ible", "ish", "some")


def _quality(text: str) -> float:
    """How much a sentence characterises: what a person is like, who they are."""
    words = set(re.findall(r"[a-z-]+", text.lower()))
    score = min(len(words & CHARACTER_NOUNS), 3) + 0.7 * min(len(words & TRAITS), 3)
    score += 0.5 * min(len(words & IDENTITY_NOUNS), 2)
    if re.search(r"\b(?:years? (?:old|of age)|a year\b|of age\b)", text):
        score += 1
    if "?" in text or "!" in text:
        score -= 1
    return score


def _length_penalty(text: str) -> float:
    if len(text) < 50:
        return 2.0
    return (len(text) - 300) / 100 if len(text) > 300 else 0.0


def _clean(text: str) -> str:
    """Without the text's _italics_ marks, starting with a capital."""
    text = re.sub(r"(?<!\w)_([^_]+)_(?!\w)", r"\1", text).strip("_ ")
    return text[:1].upper() + text[1:]


def _named(text: str, name: str, pronouns: tuple[str, ...]) -> str:
    """ "She had a lively..." -> "Elizabeth Bennet had a lively..."."""
    match = PRONOUN_START.match(text)
    if not match:
        return text
    replacement = name if match.group(1) == pronouns[0] else f"{name}\u2019s"
    return text[: match.start(1)] + replacement + text[match.end(1) :]

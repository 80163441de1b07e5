"""Traits: the dispositions predicated of a person, weighed by how particular
they are to that person."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict

from gaji_ai.ingestion.cast.lexicon import (
    CLAUSE_ENDS,
    COMPLEMENTS,
    COPULA,
    PRONOUN_COPULA,
    QUALITY,
    TRAIT_NOUN,
    TRAIT_NOUNS,
    TRAITS,
)
from gaji_ai.ingestion.cast.people import _Entity, _Mentions
from gaji_ai.ingestion.cast.sentences import _Sentence


def _traits(
    sentences: list[_Sentence],
    entities: dict[str, _Entity],
    mentions: _Mentions,
    wanted: set[str],
) -> dict[str, list[str]]:
    """Adjectives predicated of each person, weighed by evidence and by how
    particular they are to that person (said of everybody, they say little)."""
    found: dict[str, Counter] = defaultdict(Counter)

    def predicate(key: str, clause: str, weight: float) -> None:
        """ "was at the same time haughty, reserved, and fastidious": the
        dispositions of a copula's clause, unless negated ("not a sensible
        man") or a passing state ("eager to", "impatient for")."""
        words = re.findall(r"[a-z-]+|[^\sa-z-]", clause.lower())[:14]
        negated = False
        for i, word in enumerate(words):
            if word in CLAUSE_ENDS:
                break
            if word in {
                "not",
                "never",
                "no",
                "nor",
                "less",
                "far",
                "hardly",
                "scarcely",
                "without",
            }:
                negated = True
            if word not in TRAITS and (word.endswith("ing") or (word.endswith("ed") and i)):
                break  # "was roused by receiving a cold inquiry": a verb, not a quality
            if word in TRAITS and not negated:
                following = words[i + 1] if i + 1 < len(words) else ""
                if following not in COMPLEMENTS:
                    found[key][word] += weight

    for s in sentences:
        ms = [m for m in mentions.by_sentence[s.index] if m[0] in wanted]
        text = s.text
        for key, start, end, quoted in ms:
            weight = 0.5 if quoted else 1.0
            match = COPULA.match(text[end:])
            if match:
                predicate(key, text[end + match.end() :], weight)
            # "the amiable Mr. Bingley", "proud Mr. Darcy"
            before = re.search(r"\b([a-z-]+)\s+$", text[:start])
            if before and before.group(1) in TRAITS:
                found[key][before.group(1)] += 0.7 * weight
            # "Elizabeth, lively and playful,"
            match = re.match(r"^,\s+([a-z-]+)(?:,?\s+and\s+([a-z-]+))?,", text[end:])
            if match:
                for word in match.groups():
                    if word in TRAITS:
                        found[key][word] += weight
            # "Mr. Darcy's pride"
            match = re.match(r"^['\u2019]s\s+(\w+)", text[end:])
            if match and match.group(1) in TRAIT_NOUNS:
                found[key][TRAIT_NOUNS[match.group(1)]] += 0.8 * weight
        # A narrated sentence naming one person of a gender, and the next one:
        # "she had a lively, playful disposition", "his pride".
        narrated = {m[0] for m in ms if not m[3]}
        for key in narrated:
            gender = entities[key].gender
            if not gender or any(entities[k].gender == gender for k in narrated - {key}):
                continue
            subject, possessive = {"male": ("he", "his"), "female": ("she", "her")}[gender]
            window = _outside_quotes(s)
            if s.index + 1 < len(sentences):
                following = sentences[s.index + 1]
                if following.paragraph == s.paragraph and not mentions.by_sentence[following.index]:
                    window += " " + _outside_quotes(following)
            for match in PRONOUN_COPULA.finditer(window):
                if match.group("p").lower() == subject:
                    predicate(key, window[match.end() :], 0.8)
            for match in QUALITY.finditer(window):
                owner = match.group("p").lower()
                if owner in {"a", "an"}:
                    # "she had a lively, playful disposition": only just after its subject
                    lead = window[max(0, match.start() - 40) : match.start()].lower()
                    if not re.search(rf"\b{subject}\s+(?:had|has|was|is)\b", lead):
                        continue
                elif owner != possessive:
                    continue
                for word in re.findall(r"[a-z-]+", match.group("adjs").lower()):
                    if word in TRAITS:
                        found[key][word] += 1.0
            for match in TRAIT_NOUN.finditer(window):
                if match.group("p").lower() == possessive:
                    found[key][TRAIT_NOUNS[match.group("n").lower()]] += 0.6
    people = max(len(found), 1)
    document_frequency = Counter(t for c in found.values() for t in c)
    out: dict[str, list[str]] = {}
    for key, counter in found.items():
        scored = {
            t: w * math.log(1 + people / document_frequency[t])
            for t, w in counter.items()
            if w >= 0.6
        }
        out[key] = [t for t, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:5]]
    return out


def _outside_quotes(sentence: _Sentence) -> str:
    text = sentence.text
    for start, end in reversed(sentence.quoted):
        text = text[:start] + " " * (end - start) + text[end:]
    return text

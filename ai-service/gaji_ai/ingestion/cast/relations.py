"""Relationships between the cast, from phrases such as "her sister Jane" or
"Mr. Bennet's wife", with the inverse on the other side."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from gaji_ai.ingestion.cast.lexicon import _MOD, _REL, RELATIONS
from gaji_ai.ingestion.cast.people import SURNAME_TITLES, _Entity, _Mentions
from gaji_ai.ingestion.cast.sentences import _Sentence

FAMILY = {"father", "mother", "son", "daughter", "brother", "sister", "husband", "wife"}


ELDERS = {"father", "mother", "husband", "wife", "uncle", "aunt"}


REL_PHRASE = re.compile(
    rf"(?:(?P<pos>['\u2019]s)\s+|\b(?P<pro>his|her|His|Her)\s+|\b(?P<det>the|a)\s+){_MOD}"
    rf"(?P<rel>{_REL})(?P<of>\s+of\s+)?\b"
)


def _surnames_of(entity: _Entity) -> set[str]:
    names = set(entity.surnames)
    for alias in entity.aliases:
        words = alias.replace(".", "").split()
        if len(words) == 2 and (words[0] in SURNAME_TITLES or words[0] in {"Miss", "Lady"}):
            names.add(words[1])
    return names


def _relationships(
    sentences: list[_Sentence],
    entities: dict[str, _Entity],
    mentions: _Mentions,
    wanted: set[str],
) -> dict[str, list[tuple[str, str]]]:
    """{key: [(other, relation)]}, "other is key's <relation>", from the
    text's own phrases: "her sister Jane", "Jane, her sister", "Charlotte,
    the wife of Mr. Collins", "Mr. Darcy's sister" (the sister being the one
    woman of the cast who shares his surname, or the one named in the same
    sentence), "his wife" (the owner resolved like a reader resolves "his")."""
    surnames = {k: _surnames_of(entities[k]) for k in wanted}
    votes: dict[tuple[str, str], Counter] = defaultdict(Counter)

    def vote(owner: str | None, other: str | None, relation: str, weight: float) -> None:
        if not owner or not other or owner == other or owner not in wanted or other not in wanted:
            return
        relative_gender = RELATIONS[relation][0]
        if relative_gender and entities[other].gender and entities[other].gender != relative_gender:
            return
        votes[(owner, other)][relation] += weight

    def resolve(pronoun: str, sentence: _Sentence, before: int) -> str | None:
        """Who "his"/"her" is: the last person of that gender named before it in
        the sentence, else the first one named in the sentence before."""
        gender = "male" if pronoun.lower() == "his" else "female"
        ms = [m for m in mentions.by_sentence[sentence.index] if m[1] < before]
        for key, *_rest in reversed(ms):
            if entities[key].gender == gender:
                return key
        if any(not entities[m[0]].gender for m in ms) or not sentence.index:
            return None  # somebody of unknown gender might be meant
        previous = sentences[sentence.index - 1]
        if previous.paragraph != sentence.paragraph:
            return None
        subjects = [
            m[0] for m in mentions.by_sentence[previous.index] if entities[m[0]].gender == gender
        ]
        return subjects[0] if subjects else None

    def implicit(owner: str, relation: str, sentence_keys: set[str]) -> tuple[str | None, float]:
        """The relative a phrase with no name means."""
        gender = RELATIONS[relation][0]
        fits = [k for k in wanted if k != owner and (not gender or entities[k].gender == gender)]
        if relation in FAMILY and surnames.get(owner):
            family = [k for k in fits if surnames[k] & surnames[owner]]
            elder = relation in ELDERS
            family = [k for k in family if bool(entities[k].title) == elder]
            if len(family) == 1:
                return family[0], 0.9
        near = [k for k in fits if k in sentence_keys]
        if len(near) == 1:
            return near[0], 0.4
        return None, 0.0

    for s in sentences:
        ms = mentions.by_sentence[s.index]
        keys = {m[0] for m in ms}
        text = s.text
        for match in REL_PHRASE.finditer(text):
            relation = match.group("rel")
            start, end = match.start(), match.end()
            if match.group("pos"):
                owning = next((m for m in ms if m[2] == start), None)
                if owning is None:
                    continue
                owner, start = owning[0], owning[1]  # "Jane, Elizabeth's sister": before Elizabeth
            elif match.group("pro"):
                owner = resolve(match.group("pro"), s, start)
            elif match.group("of"):
                owner = next((m[0] for m in ms if m[1] == end), None)  # "the wife of Mr. Collins"
                if owner is None:
                    continue
                end = next(m[2] for m in ms if m[1] == match.end())
            else:
                continue
            if owner is None:
                continue
            certainty = 0.6 if match.group("pro") else 1.0  # "his" may be misread
            after = next(
                (m for m in ms if m[1] >= end and re.fullmatch(r",?\s*", text[end : m[1]])), None
            )
            before = next(
                (m for m in ms if m[2] <= start and re.fullmatch(r",\s*", text[m[2] : start])),
                None,
            )
            if after and after[0] != owner:
                vote(owner, after[0], relation, certainty)  # "her sister Jane"
            elif before and before[0] != owner:
                vote(owner, before[0], relation, certainty)  # "Jane, her sister"
            else:
                other, weight = implicit(owner, relation, keys - {owner})
                vote(owner, other, relation, weight * certainty)
    scored: dict[tuple[str, str], tuple[str, float]] = {}
    for (owner, other), counter in votes.items():
        relation, weight = counter.most_common(1)[0]
        if weight >= 1.0:
            scored[(owner, other)] = (relation, weight)
    for (owner, other), (relation, weight) in list(scored.items()):
        inverse = RELATIONS[relation][1]
        if inverse and (other, owner) not in scored:
            gender = entities[owner].gender
            name = (
                inverse[0] if gender == "male" else inverse[1] if gender == "female" else inverse[2]
            )
            scored[(other, owner)] = (name, weight * 0.99)
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (owner, other), (relation, _weight) in sorted(scored.items(), key=lambda kv: -kv[1][1]):
        out[owner].append((other, relation))
    return out

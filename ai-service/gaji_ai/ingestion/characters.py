"""Find a novel's cast in its own text, without a large model.

1. Candidates: capitalised names mid-sentence, with their titles (Mr., Mrs.,
   Miss, Lady, Sir, ...), counted; a capitalised word that is mostly written
   lowercase elsewhere ("Well", "Yes") is not a name.
2. Dialogue attribution ("said Elizabeth", "Mr. Darcy replied") adds weight.
3. Aliases merge: "Elizabeth Bennet" -> "Elizabeth", diminutives ("Lizzy",
   "Eliza"), "Fitzwilliam Darcy" -> "Mr. Darcy" when the first name is rarely
   used alone. "Mr. Bennet" and "Mrs. Bennet" stay two people.
4. Profiles are extractive: the sentences that describe each character
   ("X was ...", "X, who ..."), the trait adjectives found next to the name,
   the first chapter, main or supporting by how often they appear.
Locations are proper nouns mostly used after "at", "to", "from", "in"
(Netherfield, Pemberley, Longbourn)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from gaji_ai.ingestion.chunking import sentences as split_sentences
from gaji_ai.ingestion.text import Chapter

TITLES = (
    "Mr",
    "Mrs",
    "Miss",
    "Ms",
    "Lady",
    "Lord",
    "Sir",
    "Dr",
    "Colonel",
    "Captain",
    "Aunt",
    "Uncle",
    "Madame",
    "Monsieur",
    "Professor",
    "King",
    "Queen",
    "Duchess",
    "Duke",
    "Mother",
    "Father",
)
_TITLE = r"(?:" + "|".join(TITLES) + r")\.?"
_NAME = r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
TITLED = re.compile(rf"\b({_TITLE})\s+({_NAME}(?:\s+{_NAME})?)")
CAPITALISED = re.compile(rf"(?<![.!?\"\u201c\u2018]\s)(?<!^)\b({_NAME}(?:\s+{_NAME})?)\b", re.M)
SAID = re.compile(
    rf"\b(?:said|cried|replied|answered|asked|exclaimed|continued|returned|observed)\s+((?:{_TITLE}\s+)?{_NAME})"
    rf"|((?:{_TITLE}\s+)?{_NAME})\s+(?:said|cried|replied|answered|asked|exclaimed|continued|returned|observed)\b"
)
DESCRIBES = re.compile(
    r"\b(?:was|is|had been|seemed|appeared|looked)\b\s+(?:a|an|very|so|too|more|most|\w+ly)?\s*\w+"
)
ILLUSTRATION = re.compile(r"\[Illustration[^\]]*\]?")
PLACE_BEFORE = re.compile(rf"\b(?:at|to|from|in|near|of)\s+({_NAME})\b")

DIMINUTIVES = {
    "Lizzy": "Elizabeth",
    "Lizzie": "Elizabeth",
    "Eliza": "Elizabeth",
    "Liz": "Elizabeth",
    "Bess": "Elizabeth",
    "Jenny": "Jane",
    "Bill": "William",
    "Will": "William",
    "Billy": "William",
    "Jim": "James",
    "Jimmy": "James",
    "Tom": "Thomas",
    "Tommy": "Thomas",
    "Bob": "Robert",
    "Dick": "Richard",
    "Harry": "Henry",
    "Ned": "Edward",
    "Teddy": "Edward",
    "Charley": "Charles",
    "Charlie": "Charles",
    "Peggy": "Margaret",
    "Meg": "Margaret",
    "Polly": "Mary",
    "Molly": "Mary",
    "Sally": "Sarah",
    "Nan": "Anne",
    "Nancy": "Anne",
}
# Words that start sentences or are capitalised for other reasons.
NOT_NAMES = set(
    """
    I The A An And But Or If It He She They We You His Her Their This That These Those There
    Then When What Which Who Why How Where Yes No Oh Well Not Nor So As At In On Of To For
    With By From My Your Our Its Chapter Letter Book Volume God Heaven Sunday Monday Tuesday
    Wednesday Thursday Friday Saturday January February March April May June July August
    September October November December English French Christmas Madam Sir Lady Lord Mr Mrs
    Miss Dear Good Upon After Before While Though Although Perhaps Indeed Nothing Everything
    Every Some Any All One Two Three Very Do Does Did Is Was Be Have Had Has Will Would Could
    Should Can Shall Might Must Let Now Here Ah Alas Pray Mamma Papa Illustration Copyright
    Gutenberg Project Contents Preface Introduction End
    """.split()  # noqa: SIM905 (a word list reads best as words)
)
TRAITS = set(
    """
    proud vain clever lively amiable agreeable foolish silly handsome beautiful pretty kind
    gentle cheerful sensible witty haughty arrogant reserved shy timid bold brave curious
    stubborn generous selfish wicked honest cruel pompous ridiculous nervous anxious charming
    serious grave angry wise young old rich poor idle wild careless prudent thoughtful
    affectionate melancholy miserable happy impatient insolent obstinate humble civil polite
    rude elegant sweet modest tall ignorant jealous
    """.split()  # noqa: SIM905 (a word list reads best as words)
)


@dataclass
class CharacterProfile:
    name: str
    aliases: list[str]
    mention_count: int
    first_chapter: int
    role: str  # main | supporting
    description: str
    personality_traits: list[str]
    dialogue_count: int = 0


@dataclass
class Cast:
    characters: list[CharacterProfile]
    locations: list[str] = field(default_factory=list)


def _norm_title(title: str) -> str:
    return title.rstrip(".")


def _display(title: str, name: str) -> str:
    abbreviated = {"Mr", "Mrs", "Ms", "Dr"}
    return f"{title}. {name}" if title in abbreviated else f"{title} {name}"


def _alias_pattern(aliases: list[str]) -> re.Pattern:
    return re.compile(
        r"\b(?:" + "|".join(re.escape(a) for a in sorted(aliases, key=len, reverse=True)) + r")\b"
    )


def extract_cast(body: str, chapters: list[Chapter], *, max_characters: int = 30) -> Cast:
    """The cast of the story chapters (front matter, number 0, is skipped:
    prefaces name the author and other books' characters)."""
    story = [c for c in chapters if c.number > 0] or chapters
    text = ILLUSTRATION.sub(" ", " ".join(" ".join(c.text.split()) for c in story))
    lowercase = Counter(w for w in re.findall(r"\b[a-z][a-z]+\b", text))

    titled: Counter[tuple[str, str]] = Counter()
    for match in TITLED.finditer(text):
        title, name = _norm_title(match.group(1)), match.group(2)
        first = name.split()[0]
        titled[(title, first if first not in NOT_NAMES else name)] += 1
    plain: Counter[str] = Counter()
    for match in CAPITALISED.finditer(text):
        name = match.group(1)
        words = name.split()
        if words[0] in NOT_NAMES or words[0] in TITLES:
            continue
        # Only the first word matters when a candidate continues into a non-name.
        if len(words) == 2 and (
            words[1] in NOT_NAMES or lowercase[words[1].lower()] > plain[words[1]]
        ):
            name = words[0]
        plain[name] += 1
    said: Counter[str] = Counter()
    for match in SAID.finditer(text):
        said[" ".join((match.group(1) or match.group(2)).replace(".", "").split())] += 1

    def is_name(word: str, count: int) -> bool:
        return word not in NOT_NAMES and count >= 3 and count >= 2 * lowercase[word.lower()]

    singles = {n: c for n, c in plain.items() if " " not in n and is_name(n, c)}
    # Entities: titled people, then first names; full names join one of them.
    # "Miss Elizabeth" is Elizabeth when the name is mostly used alone;
    # "Lady Catherine" stays titled when the title is the usual form.
    entities: dict[str, dict] = {}
    first_name_titles: dict[str, Counter] = defaultdict(Counter)
    surnames = {
        name for (title, name), count in titled.items() if title in {"Mr", "Mrs"} and count >= 3
    }
    for (title, name), count in titled.items():
        if count < 3 or name in NOT_NAMES:
            continue
        display = _display(title, name)
        first_name = name not in surnames and title in {
            "Miss",
            "Lady",
            "Sir",
            "Lord",
            "Aunt",
            "Uncle",
        }
        if first_name and singles.get(name, 0) >= count:
            first_name_titles[name][display] += count
            continue
        entities[display] = {"aliases": Counter({display: count}), "said": 0}
    surnames_titled = defaultdict(list)
    for key in entities:
        surnames_titled[key.split()[-1]].append(key)

    fulls = {
        n: c
        for n, c in plain.items()
        if " " in n and all(w not in NOT_NAMES for w in n.split()) and c >= 2
    }
    for name, count in singles.items():
        canonical = DIMINUTIVES.get(name, name)
        if name in surnames_titled:
            # "Darcy" alone is Mr. Darcy when he dwarfs Miss Darcy; "Bennet"
            # alone (Mr., Mrs., Miss) is nobody in particular.
            owners = sorted(
                surnames_titled[name], key=lambda k: -sum(entities[k]["aliases"].values())
            )
            counts = [sum(entities[k]["aliases"].values()) for k in owners]
            if len(owners) == 1 or counts[0] >= 2 * counts[1]:
                entities[owners[0]]["aliases"][name] += count
            continue
        entity = entities.setdefault(canonical, {"aliases": Counter(), "said": 0})
        entity["aliases"][name] += count
        entity["aliases"].update(first_name_titles.get(name, {}))
    for full, count in fulls.items():
        first, last = full.split()[0], full.split()[-1]
        first = DIMINUTIVES.get(first, first)
        if first in entities and singles.get(first, 0) >= 3:
            entities[first]["aliases"][full] += count
            entities[first].setdefault("surname", Counter())[last] += count
        elif surnames_titled.get(last):
            owner = max(surnames_titled[last], key=lambda k: sum(entities[k]["aliases"].values()))
            entities[owner]["aliases"][full] += count
    for speaker, count in said.items():
        for entity in entities.values():
            if speaker in {a.replace(".", "") for a in entity["aliases"]}:
                entity["said"] += count
                break

    # Places are not people: drop names mostly used after a preposition.
    after_preposition = Counter(m.group(1) for m in PLACE_BEFORE.finditer(text))
    locations = sorted(
        (n for n, c in singles.items() if after_preposition[n] >= max(3, 0.5 * c)),
        key=lambda n: -singles[n],
    )
    for place in locations:
        entities.pop(place, None)

    # Every occurrence counts once the names are known (sentence starts too).
    for entity in entities.values():
        names = list(entity["aliases"])
        entity["mentions"] = len(_alias_pattern(names).findall(text)) if names else 0
    ranked = sorted(entities.items(), key=lambda kv: -(kv[1]["mentions"] + 2 * kv[1]["said"]))[
        :max_characters
    ]
    if not ranked:
        return Cast([], locations[:20])
    top = ranked[0][1]["mentions"]
    sentences = [s for c in story for s in split_sentences(c.text)]
    profiles = []
    for rank, (key, entity) in enumerate(ranked):
        aliases = [a for a, _ in entity["aliases"].most_common()]
        surname = entity.get("surname")
        name = f"{key} {surname.most_common(1)[0][0]}" if surname and " " not in key else key
        if name not in aliases:
            aliases.insert(0, name)
        mentions = entity["mentions"]
        pattern = _alias_pattern(aliases)
        first_chapter = next(
            (c.number for c in story if pattern.search(" ".join(c.text.split()))), 0
        )
        described = [s for s in sentences if pattern.search(s)]
        descriptive = [
            s
            for s in described
            if re.search(
                DESCRIBES,
                s,
            )
            and 40 <= len(s) <= 400
        ]
        description = " ".join((descriptive or described)[:2])[:600]
        traits = Counter(
            word
            for s in described
            for word in re.findall(r"\b[a-z]+\b", s.lower())
            if word in TRAITS
        )
        profiles.append(
            CharacterProfile(
                name=name,
                aliases=aliases[:10],
                mention_count=mentions,
                first_chapter=first_chapter,
                role="main" if rank < 5 or mentions >= 0.25 * top else "supporting",
                description=description,
                personality_traits=[t for t, _ in traits.most_common(5)],
                dialogue_count=entity["said"],
            )
        )
    return Cast(profiles, locations[:20])

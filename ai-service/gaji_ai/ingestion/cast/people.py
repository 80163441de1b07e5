"""Names into people: each capitalised run observed as a form, forms weighed as
a person or not, aliases merged (titles, diminutives, surnames, first
names), mentions counted and genders found; frequent unnamed roles that
speak and act."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from gaji_ai.ingestion.cast.lexicon import (
    ABBREVIATED,
    DEMONYM,
    DIMINUTIVES,
    FEMALE_PRONOUNS,
    FIRST_NAME_TITLES,
    GROUP_NOUNS,
    MALE_PRONOUNS,
    NOT_NAMES,
    NUMBERS,
    PERSON_VERBS,
    PLACE_SUFFIXES,
    POSSESSIVE_DETERMINERS,
    ROLE_NOUNS,
    ROLE_TITLES,
    SPEECH_VERBS,
    STRONG_PLACE,
    TITLE_GENDER,
    TITLES,
)
from gaji_ai.ingestion.cast.sentences import _Run, _Sentence


@dataclass
class _Form:
    """One way of writing a name (with or without a title), and how it is used."""

    count: int = 0
    mid: int = 0
    said: int = 0
    acts: float = 0.0
    vocative: int = 0
    possessive: int = 0
    place: float = 0.0
    of: int = 0
    the: int = 0
    indefinite: int = 0
    determiner: int = 0

    def person(self) -> float:
        return 2 * self.said + self.acts + 0.5 * self.vocative + 0.3 * self.possessive

    def acting(self) -> float:
        return self.said + self.acts


def _observe(form: _Form, run: _Run) -> None:
    form.count += 1
    form.mid += not run.initial
    if run.speaks():
        form.said += 1
    elif run.next in PERSON_VERBS or run.next == "who":
        form.acts += 1
    elif run.next in AUXILIARIES or (run.next.endswith("ed") and len(run.next) > 4):
        form.acts += 0.3
    # Addressed: "Lucy, come here", "Come here, Lucy!", "my dear Jane,"
    if (
        run.quoted
        and run.gap_after[:1] in {",", "!", "?", "."}
        and (
            any(q in run.gap_before for q in "\"\u201c\u2018'")
            or run.gap_before.endswith(", ")
            or run.prev in {"dear", "dearest", "oh", "o", "poor"}
        )
    ):
        form.vocative += 1
    form.possessive += run.possessive
    form.place += PLACE_WEIGHTS.get(run.prev, 0.0)
    form.of += run.prev == "of"
    form.the += run.prev == "the"
    form.indefinite += run.prev in {"a", "an"}
    form.determiner += run.prev in POSSESSIVE_DETERMINERS


AUXILIARIES = {"was", "had", "is", "has", "did", "could", "would", "should", "might", "must"}


AUXILIARIES |= {"will", "shall", "may", "does", "felt", "knew"}


PLACE_WEIGHTS = {w: 1.0 for w in STRONG_PLACE} | {
    "from": 0.5,
    "to": 0.3,
    "of": 0.2,
    "reach": 1.0,
    "reached": 1.0,
    "visit": 0.7,
    "visited": 0.7,
    "leave": 0.5,
    "left": 0.5,
    "quit": 1.0,
    "quitted": 1.0,
}


SURNAME_TITLES = {"Mr", "Mrs", "M", "Monsieur", "Madame", "Mme", "Signor", "Herr", "Frau", "Dr"}


SURNAME_TITLES |= {"Professor", "Colonel", "Captain", "Rev", "General", "Major", "Lieutenant"}


MONTHS = {"January", "February", "March", "April", "May", "June", "July", "August"}


MONTHS |= {"September", "October", "November", "December"}


@dataclass
class _Entity:
    key: str
    aliases: Counter = field(default_factory=Counter)
    title: str = ""
    surnames: Counter = field(default_factory=Counter)
    unnamed: bool = False
    phrases: list[str] = field(default_factory=list)  # an unnamed person's mentions
    gender: str = ""
    first_names: Counter = field(default_factory=Counter)  # its untitled single names
    joined: set = field(default_factory=set)  # titled names claimed for it ("Miss Bartlett")

    def total(self) -> int:
        return sum(self.aliases.values())


def _display(title: str, name: str) -> str:
    if not name:
        return title
    return f"{title}. {name}" if title in ABBREVIATED else f"{title} {name}"


class _People:
    """Names to people (see the module's docstring, step 2)."""

    def __init__(self, runs: list[_Run], lower: Counter, caps_mid: Counter) -> None:
        self.lower, self.caps_mid = lower, caps_mid
        self.forms: dict[tuple[str, str], _Form] = defaultdict(_Form)
        self.place_named: Counter[str] = Counter()
        self.entities: dict[str, _Entity] = {}
        self.owner: dict[str, str] = {}  # alias -> entity key
        self.locations: list[str] = []
        self._collect(runs)
        self._build()

    # -- names and how they are used

    def namey(self, word: str, *, in_run: bool = False) -> bool:
        excluded = NOT_NAMES - MONTHS if in_run else NOT_NAMES
        return (
            word not in excluded
            and word != "de"
            and self.caps_mid[word] >= 2
            and self.caps_mid[word] >= 2 * self.lower[word.lower()]
        )

    def _collect(self, runs: list[_Run]) -> None:
        for run in runs:
            if not run.words:
                if run.title in ROLE_TITLES:
                    _observe(self.forms[(run.title, "")], run)
                continue
            if len(run.words) > 4:
                continue
            if len(run.words) > 1 and run.words[-1] in PLACE_SUFFIXES:
                for word in run.words:
                    self.place_named[word] += 1
                continue
            if run.title:
                _observe(self.forms[(run.title, run.name)], run)
                if len(run.words) > 1 and "de" not in run.words:
                    _observe(self.forms[("", run.name)], run)  # the full name too
                continue
            if len(run.words) == 1:
                if run.words[0] in TITLES or not self.namey(run.words[0]):
                    continue
            elif not all(self.namey(w, in_run=True) for w in run.words if w != "de"):
                continue
            _observe(self.forms[("", run.name)], run)

    def _is_person(self, name: str, form: _Form) -> bool:
        """An untitled single name: a person, or a place, thing, nation, month."""
        if name in NOT_NAMES or form.mid < 3 or form.count < 4:
            return False
        plural = name.endswith("s") and (
            ("", name[:-1]) in self.forms or any(n == name[:-1] for _t, n in self.forms if _t)
        )
        return not (
            plural
            or (DEMONYM.search(name) and form.acting() < 0.2 * form.count)
            or form.determiner > 0.2 * form.count
            or form.indefinite > 0.15 * form.count
            or form.of > 0.6 * form.count
            or self.place_named[name] > 0.5 * form.count
            or (form.the > 0.5 * form.count and not form.said and form.acting() < 0.3 * form.count)
            or form.person() < 1.5
            or form.place >= form.person()
        )

    def _add(self, key: str, alias: str, count: int) -> _Entity:
        entity = self.entities.setdefault(key, _Entity(key))
        entity.aliases[alias] += count
        self.owner[alias] = key
        return entity

    def _merge(self, into: str, other: str) -> None:
        if into == other or other not in self.entities or into not in self.entities:
            return
        gone = self.entities.pop(other)
        target = self.entities[into]
        target.aliases.update(gone.aliases)
        target.surnames.update(gone.surnames)
        target.first_names.update(gone.first_names)
        target.gender = target.gender or gone.gender
        for alias in gone.aliases:
            self.owner[alias] = into

    # -- people

    def _build(self) -> None:
        forms = self.forms
        singles = {n: f for (t, n), f in forms.items() if not t and n and " " not in n}
        titled = {
            (t, n): f
            for (t, n), f in forms.items()
            if t and n and f.count >= 2 and " " not in n.replace(" de ", "-")
        }
        people = {n: f for n, f in singles.items() if self._is_person(n, f)}
        # Which names are surnames: after Mr./Mrs./M., or after a first name.
        first_votes: Counter[str] = Counter()
        surname_votes: Counter[str] = Counter()
        for (t, n), f in forms.items():
            words = n.split()
            if t in SURNAME_TITLES and len(words) == 1:
                surname_votes[n] += f.count
            if not t and len(words) == 2 and words[0] in people:
                first_votes[words[0]] += f.count
                surname_votes[words[1]] += f.count
            if not t and len(words) == 3 and words[1] == "de":
                first_votes[words[0]] += f.count
        surnames = {n for n, v in surname_votes.items() if v > first_votes[n]}
        for t, n in titled:
            if t in {"Miss", "Lady"} and n not in first_votes and n not in singles:
                surnames.add(n)  # "Miss Pole": a surname unless shown otherwise
        self.surnames = surnames
        for n, f in singles.items():
            if n in surnames and n not in people and f.count >= 3 and not self._not_a_person(n, f):
                people[n] = f
        self.locations = [
            n
            for n, f in sorted(singles.items(), key=lambda kv: -kv[1].count)
            if n not in people
            and f.count >= 3
            and (f.place >= max(1.5, 0.2 * f.count) or self.place_named[n] > 0.5 * f.count)
            and n not in NOT_NAMES
        ][:20]

        # 1. First names (with their diminutives: "Lizzy", "Eliza" are Elizabeth).
        for name, form in sorted(people.items(), key=lambda kv: -kv[1].count):
            if name in surnames:
                continue
            canonical = DIMINUTIVES.get(name, name)
            if canonical not in people or canonical in surnames:
                canonical = name
            entity = self._add(canonical, name, form.count)
            entity.first_names[name] += form.count
        # 2. Titled people; "Miss Lucy" is Lucy when Lucy mostly goes by her first name.
        for (title, name), form in sorted(titled.items(), key=lambda kv: -kv[1].count):
            display = _display(title, name)
            if name.endswith("s") and ((title, name[:-1]) in titled):
                continue  # "the Miss Bennets"
            first = name.split()[0]
            key = self.owner.get(first)
            if (
                " " not in name
                and title in FIRST_NAME_TITLES
                and name not in surnames
                and key
                and not self.entities[key].title
                and first in people
                and people[first].count >= form.count
            ):
                self.entities[key].aliases[display] += form.count
                self.owner[display] = key
                continue
            if " de " in name and _display(title, first) in self.entities:
                self._add(_display(title, first), display, form.count)  # Lady Catherine de Bourgh
                continue
            entity = self._add(display, display, form.count)
            entity.title = title
            entity.gender = TITLE_GENDER.get(title, "")
        for (title, name), form in forms.items():  # "the Queen", "the Duchess"
            if (
                title in ROLE_TITLES
                and not name
                and form.count >= 8
                and form.the >= 0.5 * form.count
            ):
                self._add(title, title, form.count).gender = TITLE_GENDER.get(title, "")
        # A bare first name that mostly stands for a titled one ("Catherine": Lady Catherine).
        for key in [k for k, e in self.entities.items() if e.title in FIRST_NAME_TITLES]:
            first = key.split()[-1]
            other = self.owner.get(first)
            if (
                other
                and other != key
                and not self.entities[other].title
                and self.entities[other].total() < 0.5 * self.entities[key].total()
            ):
                self._merge(key, other)
        # 3. Full names: "Elizabeth Bennet", "Fitzwilliam Darcy", "William Lucas".
        for (title, name), form in sorted(forms.items(), key=lambda kv: -kv[1].count):
            words = name.split()
            if title or len(words) != 2:
                continue
            first, last = words
            first = (
                DIMINUTIVES.get(first, first) if DIMINUTIVES.get(first) in self.entities else first
            )
            key = self.owner.get(first) or next(
                (
                    self.owner[_display(t, first)]
                    for t in FIRST_NAME_TITLES
                    if _display(t, first) in self.owner
                ),
                None,
            )
            plausible = not DEMONYM.search(last) and last not in self.locations
            if key and plausible and (first == key or first in self.entities[key].first_names):
                self.entities[key].aliases[name] += form.count
                self.entities[key].surnames[last] += form.count
                self.owner.setdefault(name, key)
            elif key and self.entities[key].title in FIRST_NAME_TITLES:
                self.entities[key].aliases[name] += form.count  # "William Lucas": Sir William
                self.owner.setdefault(name, key)
            elif last in surnames and self._titled_with(last) and form.count >= 2:
                owners = self._titled_with(last)
                if owners:
                    self.entities[owners[0]].aliases[name] += form.count
                    self.owner.setdefault(name, owners[0])
            elif first not in self.entities and self.caps_mid[first] <= 1.5 * form.count:
                self._compound(name, form)
        # 4. Bare surnames: the titled person they mostly name ("Darcy"), else
        #    the first name that carries that surname ("Clerval": Henry), else
        #    a person of their own ("Frankenstein").
        for name, form in sorted(people.items(), key=lambda kv: -kv[1].count):
            if name not in surnames:
                continue
            owners = self._titled_with(name)
            counts = [self.entities[k].total() for k in owners]
            if (
                owners
                and (len(owners) == 1 or counts[0] >= 2 * counts[1])
                and counts[0] >= 0.2 * form.count
            ):
                self.entities[owners[0]].aliases[name] += form.count
                self.owner.setdefault(name, owners[0])
                continue
            tiny = len(owners) == 1 and counts[0] < 0.2 * form.count
            if (owners and not tiny) or not self._is_person(name, form):
                continue  # "Bennet" alone: Mr., Mrs. or Miss?
            carriers = sorted(
                (k for k, e in self.entities.items() if e.surnames.get(name, 0) >= 2),
                key=lambda k: -self.entities[k].surnames[name],
            )
            if carriers:  # "Clerval": Henry Clerval
                self.entities[carriers[0]].aliases[name] += form.count
                self.owner.setdefault(name, carriers[0])
                continue
            self._add(name, name, form.count)
            if tiny:  # "Frankenstein", and the rare "M. Frankenstein" with it
                self._merge(name, owners[0])
                self.entities[name].title = ""

    def _titled_with(self, surname: str) -> list[str]:
        keys = [
            k
            for k, e in self.entities.items()
            if e.title and k.split()[-1] == surname and e.title not in ROLE_TITLES
        ]
        return sorted(keys, key=lambda k: -self.entities[k].total())

    def _not_a_person(self, name: str, form: _Form) -> bool:
        return form.of > 0.4 * form.count or form.place >= max(1.5, 0.3 * form.count)

    def _compound(self, name: str, form: _Form) -> None:
        """ "Mock Turtle", "March Hare", "White Rabbit": one name in two words."""
        last = name.split()[-1]
        if last in self.entities and not self.entities[last].title:
            entity = self.entities.pop(last)
            entity.key = name
            entity.aliases[name] += form.count
            entity.first_names = Counter()  # named "Mock Turtle", not "Turtle"
            self.entities[name] = entity
            for alias in entity.aliases:
                self.owner[alias] = name
        elif form.count >= 3 and form.person() >= 1.5 and form.of < 0.4 * form.count:
            self._add(name, name, form.count)


def _canonical_name(entity: _Entity) -> str:
    """The name a reader knows: the full name when the person mostly goes by
    the first name ("Elizabeth Bennet"), else the usual form ("Mr. Darcy",
    "Lady Catherine", "Bill" rather than "William")."""
    if entity.unnamed or entity.title:
        return entity.key
    first = entity.first_names.most_common(1)[0][0] if entity.first_names else entity.key
    if entity.surnames:
        surname, votes = entity.surnames.most_common(1)[0]
        joined = any(k.split()[-1] == surname for k in entity.joined)
        full = f"{first} {surname}"
        if full in entity.aliases and (votes >= 3 or joined):
            return full
    return first


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "\u2026"


class _Mentions:
    """Every mention of every entity, sentence by sentence."""

    def __init__(self, sentences: list[_Sentence], entities: dict[str, _Entity]) -> None:
        alias_to: dict[str, str] = {}
        for key, entity in sorted(entities.items(), key=lambda kv: kv[1].total()):
            for alias in entity.aliases:
                alias_to[alias] = key
        self.entities = entities
        named = sorted(
            (a for a in alias_to if not entities[alias_to[a]].unnamed), key=len, reverse=True
        )
        unnamed = {p: k for k, e in entities.items() if e.unnamed for p in e.phrases}
        parts = []
        if named:
            parts.append(r"(?<![\w-])(?:" + "|".join(re.escape(a) for a in named) + r")(?![\w-])")
        if unnamed:
            phrases = sorted(unnamed, key=len, reverse=True)
            parts.append(
                r"\b[Tt]he\s+(?:" + "|".join(re.escape(p) for p in phrases) + r")(?![\w-])"
            )
        self.by_sentence: list[list[tuple[str, int, int, bool]]] = [[] for _ in sentences]
        self.count: Counter[str] = Counter()
        self.first: dict[str, int] = {}
        self.said_unnamed: Counter[str] = Counter()
        if not parts:
            return
        pattern = re.compile("|".join(parts))
        for s in sentences:
            for match in pattern.finditer(s.text):
                surface = match.group()
                if surface[:4].lower() == "the " and " ".join(surface[4:].split()) in unnamed:
                    key = unnamed[" ".join(surface[4:].split())]
                    before = s.text[: match.start()].split()[-1:] or [""]
                    after = s.text[match.end() :].split()[:1] or [""]
                    if before[0].lower() in SPEECH_VERBS or after[0].lower() in SPEECH_VERBS:
                        self.said_unnamed[key] += 1
                else:
                    key = alias_to[surface]
                self.by_sentence[s.index].append(
                    (key, match.start(), match.end(), s.in_quote(match.start()))
                )
                self.count[key] += 1
                self.first.setdefault(key, s.index)

    def of(self, key: str) -> list[int]:
        return [i for i, ms in enumerate(self.by_sentence) if any(m[0] == key for m in ms)]


def _genders(sentences: list[_Sentence], entities: dict[str, _Entity], mentions: _Mentions) -> None:
    """He or she: from the title, else from the pronouns after sentences that
    name only this person (in the sentence and the next one of the paragraph)."""
    votes: dict[str, Counter] = defaultdict(Counter)
    for s in sentences:
        keys = {m[0] for m in mentions.by_sentence[s.index] if not m[3]}
        if len(keys) != 1:
            continue
        key = keys.pop()
        last = max(m[2] for m in mentions.by_sentence[s.index])
        text = s.text[last:]
        if s.index + 1 < len(sentences):
            following = sentences[s.index + 1]
            if following.paragraph == s.paragraph and not mentions.by_sentence[following.index]:
                text += " " + following.text
        text = re.sub(r"[\"\u201c][^\"\u201d]*[\"\u201d]", " ", text)
        votes[key]["male"] += len(MALE_PRONOUNS.findall(text))
        votes[key]["female"] += len(FEMALE_PRONOUNS.findall(text))
    for key, entity in entities.items():
        titled = [TITLE_GENDER.get(re.split(r"[. ]", a)[0], "") for a in entity.aliases]
        titled = [g for g in titled if g]
        if titled:
            entity.gender = Counter(titled).most_common(1)[0][0]
            continue
        male, female = votes[key]["male"], votes[key]["female"]
        if male + female >= 4 and max(male, female) >= 2 * min(male, female):
            entity.gender = "male" if male > female else "female"


def _join_first_names_to_titles(
    people: _People, mentions: _Mentions, sentences: list[_Sentence]
) -> None:
    """ "Charlotte Bartlett" makes "Charlotte" and "Miss Bartlett" one person
    when the two names do not meet in the same sentences, yet do in the same
    passages (two people named in one sentence, like George and Mr. Emerson,
    are two people; a Mary King far from Mary Bennet's scenes is another
    Mary)."""
    entities = people.entities
    where: dict[str, set[int]] = defaultdict(set)
    for i, ms in enumerate(mentions.by_sentence):
        for m in ms:
            where[m[0]].add(i)
    total = max(len(sentences), 1)
    claims: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for key, entity in list(entities.items()):
        if entity.title or not entity.surnames or not entity.gender:
            continue
        for surname, votes in entity.surnames.items():
            for titled in people._titled_with(surname):
                wanted = {"Mr": "male", "Miss": "female", "M": "male", "Signorina": "female"}
                if wanted.get(entities[titled].title) != entity.gender:
                    continue
                mine, theirs = where[key], where[titled]
                if not mine or len(theirs) < 3:
                    continue
                both = len(mine & theirs)
                lift = both * total / (len(mine) * len(theirs))
                share = both / min(len(mine), len(theirs))
                near = {j for i in theirs for j in range(i - 3, i + 4)}
                near_share = len(near & mine) / len(theirs)
                expected = min(1.0, 7 * len(mine) / total)
                windows = near_share * len(theirs)
                if (
                    share <= 0.08
                    and lift < 1.0
                    and near_share >= max(1.3 * expected, 0.06)
                    and windows >= 2
                ):
                    claims[titled].append((votes, key))
    for titled, candidates in claims.items():
        candidates.sort(reverse=True)
        if len(candidates) > 1 and candidates[0][0] < 2 * candidates[1][0]:
            continue  # "Miss Bennet" could be any of the sisters: leave her alone
        people._merge(candidates[0][1], titled)
        entities[candidates[0][1]].joined.add(titled)


def _acts(after: str, before: str) -> float:
    if after in PERSON_VERBS or before in SPEECH_VERBS:
        return 1.0
    return 0.5 if after in AUXILIARIES or (after.endswith("ed") and len(after) > 4) else 0.0


def _unnamed(sentences: list[_Sentence]) -> list[_Entity]:
    """People the text never names but keeps talking about as "the chief
    clerk", "the monster" (its synonyms count as one), "the three gentlemen"."""
    definite: Counter[str] = Counter()
    indefinite: Counter[str] = Counter()
    acting: Counter[str] = Counter()
    phrases: dict[str, Counter] = defaultdict(Counter)
    nouns = "|".join(sorted(ROLE_NOUNS, key=len, reverse=True))
    role = re.compile(
        rf"\b(?P<det>[Tt]he|[Aa]n?)\s+(?:(?P<mod>[a-z]+)\s+)?(?P<noun>{nouns})\b(?P<after>\s+\w+)?"
    )
    group = re.compile(
        rf"\b[Tt]he\s+(?P<num>{'|'.join(NUMBERS)})\s+(?P<noun>{'|'.join(GROUP_NOUNS)})\b"
        rf"(?P<after>\s+\w+)?"
    )
    for s in sentences:
        for match in role.finditer(s.text):
            noun, mod = match.group("noun"), match.group("mod")
            if mod and (f"{mod} {noun}" in ROLE_NOUNS or mod in {"the", "a", "an"}):
                continue
            key = ROLE_NOUNS[noun]
            if match.group("det").lower() in {"a", "an"}:
                indefinite[key] += 1
                continue
            definite[key] += 1
            phrases[key][noun] += 1
            if mod:
                phrases[key][f"{mod} {noun}"] += 1
            after = (match.group("after") or "").strip().lower()
            before = s.text[: match.start()].split()[-1:] or [""]
            acting[key] += _acts(after, before[0].lower())
        for match in group.finditer(s.text):
            key = f"{match.group('num')} {match.group('noun')}"
            definite[key] += 1
            phrases[key][key] += 1
            acting[key] += _acts((match.group("after") or "").strip().lower(), "")
    out = []
    for key, count in definite.items():
        if count < 12 or acting[key] < 3 or indefinite[key] > 0.5 * count:
            continue
        forms = phrases[key]
        nouns_used = [p for p in forms if " " not in p or p == key]
        best = max(nouns_used, key=lambda p: forms[p])
        if key in forms and forms[key] >= 0.5 * forms[best]:
            best = key  # "the monster" names the monster, even if "fiend" is a little commoner
        # "the chief clerk": a modifier that goes with most mentions is part of the name.
        modified = [p for p in forms if " " in p and p.split()[-1] == best and p != key]
        usual = max(modified, key=lambda p: forms[p]) if modified else best
        if forms[usual] < 0.6 * forms[best]:
            usual = best
        entity = _Entity(f"the {usual}", unnamed=True)
        entity.phrases = sorted({*nouns_used, usual}, key=len, reverse=True)
        for phrase in entity.phrases:
            entity.aliases[f"the {phrase}"] += forms[phrase]
        out.append(entity)
    return out

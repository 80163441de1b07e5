"""Find a novel's cast in its own text, without a large model.

The text is read as paragraphs and sentences, knowing which words stand
inside quotation marks (dialogue) and which start a sentence.

1. Names. Runs of capitalised words that do not start a sentence, with their
   titles (Mr., Mrs., Miss, Lady, Sir, M., Signora, ...), counted; a word
   that is mostly written lowercase elsewhere ("Well", "Yes") is no name.
   Each untitled name is weighed as a person or not: speech ("said Alice",
   "Mr. Darcy replied"), person verbs after it ("Lucy smiled"), being
   addressed in dialogue, against being a place (mostly after "at", "in",
   "near", ...), a thing ("her Baedeker", "your Majesty"), a nationality
   ("an Italian", "the Italians") or part of a place name ("Windy Corner").
   Standalone royal titles ("the Queen") and frequent unnamed roles ("the
   chief clerk", "the monster" and its synonyms) are people too when they
   speak and act.
2. People, not names. Aliases merge: "Elizabeth Bennet" -> "Elizabeth",
   diminutives ("Lizzy", "Eliza"), "Miss Lucy" -> "Lucy", a bare surname
   to the titled person it mostly names ("Darcy" -> "Mr. Darcy"), "Mock
   Turtle" <- "Turtle", and a full name's first name to "Miss/Mr. <surname>"
   ("Charlotte Bartlett": "Charlotte" is "Miss Bartlett") unless the two
   names keep meeting in the same sentences (then they are two people: George
   and Mr. Emerson). "Mr. Bennet" and "Mrs. Bennet" stay two people.
3. Profiles, extractive. The description is the sentences that best
   characterise the person: narration, not dialogue ("Lizzy is not a bit
   better..." inside quotes is somebody talking); copula and appositive
   descriptions ("X was a man of ...", "X, the youngest ..."), a narrator's
   "she had a lively, playful disposition" right after naming her; the
   introduction is preferred. Traits are adjectives predicated of the person
   ("X was proud", "she was lively", "the amiable Mr. Bingley", "his pride"),
   from a lexicon of dispositions (no ages, moods or "poor"), weighed by how
   particular they are to that person. Relationships come from patterns
   ("her sister Jane", "Mr. Bennet's wife", "Jane, Elizabeth's sister",
   "his friend Bingley") with the inverse on the other side (Jane's sister
   Elizabeth). First appearance: the chapter and the first sentence naming
   them.
Locations are proper nouns mostly used after "at", "to", "from", "in"
(Netherfield, Pemberley, Longbourn).

Measured by `make eval-cast` (eval/cast_eval.py) against the hand-listed
cast of the five bundled novels (eval/cast_gold.json)."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from gaji_ai.ingestion.text import Chapter

# ----------------------------------------------------------------- vocabulary

MALE_TITLES = {
    "Mr",
    "Sir",
    "Lord",
    "Colonel",
    "Captain",
    "Uncle",
    "Monsieur",
    "M",
    "Signor",
    "Herr",
    "King",
    "Duke",
    "Prince",
    "Count",
    "Baron",
    "General",
    "Major",
    "Lieutenant",
    "Rev",
    "Reverend",
}
FEMALE_TITLES = {
    "Mrs",
    "Miss",
    "Ms",
    "Lady",
    "Aunt",
    "Madame",
    "Mme",
    "Mademoiselle",
    "Mlle",
    "Signora",
    "Signorina",
    "Frau",
    "Queen",
    "Duchess",
    "Princess",
    "Countess",
    "Baroness",
}
TITLES = MALE_TITLES | FEMALE_TITLES | {"Dr", "Professor"}
ABBREVIATED = {"Mr", "Mrs", "Ms", "Dr", "M", "Mme", "Mlle", "Rev"}
# Titles that go with a first name ("Miss Lucy", "Sir William", "Lady Catherine").
FIRST_NAME_TITLES = {"Miss", "Lady", "Sir", "Lord", "Aunt", "Uncle", "Signora", "Signorina"}
# Titles that are a character on their own ("the Queen", "the Duchess").
ROLE_TITLES = {"King", "Queen", "Duchess", "Duke", "Prince", "Princess", "Emperor", "Empress"}
TITLE_GENDER = {t: "male" for t in MALE_TITLES} | {t: "female" for t in FEMALE_TITLES}

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
    "Kitty": "Catherine",
}
# Words that start sentences or are capitalised for other reasons.
NOT_NAMES = set(
    """
    I The A An And But Or If It He She They We You His Her Their This That These Those There
    Then When What Which Who Whom Whose Why How Where Yes No Oh O Well Not Nor So As At In On Of
    To For With By From My Your Our Its Chapter Letter Book Volume Part God Heaven Heavens Lord
    Sunday Monday Tuesday Wednesday Thursday Friday Saturday January February March April May
    June July August September October November December English French Christmas Easter Madam
    Sir Lady Mr Mrs Miss Dear Good Upon After Before While Though Although Perhaps Indeed Nothing
    Everything Every Some Any All One Two Three Very Do Does Did Is Was Be Have Had Has Will
    Would Could Should Can Shall Might Must Let Now Here Ah Alas Pray Mamma Papa Mother Father
    Illustration Copyright Gutenberg Project Contents Preface Introduction End St Saint Fate
    Nature Providence Fortune Heaven Death Love Time Hope Destiny Mrs Miss Majesty Ladyship
    Lordship Highness Excellency Grace Honour Worship Master Mistress Don Thee Thou Thy Ye
    """.split()  # noqa: SIM905 (a word list reads best as words)
)
SPEECH_VERBS = set(
    """
    said says cried replied answered asked exclaimed continued returned observed added
    whispered shouted remarked called began repeated inquired enquired interrupted muttered
    sighed murmured laughed screamed sobbed pleaded retorted rejoined thought
    """.split()  # noqa: SIM905
)
PERSON_VERBS = SPEECH_VERBS | set(
    """
    looked smiled laughed felt turned went came took saw heard knew hoped wished told loved
    married danced spoke wrote read sat stood walked ran nodded shook kissed wept smiled
    listened waited seemed gave tried went thanked promised declared meant wanted liked
    disliked hated feared trembled blushed coloured frowned glanced stared paused hesitated
    """.split()  # noqa: SIM905
)
STRONG_PLACE = {"at", "in", "into", "near", "towards", "toward", "through", "across", "within"}
WEAK_PLACE = {"from", "to", "of", "reach", "reached", "visit", "visited", "leave", "left"}
POSSESSIVE_DETERMINERS = {"my", "his", "her", "your", "our", "their", "its", "thy"}
PLACE_SUFFIXES = set(
    """
    Corner Street Road Lane Hall Park House Court Place Square Church Abbey Villa Castle Hill
    Wood Woods River Lake Mountain Mountains Mount Bridge Gate Inn Hotel Terrace Gardens Garden
    Cross Common Heath Town City Island Isles Sea Ocean Valley Palace Chapel Cathedral College
    School Row Alps Pension Station Gallery Lodge Manor Rectory Vicarage Cottage Farm
    """.split()  # noqa: SIM905
)
DEMONYM = re.compile(r"(?:ian|ians|ese|ish|ards?|men|man)$")
# Unnamed people, known by their role ("the chief clerk"); a group counts as one.
ROLE_NOUNS = {
    "monster": "monster",
    "creature": "monster",
    "fiend": "monster",
    "daemon": "monster",
    "dæmon": "monster",
    "demon": "monster",
    "wretch": "monster",
    "clerk": "clerk",
    "charwoman": "charwoman",
    "cleaner": "charwoman",
    "lodger": "lodger",
    "housekeeper": "housekeeper",
    "landlord": "landlord",
    "landlady": "landlady",
    "doctor": "doctor",
    "nurse": "nurse",
    "governess": "governess",
    "coachman": "coachman",
    "cook": "cook",
}
GROUP_NOUNS = {"gentlemen", "lodgers", "ladies", "sisters", "brothers", "men", "women"}
NUMBERS = {"two", "three", "four", "five"}

# Dispositions a reader would call traits (no ages, passing moods or "poor").
TRAITS = set(
    """
    proud vain clever lively amiable agreeable foolish silly handsome beautiful pretty kind
    gentle cheerful sensible witty haughty arrogant reserved shy timid bold brave curious
    stubborn generous selfish wicked honest cruel pompous ridiculous nervous charming serious
    grave wise idle wild careless prudent thoughtful affectionate impatient insolent obstinate
    humble civil polite rude elegant sweet modest ignorant jealous playful intelligent
    accomplished conceited sarcastic ambitious benevolent candid capricious compassionate
    conscientious courageous cunning deceitful diligent discreet disagreeable eccentric eager
    earnest envious fastidious fierce frank frivolous gallant gay gloomy good-humoured
    good-natured greedy headstrong honourable hot-headed imprudent indolent ingenious innocent
    irritable kind-hearted learned lazy liberal loyal malicious meek merry mischievous
    miserly moody obliging obstinate passionate patient peevish pious pleasant quarrelsome
    quick rash reckless reasonable resolute respectable romantic sanguine satirical sedate
    sentimental severe shrewd sincere sly sober solemn spirited steady strict stupid sullen
    superstitious supercilious talkative tender thoughtless tolerant treacherous trustworthy
    unaffected unassuming vulgar warm-hearted weak whimsical wilful willful worthy zealous
    affable artful artless awkward blunt boisterous brilliant brusque calm cautious cold
    conceited contemptuous cordial cowardly delicate devoted dignified dishonest docile
    domineering dull energetic excitable faithful fanciful fearless fickle formal friendly
    genial gracious grim hasty haughty hospitable humorous impetuous impertinent independent
    indulgent industrious inquisitive insipid lovely melancholy noble officious open
    opinionated overbearing pedantic pert philosophical pretentious proper querulous
    quiet radiant refined reticent sharp simple sincere sociable stern stiff stoical studious
    submissive sulky sympathetic tactless tall taciturn unpleasant unsociable violent vivacious
    vindictive weak-minded well-bred
    """.split()  # noqa: SIM905
)
# "his pride", "her vanity": a noun predicated of its owner.
TRAIT_NOUNS = {
    "pride": "proud",
    "vanity": "vain",
    "wit": "witty",
    "conceit": "conceited",
    "arrogance": "arrogant",
    "generosity": "generous",
    "kindness": "kind",
    "cruelty": "cruel",
    "courage": "brave",
    "jealousy": "jealous",
    "ambition": "ambitious",
    "folly": "foolish",
    "insolence": "insolent",
    "curiosity": "curious",
    "impatience": "impatient",
    "benevolence": "benevolent",
    "sweetness": "sweet",
    "modesty": "modest",
    "gentleness": "gentle",
    "cheerfulness": "cheerful",
    "timidity": "timid",
    "shyness": "shy",
    "reserve": "reserved",
    "obstinacy": "obstinate",
    "haughtiness": "haughty",
    "pomposity": "pompous",
    "stupidity": "stupid",
    "ignorance": "ignorant",
    "vivacity": "vivacious",
    "melancholy": "melancholy",
    "honesty": "honest",
    "intelligence": "intelligent",
    "sarcasm": "sarcastic",
    "caprice": "capricious",
    "selfishness": "selfish",
    "wickedness": "wicked",
    "malice": "malicious",
    "passion": "passionate",
}
# Nouns that a characterising sentence talks about.
CHARACTER_NOUNS = set(
    """
    disposition temper character manners manner understanding mind figure features
    countenance air spirits heart nature humour fortune beauty face eyes person appearance
    abilities talents education sense wit pride conduct address habits principles
    """.split()  # noqa: SIM905
)
IDENTITY_NOUNS = set(
    """
    man woman girl boy gentleman lady daughter son wife husband sister brother child widow
    mother father friend youth clergyman officer servant young eldest youngest second
    aunt uncle cousin niece nephew heir master mistress
    """.split()  # noqa: SIM905
)
RELATIONS = {
    # relation: (gender of the relative, inverse as seen by the other, by its gender)
    "father": ("male", ("son", "daughter", "child")),
    "mother": ("female", ("son", "daughter", "child")),
    "son": ("male", ("father", "mother", "parent")),
    "daughter": ("female", ("father", "mother", "parent")),
    "brother": ("male", ("brother", "sister", "sibling")),
    "sister": ("female", ("brother", "sister", "sibling")),
    "husband": ("male", ("husband", "wife", "spouse")),
    "wife": ("female", ("husband", "wife", "spouse")),
    "uncle": ("male", ("nephew", "niece", "nephew or niece")),
    "aunt": ("female", ("nephew", "niece", "nephew or niece")),
    "nephew": ("male", ("uncle", "aunt", "uncle or aunt")),
    "niece": ("female", ("uncle", "aunt", "uncle or aunt")),
    "cousin": ("", ("cousin", "cousin", "cousin")),
    "friend": ("", ("friend", "friend", "friend")),
    "lover": ("", ("lover", "lover", "lover")),
    "suitor": ("male", None),
    "admirer": ("", None),
    "fiancé": ("male", ("fiancé", "fiancée", "betrothed")),
    "fiancée": ("female", ("fiancé", "fiancée", "betrothed")),
    "servant": ("", ("master", "mistress", "employer")),
    "maid": ("female", ("master", "mistress", "employer")),
    "companion": ("", ("companion", "companion", "companion")),
    "governess": ("female", None),
    "guardian": ("", ("ward", "ward", "ward")),
    "patroness": ("female", None),
    "patron": ("male", None),
}
_REL = "|".join(sorted(RELATIONS, key=len, reverse=True))
_MOD = (
    r"(?:(?:own|dear|dearest|eldest|youngest|younger|elder|second|third|only|favourite|"
    r"intimate|particular|old|best|beloved|little|late|good|new|future|young|poor)\s+)*"
)
COPULA = re.compile(
    r"^\s*(?:was|is|were|seemed|looked|appeared|became|grew|had been|has been|must be|could be)\b"
)
PRONOUN_COPULA = re.compile(
    r"\b(?P<p>he|she)\s+(?:was|is|seemed|looked|appeared|became|grew|had been)\b", re.I
)
QUALITY = re.compile(
    r"\b(?P<p>his|her|a|an)\s+(?P<adjs>(?:[a-z-]+,?\s+(?:and\s+)?){1,3})(?:"
    + "|".join(CHARACTER_NOUNS)
    + r")\b",
    re.I,
)
CLAUSE_ENDS = {";", ":", ".", "!", "?", "\u2014", "but", "though", "yet", "which", "who", "when"}
CLAUSE_ENDS |= {
    "to",
    "that",
    "if",
    "because",
    "than",
    "as",
    "for",
    "with",
    "by",
    "from",
    "in",
    "on",
}
COMPLEMENTS = {"to", "for", "that", "about", "with", "at", "of", "on", "in", "from", "by"}
TRAIT_NOUN = re.compile(r"\b(?P<p>his|her)\s+(?P<n>" + "|".join(TRAIT_NOUNS) + r")\b", re.I)
DESCRIBING = re.compile(
    r"^\s+(?:was|is|had been|had|seemed|appeared|looked)\s+"
    r"(?:(?:not|therefore|then|now|always|also|still|indeed|evidently|certainly)\s+)*"
    r"(?P<next>[a-z-]+)(?:\s+(?P<then>[a-z]+))?"
)
APPOSITIVE = re.compile(r"^,\s+(?:who|whose|the|a|an)\s+[a-z]+")
DESCRIPTIVE_NEXT = {
    "a",
    "an",
    "the",
    "of",
    "one",
    "very",
    "so",
    "too",
    "more",
    "most",
    "rather",
    "quite",
}
PRONOUN_START = re.compile(r"^(?:[\"'\u201c\u2018(]\s*)?(He|She|His|Her)\b")
ILLUSTRATION = re.compile(r"\[Illustration[^\]]*\]?")
WORD = re.compile(
    r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff]+(?:['\u2019][A-Za-z]+)*(?:-[A-Za-z\u00c0-\u00ff]+)*"
)
NAME_WORD = re.compile(r"^[A-Z\u00c0-\u00de][a-z\u00df-\u00ff]+(?:-[A-Za-z\u00df-\u00ff]+)*$")
OPENERS = set('"\u201c\u2018(\u2014:[') | {"--", "'"}
MALE_PRONOUNS = re.compile(r"\b(?:he|him|his|himself)\b", re.I)
FEMALE_PRONOUNS = re.compile(r"\b(?:she|her|hers|herself)\b", re.I)


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
    gender: str = ""  # male | female | "" (unknown)
    relationships: list[dict] = field(
        default_factory=list
    )  # {name, relation}: "name is my <relation>"
    first_appearance: dict = field(default_factory=dict)  # {chapter, chapter_title, quote}
    evidence: list[str] = field(default_factory=list)  # the best characterising sentences
    description_source: str = "text"  # text (the novel's sentences) | llm (written from them)


@dataclass
class Cast:
    characters: list[CharacterProfile]
    locations: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ the text


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


# ------------------------------------------------------------------ names


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


def extract_cast(body: str, chapters: list[Chapter], *, max_characters: int = 30) -> Cast:
    """The cast of the story chapters (front matter, number 0, is skipped:
    prefaces name the author and other books' characters)."""
    story = [c for c in chapters if c.number > 0] or chapters
    sentences = _sentences(story)
    if not sentences:
        return Cast([])
    lower, caps_mid = _word_counts(sentences)
    runs = [r for s in sentences for r in _runs(s, lower, caps_mid)]
    people = _People(runs, lower, caps_mid)
    entities = people.entities
    mentions = _Mentions(sentences, entities)
    _genders(sentences, entities, mentions)
    _join_first_names_to_titles(people, mentions, sentences)
    for entity in _unnamed(sentences):
        entities[entity.key] = entity
    mentions = _Mentions(sentences, entities)
    _genders(sentences, entities, mentions)

    said: Counter[str] = Counter()
    for run in runs:
        if run.speaks():
            alias = _display(run.title, run.name) if run.title else run.name
            owner = people.owner.get(alias)
            if owner in entities:
                said[owner] += 1
    said.update(mentions.said_unnamed)
    ranked = sorted(
        (k for k in entities if mentions.count[k] > 0),
        key=lambda k: -(mentions.count[k] + 2 * said[k]),
    )[:max_characters]
    if not ranked:
        return Cast([], people.locations)
    top = mentions.count[ranked[0]]
    names = {k: _canonical_name(entities[k]) for k in ranked}
    relations = _relationships(sentences, entities, mentions, set(ranked))
    traits = _traits(sentences, entities, mentions, set(ranked))
    chapter_titles = {c.number: c.title for c in story}
    profiles = []
    for rank, key in enumerate(ranked):
        entity = entities[key]
        name = names[key]
        aliases = [name] + [a for a, _ in entity.aliases.most_common() if a != name]
        first = sentences[mentions.first[key]]
        evidence = _describe(sentences, entity, name, mentions)
        count = mentions.count[key]
        profiles.append(
            CharacterProfile(
                name=name,
                aliases=aliases[:10],
                mention_count=count,
                first_chapter=first.chapter,
                role="main" if rank < 5 or count >= 0.25 * top else "supporting",
                description=" ".join(evidence)[:600],
                personality_traits=traits.get(key, []),
                dialogue_count=said[key],
                gender=entity.gender,
                relationships=[
                    {"name": names[other], "relation": relation}
                    for other, relation in relations.get(key, [])
                    if other in names
                ][:8],
                first_appearance={
                    "chapter": first.chapter,
                    "chapter_title": chapter_titles.get(first.chapter, ""),
                    "quote": _clip(first.text, 300),
                },
                evidence=evidence,
            )
        )
    return Cast(profiles, people.locations)


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


# ------------------------------------------------------------------ mentions


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


# ------------------------------------------------------------ relationships


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


# ------------------------------------------------------------------ traits


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


# ------------------------------------------------------------ description


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

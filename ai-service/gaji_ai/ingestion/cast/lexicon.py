"""The words the cast extraction reads by: titles, diminutives, words that are
no names, speech and person verbs, place words, traits, relations, and the
patterns built from them."""

from __future__ import annotations

import re

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

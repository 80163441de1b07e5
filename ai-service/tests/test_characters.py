"""The cast found in the text itself (no large model): who, under which
names, described by which sentences, with which traits and relationships."""

from __future__ import annotations

import functools
from pathlib import Path

from gaji_ai.ingestion.cast import extract_cast
from gaji_ai.ingestion.text import Chapter, decode, split_chapters, strip_gutenberg

NOVELS = Path(__file__).resolve().parents[2] / "data" / "novels"


@functools.cache
def cast_of(name: str):
    document = strip_gutenberg(decode((NOVELS / name).read_bytes()))
    return extract_cast(document.body, split_chapters(document.body))


def by_name(cast, name: str):
    return next(c for c in cast.characters if c.name == name)


def relations(profile) -> set[tuple[str, str]]:
    return {(r["name"], r["relation"]) for r in profile.relationships}


def test_pride_and_prejudice_cast_has_its_principals_on_top():
    cast = cast_of("pride-and-prejudice.txt")
    top = cast.characters[:15]
    names = {c.name for c in top} | {alias for c in top for alias in c.aliases}
    principals = ["Elizabeth Bennet", "Mr. Darcy", "Jane", "Mr. Bingley", "Mrs. Bennet"]
    principals += ["Mr. Bennet", "Mr. Collins", "Mr. Wickham", "Lydia"]
    for person in principals:
        assert person in names, (person, [c.name for c in top])
    elizabeth = cast.characters[0]
    assert elizabeth.name == "Elizabeth Bennet" and elizabeth.role == "main"
    assert {"Lizzy", "Eliza", "Elizabeth"} <= set(elizabeth.aliases)
    assert elizabeth.first_chapter == 1 and elizabeth.description and elizabeth.personality_traits
    # Mr. and Mrs. Bennet are two people; the author of a preface is nobody.
    assert {"Mr. Bennet", "Mrs. Bennet"} <= {c.name for c in cast.characters}
    assert not any("Austen" in c.name for c in cast.characters)
    assert {"Longbourn", "Netherfield", "Pemberley", "Meryton"} <= set(cast.locations)
    assert not {"Longbourn", "Netherfield"} & {c.name for c in cast.characters}


def test_one_person_under_several_names_is_one_character():
    cast = cast_of("pride-and-prejudice.txt")
    names = [c.name for c in cast.characters]
    jane = by_name(cast, "Jane Bennet")
    assert "Miss Bennet" in jane.aliases and "Miss Bennet" not in names
    caroline = by_name(cast, "Caroline Bingley")  # "Caroline Bingley" is "Miss Bingley"
    assert "Miss Bingley" in caroline.aliases and "Miss Bingley" not in names
    assert "Miss Darcy" in by_name(cast, "Georgiana Darcy").aliases
    assert "Darcy" in by_name(cast, "Mr. Darcy").aliases
    # A Mary King far from Mary Bennet's scenes is not her "Miss King".
    assert "Miss King" not in by_name(cast, "Mary").aliases


def test_elizabeths_profile_describes_her_and_relates_her():
    elizabeth = by_name(cast_of("pride-and-prejudice.txt"), "Elizabeth Bennet")
    # The narrator's description, not somebody's speech ("Lizzy is not a bit better...").
    assert "lively, playful disposition" in elizabeth.description
    assert "Lizzy is not a bit better" not in elizabeth.description
    assert not elizabeth.description.startswith(("\u201c", '"'))
    assert {"lively", "playful"} <= set(elizabeth.personality_traits)
    assert not {"happy", "young", "handsome"} & set(elizabeth.personality_traits)
    assert {("Jane Bennet", "sister"), ("Mrs. Bennet", "mother"), ("Mr. Bennet", "father")} <= (
        relations(elizabeth)
    )
    assert elizabeth.gender == "female"
    first = elizabeth.first_appearance
    assert first["chapter"] == 1 and "Lizzy" in first["quote"]


def test_profiles_of_the_pride_and_prejudice_cast():
    cast = cast_of("pride-and-prejudice.txt")
    darcy = by_name(cast, "Mr. Darcy")
    assert {"haughty", "reserved", "fastidious"} <= set(darcy.personality_traits)
    assert ("Georgiana Darcy", "sister") in relations(darcy)
    assert "ten thousand a year" in darcy.description
    assert by_name(cast, "Mr. Bennet").description.startswith(
        "Mr. Bennet was so odd a mixture of quick parts"
    )
    assert ("Mrs. Bennet", "wife") in relations(by_name(cast, "Mr. Bennet"))
    assert by_name(cast, "Lydia").description.startswith("Lydia was a stout, well-grown girl")
    assert ("Mr. Collins", "husband") in relations(by_name(cast, "Charlotte Lucas"))
    assert by_name(cast, "Mr. Collins").description.startswith("Mr. Collins was not a sensible man")
    for profile in cast.characters:
        assert profile.description, profile.name
        assert profile.first_appearance["quote"], profile.name


def test_alice_cast():
    cast = cast_of("alice-in-wonderland.txt")
    names = [c.name for c in cast.characters[:16]]
    assert names[0] == "Alice"
    assert {"Hatter", "Gryphon", "Dormouse", "Caterpillar", "Queen", "King"} <= set(names)
    assert "Duchess" in names
    assert {"Mock Turtle", "March Hare", "White Rabbit"} <= set(names)  # two-word names
    assert "Bill" in names  # "Bill" the Lizard, not "William"
    assert not {"Soup", "Hearts", "Majesty"} & {c.name for c in cast.characters}


def test_frankenstein_cast_names_the_unnamed_and_skips_places():
    cast = cast_of("frankenstein.txt")
    names = {c.name for c in cast.characters}
    monster = by_name(cast, "the monster")  # never named: "the fiend", "the dæmon", "the creature"
    assert {"the fiend", "the creature"} <= set(monster.aliases) and monster.role == "main"
    assert {"Elizabeth Lavenza", "Henry Clerval", "Justine Moritz", "Victor", "Felix"} <= names
    assert not {"Geneva", "England", "Switzerland", "Paris", "Arabian"} & names
    assert {"Geneva", "Ingolstadt"} <= set(cast.locations)
    assert by_name(cast, "M. Krempe").description.startswith("M. Krempe was a little squat man")


def test_metamorphosis_family():
    cast = cast_of("metamorphosis.txt")
    assert [c.name for c in cast.characters[:2]] == ["Gregor", "the chief clerk"]
    gregor = by_name(cast, "Gregor")
    assert {("Mr. Samsa", "father"), ("Mrs. Samsa", "mother")} <= relations(gregor)
    assert ("Gregor", "son") in relations(by_name(cast, "Mr. Samsa"))
    assert "the three gentlemen" in {c.name for c in cast.characters}


def chapters_of(*texts: str) -> tuple[str, list[Chapter]]:
    body, chapters, start = "", [], 0
    for number, text in enumerate(texts, start=1):
        chapters.append(Chapter(number, f"Chapter {number}", start, start + len(text), text))
        body += text + "\n\n"
        start = len(body)
    return body, chapters


SYNTHETIC = (
    "Mr. Harding had lived at Combe all his life. Mr. Harding was a tall, stern man of fifty, "
    "proud and reserved, with a grave face. His wife, Mrs. Harding, was gentle and kind.\n\n"
    "Mr. Harding's daughter, Rose, came in from the garden. Rose was a lively girl of nineteen; "
    "she had a cheerful, generous temper. She kissed her mother.\n\n"
    "\u201cRose is not a bit better than the others,\u201d said Mr. Harding. \u201cRose, come "
    "here.\u201d\n\n"
    "Rose laughed at her father. Tom Ashby, her cousin, arrived at Combe that evening with his "
    "dog. Tom was shy and awkward; he said nothing at first. Then Tom smiled at her, and she "
    "smiled back.",
    "Rose walked with Tom to the village, and Tom carried her basket. Later Tom told Rose a "
    "story, and Rose laughed. Mr. Harding said that Rose was wild. Mrs. Harding looked at Rose "
    "and at Tom. Tom Ashby, Rose's cousin, stayed for dinner. Tom said goodbye to Rose at the "
    "gate; Tom was going home. Rose said she was happy. Mrs. Harding, Mr. Harding's wife, said "
    "goodbye too. Rose was at Combe again the next day, and she was sorry.",
)


def test_a_small_synthetic_story():
    cast = extract_cast(*chapters_of(*SYNTHETIC))
    people = {c.name: c for c in cast.characters}
    assert {"Rose", "Mr. Harding", "Mrs. Harding", "Tom"} <= set(people)
    assert "Tom Ashby" in people["Tom"].aliases
    assert "Combe" not in people and "Combe" in cast.locations
    rose, father = people["Rose"], people["Mr. Harding"]
    # Described by the narrator, not by her father's words.
    assert rose.description.startswith("Rose was a lively girl of nineteen")
    assert "not a bit better" not in rose.description
    assert {"lively", "cheerful", "generous"} <= set(rose.personality_traits)
    assert {"tall", "stern", "proud", "reserved"} <= set(father.personality_traits)
    assert father.description.startswith("Mr. Harding was a tall, stern man of fifty")
    assert ("Rose", "daughter") in relations(father)
    assert ("Mr. Harding", "father") in relations(rose)
    assert ("Mrs. Harding", "wife") in relations(father)
    assert ("Mr. Harding", "husband") in relations(people["Mrs. Harding"])
    assert ("Rose", "cousin") in relations(people["Tom"])
    assert {"shy", "awkward"} <= set(people["Tom"].personality_traits)
    assert people["Tom"].first_appearance == {
        "chapter": 1,
        "chapter_title": "Chapter 1",
        "quote": "Tom Ashby, her cousin, arrived at Combe that evening with his dog.",
    }
    assert rose.gender == "female" and father.gender == "male"

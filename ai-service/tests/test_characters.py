"""The cast found in the text itself (no large model)."""

from __future__ import annotations

from pathlib import Path

from gaji_ai.ingestion.characters import extract_cast
from gaji_ai.ingestion.text import decode, split_chapters, strip_gutenberg

NOVELS = Path(__file__).resolve().parents[2] / "data" / "novels"


def cast_of(name: str):
    document = strip_gutenberg(decode((NOVELS / name).read_bytes()))
    return extract_cast(document.body, split_chapters(document.body))


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


def test_alice_cast():
    cast = cast_of("alice-in-wonderland.txt")
    names = [c.name for c in cast.characters[:10]]
    assert names[0] == "Alice"
    assert {"Hatter", "Gryphon", "Dormouse", "Caterpillar"} <= set(names)

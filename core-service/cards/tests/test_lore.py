"""Lore activation: which lorebook entries fire on a turn (cards.lore)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cards import lore
from cards.formats import read_lorebook
from cards.lore import BookRef, select_entries

FIXTURES = Path(__file__).parent / "fixtures"


def entry(content: str = "Lore.", **fields) -> dict:
    return {
        "keys": [],
        "content": content,
        "extensions": {},
        "enabled": True,
        "insertion_order": 100,
        **fields,
    }


def book(*entries: dict, **fields) -> BookRef:
    return BookRef(book_id="b1", name="Book", book={"entries": list(entries), **fields})


def fired(entries_or_book, messages, **kwargs) -> list[str]:
    ref = entries_or_book if isinstance(entries_or_book, BookRef) else book(*entries_or_book)
    return [f.content for f in select_entries([ref], messages, **kwargs)]


# -- keys ------------------------------------------------------------------


def test_key_fires_and_reports_why():
    (f,) = select_entries([book(entry("Dragons fly.", keys=["dragon"], id=9, name="Dragons"))], ["A DRAGON!"])
    assert (f.book_id, f.book_name, f.entry_id, f.name) == ("b1", "Book", "9", "Dragons")
    assert (f.content, f.reason, f.position, f.insertion_order, f.priority) == (
        "Dragons fly.",
        "key: dragon",
        "before_char",
        100,
        0,
    )


def test_no_key_no_fire():
    assert fired([entry(keys=["dragon"])], ["a quiet day"]) == []
    assert fired([entry(keys=["dragon"])], []) == []


def test_scan_depth_default_is_four_newest():
    e = entry(keys=["dragon"])
    assert fired([e], ["dragon", "a", "b", "c", "d"]) == []
    assert fired([e], ["dragon", "b", "c", "d"]) == ["Lore."]
    assert fired(book(e, scan_depth=1), ["dragon", "d"]) == []
    assert fired(book(e, scan_depth=1), ["d", "dragon"]) == ["Lore."]
    assert fired(book(e, scan_depth=0), ["dragon"]) == []


def test_world_info_entry_scan_depth_overrides_the_book():
    e = entry(keys=["dragon"], extensions={"scan_depth": 1})
    assert fired([e], ["dragon", "x"]) == []


def test_case_sensitivity():
    assert fired([entry(keys=["Rome"])], ["rome"]) == ["Lore."]
    assert fired([entry(keys=["Rome"], case_sensitive=True)], ["rome"]) == []
    assert fired([entry(keys=["Rome"], case_sensitive=True)], ["Rome"]) == ["Lore."]
    assert fired([entry(keys=["Rome"], extensions={"case_sensitive": True})], ["rome"]) == []


def test_whole_words():
    assert fired([entry(keys=["cat"])], ["a category"]) == []
    assert fired([entry(keys=["cat"])], ["the cat, sat"]) == ["Lore."]
    assert fired([entry(keys=["cat"], extensions={"match_whole_words": False})], ["category"]) == ["Lore."]
    assert fired([entry(keys=["old town"])], ["the Old Town square"]) == ["Lore."]
    # scripts without spaces (or with particles) still match
    assert fired([entry(keys=["철수"])], ["철수는 웃었다"]) == ["Lore."]
    assert fired([entry(keys=["東京"])], ["東京に行く"]) == ["Lore."]


def test_regex_keys_need_use_regex():
    e = entry(keys=["/drag(on|ons)\\b/i"], use_regex=True)
    assert fired([e], ["Two DRAGONS"]) == ["Lore."]
    assert fired([entry(keys=["/drag(on|ons)\\b/i"])], ["Two dragons"]) == []
    assert fired([entry(keys=["/drag(on|ons)/"])], ["say /drag(on|ons)/ aloud"]) == ["Lore."]  # plain text
    assert fired([entry(keys=["/Dragon/"], use_regex=True)], ["dragon"]) == []  # no i flag


def test_bad_regex_keys_are_ignored():
    bad = ["/([unclosed/i", "/x/q", "/" + "a" * 501 + "/", "/(a+)+$/", "/(x*)*y/"]
    e = entry(keys=[*bad, "fallback"], use_regex=True)
    start = time.monotonic()
    assert fired([entry(keys=bad, use_regex=True)], ["a" * 40 + "b" + " [unclosed x"]) == []
    assert fired([e], ["a" * 40 + " fallback"]) == ["Lore."]
    assert time.monotonic() - start < 1


def test_regex_flags():
    assert fired([entry(keys=["/^king$/m"], use_regex=True)], ["hail\nking\nof all"]) == ["Lore."]
    assert fired([entry(keys=["/^king$/"], use_regex=True)], ["hail\nking\nof all"]) == []
    assert fired([entry(keys=["/a.b/s"], use_regex=True)], ["a\nb"]) == ["Lore."]
    assert fired([entry(keys=["/a.b/"], use_regex=True)], ["a\nb"]) == []
    assert fired([entry(keys=["/ÉLAN/iu"], use_regex=True)], ["son élan"]) == ["Lore."]


@pytest.fixture
def no_timed_out(monkeypatch):
    monkeypatch.setattr(lore, "_TIMED_OUT", set(), raising=False)


HOSTILE_TEXT = "a" * 9_000 + "!" + ("a" * 40 + "!") * 20  # a long run, then short ones


@pytest.mark.parametrize("text", [HOSTILE_TEXT, "a" * 40 + "!"])
def test_catastrophic_regex_keys_give_up_and_do_not_fire(no_timed_out, text):
    # Each backtracks for hours under Python's re: these return (a hang fails the test).
    hostile = ["/((a)+)+$/", "/(a|a)*$/", "/a*a*a*a*a*a*b/", "/(a+)+$/i"]
    entries = [entry(f"Bomb {i}.", keys=[key], use_regex=True) for i, key in enumerate(hostile)]
    normal = entry("Dragons.", keys=["/drag(on|ons)\\b/i"], use_regex=True)
    assert fired([*entries, normal], [text, "Two DRAGONS"]) == ["Dragons."]
    assert fired([*entries, normal], [text, "Two DRAGONS"]) == ["Dragons."]  # again, quickly
    assert fired([entry(keys=["/dragon/i"], use_regex=True)], ["Two DRAGONS"]) == ["Lore."]


def test_a_regex_key_that_timed_out_is_skipped_from_then_on(no_timed_out):
    e = entry(keys=["/(a|a)*$|dragon/"], use_regex=True)
    assert fired([e], ["a" * 9_000 + "!"]) == []  # out of time
    assert fired([e], ["a dragon"]) == []  # would match at once, but it is skipped now
    assert fired([entry(keys=["/(a|a)*$|dragon/i"], use_regex=True)], ["a dragon"]) == ["Lore."]


def test_regex_keys_share_a_budget_per_call_and_plain_keys_do_not(no_timed_out, monkeypatch):
    # Twelve different hostile keys take 50 ms each: past the call's 300 ms the rest are skipped.
    bombs = [entry(f"Bomb {i}.", keys=[f"/(a|a)*$(?#{i})/"], use_regex=True) for i in range(12)]
    regex_key = entry("By regex.", keys=["/dragon/"], use_regex=True)
    plain_key = entry("By word.", keys=["dragon"], use_regex=True)
    assert fired([*bombs, regex_key, plain_key], ["a" * 9_000 + "! dragon"]) == ["By word."]
    monkeypatch.setattr(lore, "REGEX_CALL_SECONDS", 0)
    assert fired([regex_key, plain_key], ["dragon"]) == ["By word."]
    monkeypatch.setattr(lore, "REGEX_CALL_SECONDS", 0.3)
    assert fired([regex_key, plain_key], ["dragon"]) == ["By regex.", "By word."]


def test_regex_keys_with_big_fixed_repeats_are_ignored():
    # The regex module copies x{m} m times when compiling: ((.{100}){100}){100} takes 300 MB.
    text = ["x" * 3_000]
    assert fired([entry(keys=["/(.{10}){10}/"], use_regex=True)], text) == ["Lore."]
    assert fired([entry(keys=["/.{0,2999}x/"], use_regex=True)], text) == ["Lore."]  # ranges are fine
    for key in ("/(.{50}){50}/", "/((.{100}){100}){100}/", "/(?x)(. {3}){3}/"):
        assert fired([entry(keys=[key], use_regex=True)], text) == []


def test_selective_needs_a_secondary_key():
    e = entry(keys=["king"], selective=True, secondary_keys=["crown", "throne"])
    assert fired([e], ["the king"]) == []
    assert fired([e], ["the king on his throne"]) == ["Lore."]
    assert fired([dict(e, selective=False)], ["the king"]) == ["Lore."]
    assert fired([dict(e, secondary_keys=[])], ["the king"]) == ["Lore."]


def test_world_info_selective_logic():
    def logic(n: int, text: str) -> list[str]:
        e = entry(
            keys=["king"],
            selective=True,
            secondary_keys=["crown", "throne"],
            extensions={"selectiveLogic": n},
        )
        return fired([e], [text])

    both, one, none = "king crown throne", "king crown", "king"
    assert (logic(0, both), logic(0, one), logic(0, none)) == (["Lore."], ["Lore."], [])  # AND_ANY
    assert (logic(1, both), logic(1, one), logic(1, none)) == ([], ["Lore."], ["Lore."])  # NOT_ALL
    assert (logic(2, both), logic(2, one), logic(2, none)) == ([], [], ["Lore."])  # NOT_ANY
    assert (logic(3, both), logic(3, one), logic(3, none)) == (["Lore."], [], [])  # AND_ALL


def test_a_world_info_entry_without_selective_is_selective():
    def world_info(**fields) -> BookRef:
        wi = {"entries": {"0": {"uid": 0, "key": ["king"], "keysecondary": ["crown"], "content": "Lore."}}}
        wi["entries"]["0"].update(fields)
        return BookRef("wi", "WI", read_lorebook(json.dumps(wi).encode()).book)

    assert fired(world_info(), ["the king"]) == []  # SillyTavern's default: selective
    assert fired(world_info(), ["the king's crown"]) == ["Lore."]
    assert fired(world_info(selective=True), ["the king"]) == []
    assert fired(world_info(selective=False), ["the king"]) == ["Lore."]
    # a card book's entry without `selective` is not selective (Character Card V2/V3)
    assert fired([entry(keys=["king"], secondary_keys=["crown"])], ["the king"]) == ["Lore."]


def test_v3_use_regex_ignores_secondary_keys_unless_world_info():
    e = entry(keys=["king"], selective=True, secondary_keys=["crown"], use_regex=True)
    assert fired([e], ["the king"]) == ["Lore."]
    wi = dict(e, extensions={"selectiveLogic": 0})
    assert fired([wi], ["the king"]) == []


# -- constant, enabled, content ---------------------------------------------


def test_constant_always_fires_and_disabled_never():
    assert [f.reason for f in select_entries([book(entry(constant=True))], [])] == ["constant"]
    assert fired([entry(constant=True, enabled=False)], []) == []
    assert fired([entry(keys=["x"], enabled=False)], ["x"]) == []
    assert fired([entry("@@activate\nLore.", enabled=False)], []) == []


def test_content_added_once_and_empty_content_adds_nothing():
    assert fired([entry(keys=["a", "b"])], ["a b a b"]) == ["Lore."]
    ref = book(entry(keys=["a"]))
    assert [f.content for f in select_entries([ref, ref], ["a"])] == ["Lore."]
    assert fired([entry("", keys=["a"]), entry("  \n", constant=True), entry("@@activate\n")], ["a"]) == []


def test_junk_never_breaks_selection():
    refs = [
        BookRef("x", "X", {"entries": "nope"}),
        BookRef(
            "y",
            "Y",
            {"entries": [None, 3, {"keys": "a", "content": 5}, {"keys": [1, None], "content": "ok"}]},
        ),
        BookRef("z", "Z", {"scan_depth": "deep", "token_budget": "big", "entries": [entry(constant=True)]}),
        BookRef(
            "w",
            "W",
            {
                "entries": [
                    {"keys": "abc", "content": "no"},
                    {"keys": ["a"], "content": "ok", "position": [1]},
                ]
            },
        ),
    ]
    assert [(f.book_id, f.content, f.position) for f in select_entries(refs, ["a", None])] == [
        ("z", "Lore.", "before_char"),
        ("w", "ok", "before_char"),
    ]


# -- decorators ------------------------------------------------------------


def test_activate_and_dont_activate():
    (f,) = select_entries([book(entry("@@activate\nAlways here."))], ["nothing"])
    assert (f.content, f.reason) == ("Always here.", "decorator: @@activate")
    assert fired([entry("@@dont_activate\nNever.", constant=True, keys=["x"])], ["x"]) == []


def test_exclude_and_additional_keys():
    e = entry("@@additional_keys puzzle, enigma\n@@exclude_keys answer\nRiddles.", keys=["riddle"])
    assert fired([e], ["an enigma"]) == ["Riddles."]
    assert fired([e], ["a riddle"]) == ["Riddles."]
    assert fired([e], ["the riddle's answer"]) == []
    assert [f.reason for f in select_entries([book(e)], ["a puzzle"])] == ["key: puzzle"]


def test_activate_only_after_and_every():
    after = entry("@@activate_only_after 3\nLate.", constant=True)
    assert fired([after], [], turn=2) == []
    assert fired([after], [], turn=3) == ["Late."]
    every = entry("@@activate_only_every 3\nSometimes.", constant=True)
    assert [t for t in range(7) if fired([every], [], turn=t)] == [0, 3, 6]


def test_position_from_entry_and_decorator():
    def position(e: dict) -> str:
        return select_entries([book(e)], [])[0].position

    assert position(entry(constant=True, position="after_char")) == "after_char"
    assert position(entry(constant=True, position="somewhere")) == "before_char"
    assert position(entry("@@position after_desc\nX", constant=True)) == "after_char"
    assert position(entry("@@position before_desc\nX", constant=True, position="after_char")) == "before_char"


def test_unknown_decorators_are_ignored_and_fallbacks_used():
    e = entry("@@depth 2\n@@future_thing 7\nBody.", constant=True)
    assert fired([e], []) == ["Body."]
    fallback = entry("@@unknown_position top\n@@@position after_desc\nBody.", constant=True)
    assert select_entries([book(fallback)], [])[0].position == "after_char"
    # a supported decorator wins over its fallback
    chained = entry("@@position before_desc\n@@@position after_desc\nBody.", constant=True)
    assert select_entries([book(chained)], [])[0].position == "before_char"


def test_decorator_lines_never_reach_the_prompt():
    e = entry("@@activate\n@@@dont_activate\n@@depth 3\nClean text.\nSecond line.")
    assert fired([e], []) == ["Clean text.\nSecond line."]


# -- budget and order ------------------------------------------------------


def test_budget_drops_lowest_priority_first_then_lowest_order():
    entries = [
        entry("A" * 40, constant=True, priority=1, insertion_order=1, id="a"),  # 10 tokens
        entry("B" * 40, constant=True, priority=5, insertion_order=2, id="b"),
        entry("C" * 40, constant=True, priority=5, insertion_order=3, id="c"),
        entry("D" * 40, constant=True, priority=9, insertion_order=0, id="d"),
    ]
    ids = lambda budget: [f.entry_id for f in select_entries([book(*entries)], [], budget_tokens=budget)]  # noqa: E731
    assert ids(40) == ["d", "a", "b", "c"]  # all fit, in insertion order
    assert ids(30) == ["d", "b", "c"]  # lowest priority dropped
    assert ids(20) == ["d", "c"]  # then the lower insertion_order among equals
    assert ids(9) == []


def test_book_token_budget_when_smaller():
    entries = [entry("x" * 40, constant=True, priority=p, id=str(p)) for p in (1, 2, 3)]  # 10 tokens each
    small = BookRef("b1", "Small", {"token_budget": 20, "entries": entries})
    big = BookRef("b2", "Big", {"token_budget": 1000, "entries": entries})
    assert [f.entry_id for f in select_entries([small], [], budget_tokens=100)] == ["2", "3"]
    assert [f.entry_id for f in select_entries([big], [], budget_tokens=30)] == ["1", "2", "3"]
    both = select_entries([small, big], [], budget_tokens=40)
    assert [(f.book_id, f.entry_id) for f in both] == [("b1", "2"), ("b1", "3"), ("b2", "2"), ("b2", "3")]


def test_custom_token_counter_and_sorted_output():
    entries = [
        entry("one", constant=True, insertion_order=30),
        entry("two", constant=True, insertion_order=-5),
    ]
    assert fired(entries, [], count_tokens=len, budget_tokens=100) == ["two", "one"]
    assert fired(entries, [], count_tokens=len, budget_tokens=3) == ["one"]


# -- a real file -----------------------------------------------------------


def test_world_info_file_fires_as_sillytavern_would():
    ref = BookRef("wi", "Eldoria", read_lorebook((FIXTURES / "worldinfo.json").read_bytes()).book)
    found = {f.name: f for f in select_entries([ref], ["We reached the Capital City; the king waits."])}
    assert found["The capital"].reason == "key: /capital city/i"
    assert found["The capital"].position == "before_char"
    assert "Dragons, not about eggs" not in found
    dragons = select_entries([ref], ["a dragon!"])
    assert [f.name for f in dragons] == ["Dragons, not about eggs"]
    assert dragons[0].position == "after_char"
    assert select_entries([ref], ["a dragon egg"]) == []  # NOT_ANY
    assert "The world is old." not in [f.content for f in select_entries([ref], [])]  # disabled constant


def test_v3_card_book_fires_with_decorators():
    card = json.loads((FIXTURES / "v3_card.json").read_text())
    ref = BookRef("card", "Gate lore", card["data"]["character_book"])
    assert fired(ref, ["the Ninth  Gate"], turn=1) == []  # @@activate_only_after 2
    (f,) = select_entries([ref], ["the Ninth  Gate"], turn=2)
    # @@depth is not supported here, so its fallback @@@position after_desc applies
    assert (f.content, f.position) == ("The ninth gate opens only at dusk.", "after_char")
    assert fired(ref, ["what an enigma"]) == ["Kaelen's riddles have no wrong answers."]

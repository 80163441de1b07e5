"""The grounded prompt: the what-if brief in plain language, the stable part
first, passages with the last turn, and the whole within the token budget
(counted with the real local model's tokenizer)."""

from __future__ import annotations

import pytest

from gaji_ai.generation.prompt import (
    NARRATOR,
    PASSAGES_HEADER,
    Persona,
    Turn,
    build_messages,
    build_prompt,
    condense,
    render_brief,
)
from gaji_ai.llm.providers import LocalProvider


@pytest.fixture(scope="module")
def count_tokens():
    return LocalProvider(n_ctx=512).count_tokens


def test_briefs_in_plain_language():
    assert (
        render_brief(
            "CHARACTER_CHANGE",
            {
                "character": "Hermione",
                "property": "house",
                "original_value": "Gryffindor",
                "new_value": "Slytherin",
                "change_point": "the Sorting",
                "ripple_effects": ["new friends"],
            },
        )
        == "What if Hermione's house were Slytherin instead of Gryffindor, "
        "starting at the Sorting? It led to: new friends."
    )
    event = render_brief(
        "EVENT_ALTERATION",
        {
            "event": "Mr. Collins's proposal",
            "alteration_type": "outcome_change",
            "new_outcome": "Elizabeth accepts",
            "original_outcome": "she refuses",
            "affected_characters": ["Elizabeth", "Charlotte"],
        },
    )
    assert event.startswith(
        "What if Mr. Collins's proposal ended differently? Now: Elizabeth accepts."
    )
    assert "she refuses" in event and "Elizabeth, Charlotte" in event
    setting = render_brief(
        "SETTING_MODIFICATION",
        {
            "setting_element": "magic_system",
            "scope": "global",
            "change_description": "spells need contracts",
            "impact_level": "major",
        },
    )
    assert "magic system" in setting and "spells need contracts" in setting
    assert render_brief("UNKNOWN", {}) == "What if the story went differently?"


def base(**overrides):
    args = {
        "story": "Pride and Prejudice",
        "brief": "What if Elizabeth accepted Mr. Collins?",
        "persona": Persona("Elizabeth Bennet", "The second Bennet daughter.", ("witty", "proud")),
        "passages": ["Mr. Collins was not a sensible man.", "Charlotte accepted him."],
        "history": [Turn("user", "Hello"), Turn("assistant", "Good day.")],
        "user_message": "Are you happy at Hunsford?",
        "budget": 400,
    }
    args.update(overrides)
    return args


def test_stable_part_first_passages_with_the_last_turn(count_tokens):
    messages = build_messages(count_tokens=count_tokens, **base())
    assert messages[0].role == "system" and "Elizabeth Bennet" in messages[0].content
    assert "accepted Mr. Collins" in messages[0].content and "witty, proud" in messages[0].content
    assert [m.content for m in messages[1:3]] == ["Hello", "Good day."]
    assert messages[-1].role == "user"
    assert "[1] Mr. Collins was not a sensible man." in messages[-1].content
    assert "Reader: Are you happy at Hunsford?" in messages[-1].content
    # The premise comes before the passages (system) and is restated last.
    assert messages[-1].content.endswith(
        "Answer as Elizabeth Bennet, in the first person, in a few sentences, "
        "keeping to the what-if: What if Elizabeth accepted Mr. Collins?"
    )
    assert messages[-1].content.index("[1]") < messages[-1].content.index("Reader:")
    # The system prompt does not change with the message: llama.cpp can reuse it.
    other = build_messages(
        count_tokens=count_tokens, **base(user_message="And Charlotte?", passages=[])
    )
    assert other[0].content == messages[0].content


def test_long_histories_are_trimmed_oldest_first_keeping_the_first_exchange(count_tokens):
    history = [
        Turn("user" if i % 2 == 0 else "assistant", f"Turn number {i} " + "words " * 30)
        for i in range(40)
    ]
    messages = build_messages(count_tokens=count_tokens, **base(history=history, budget=600))
    total = sum(count_tokens(m.content) + 8 for m in messages)
    assert total <= 600
    kept = [m.content for m in messages[1:-1]]
    assert kept[0].startswith("Turn number 0") and kept[1].startswith("Turn number 1")
    assert kept[-1].startswith("Turn number 39")  # the most recent survive
    assert len(kept) < 40


def test_passages_give_way_before_the_budget_breaks(count_tokens):
    passages = ["A long passage. " * 80] * 5
    messages = build_messages(count_tokens=count_tokens, **base(passages=passages, budget=500))
    assert sum(count_tokens(m.content) + 8 for m in messages) <= 500


def test_a_budget_too_small_for_the_message_is_an_error(count_tokens):
    with pytest.raises(ValueError):
        build_messages(count_tokens=count_tokens, **base(budget=20))


PASSAGE = (
    "It was a dull morning at Longbourn. Mrs. Bennet complained of her nerves. "
    "Mr. Collins proposed to Elizabeth in the breakfast parlour. Kitty coughed. "
    "Elizabeth refused him with great firmness. The weather did not improve."
)


def test_condense_keeps_the_most_related_sentences_in_order(count_tokens):
    proposal = "Mr. Collins proposed to Elizabeth in the breakfast parlour."
    refusal = "Elizabeth refused him with great firmness."
    budget = count_tokens(proposal) + count_tokens(refusal) + 2
    short = condense(
        PASSAGE, "Why did Elizabeth refuse Mr. Collins?", count_tokens=count_tokens, budget=budget
    )
    assert short == f"{proposal} {refusal}"  # "Mr." does not end a sentence
    # With room to spare, unrelated sentences fill it, still in their order.
    roomy = condense(PASSAGE, "Elizabeth?", count_tokens=count_tokens, budget=1000)
    assert roomy == PASSAGE.strip()


def test_passages_keep_to_their_own_budget(count_tokens):
    passages = [PASSAGE * 3, "Charlotte accepted him.", "Another passage entirely."]
    messages = build_messages(
        count_tokens=count_tokens,
        **base(
            passages=passages,
            budget=1500,
            user_message="Why did Elizabeth refuse Mr. Collins?",
        ),
        grounding_tokens=60,
    )
    final = messages[-1].content
    quoted = final.split(f"{PASSAGES_HEADER}\n")[1].split("\n\nReader:")[0]
    assert quoted.startswith("[1] ") and "[2]" not in quoted  # condensed, then no room
    assert "refused him" in quoted and "weather" not in quoted
    assert count_tokens(quoted) <= 60
    # Without the cap, whole passages fit this budget.
    roomy = build_messages(count_tokens=count_tokens, **base(passages=passages[1:], budget=1500))
    assert "[2] Another passage entirely." in roomy[-1].content


def test_the_premise_is_restated_at_the_end_and_the_persona_speaks_in_the_first_person(
    count_tokens,
):
    messages = build_messages(
        count_tokens=count_tokens, **base(premise="What if Jane married Bingley at once?")
    )
    assert 'in the first person ("I", "me", "my")' in messages[0].content
    assert messages[0].content.index("You are Elizabeth Bennet") < messages[0].content.index(
        "what-if"
    )
    assert messages[-1].content.endswith(
        "keeping to the what-if: What if Jane married Bingley at once?"
    )


def test_the_narrator_narrates_in_the_third_person(count_tokens):
    messages = build_messages(count_tokens=count_tokens, **base(persona=Persona(NARRATOR)))
    assert messages[0].content.startswith("You are the narrator.")
    assert "third person" in messages[0].content
    assert "as the narrator" in messages[-1].content


def test_other_speakers_lines_of_the_turn_come_before_the_instruction(count_tokens):
    messages = build_messages(
        count_tokens=count_tokens, **base(scene=["Mr. Darcy: I find her tolerable."])
    )
    final = messages[-1].content
    assert final.index("Reader: Are you happy") < final.index("Mr. Darcy: I find her tolerable.")
    assert final.index("Mr. Darcy: I find") < final.index("Answer as Elizabeth Bennet")


def test_a_scene_going_on_by_itself_has_no_reader_line(count_tokens):
    history = [Turn("user", "Reader: Shall we walk?"), Turn("user", "Mr. Darcy: If you wish.")]
    messages = build_messages(count_tokens=count_tokens, **base(user_message="", history=history))
    # Someone else's lines last: they join the final message, so turns alternate.
    assert [m.role for m in messages] == ["system", "user"]
    final = messages[-1].content
    assert "Reader: Shall we walk?\n\nMr. Darcy: If you wish." in final
    assert "\nReader: \n" not in final and final.rstrip().endswith(
        "What if Elizabeth accepted Mr. Collins?"
    )
    assert "Continue the scene as Elizabeth Bennet" in final


def test_consecutive_lines_of_one_role_are_one_message(count_tokens):
    history = [
        Turn("user", "Reader: Hello"),
        Turn("user", "Mr. Darcy: Good day."),
        Turn("assistant", "Good day to you both."),
    ]
    messages = build_messages(count_tokens=count_tokens, **base(history=history))
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1].content == "Reader: Hello\n\nMr. Darcy: Good day."


def test_sections_label_every_part_with_its_tokens(count_tokens):
    built = build_prompt(count_tokens=count_tokens, **base())
    names = [s.name for s in built.sections]
    assert names == ["persona", "brief", "history", "lore", "memory", "passages", "message"]
    by_name = {s.name: s for s in built.sections}
    assert "[1] Mr. Collins was not a sensible man." in by_name["passages"].text
    assert "[2] Charlotte accepted him." in by_name["passages"].text
    assert by_name["history"].text == "Hello\n\nGood day."
    assert by_name["message"].text.startswith("Reader: Are you happy at Hunsford?")
    assert "accepted Mr. Collins" in by_name["brief"].text
    for section in built.sections:
        assert section.tokens == count_tokens(section.text)
    # Every section's text is in the messages the model received.
    sent = "\n".join(m.content for m in built.messages)
    assert all(s.text in sent for s in built.sections if s.name != "history")
    assert [m.content for m in built.messages[1:-1]] == ["Hello", "Good day."]

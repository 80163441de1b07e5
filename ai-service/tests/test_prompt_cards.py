"""A character from a Character Card speaks with its card's texts, and the
lorebook entries core chose reach the prompt within the window: the `lore`
section, and the prompt record says which entries made it."""

from __future__ import annotations

import uuid

from chat_support import FakeCore, Scripted, request, run_turn
from gaji_contracts.conversations import CardPersona, LoreEntry, PlannedAnswer, Speaker

from gaji_ai.generation.prompt import LORE_HEADER, READER, Persona, Turn, build_prompt
from gaji_ai.generation.task import TurnTask, ungrounded
from gaji_ai.llm import registry


def words(text: str) -> int:
    return len(text.split())


def card_persona(**overrides) -> Persona:
    fields = {
        "name": "Captain Vane",
        "nickname": "the Captain",
        "description": "{{char}} commands the Sparrow. She distrusts <USER> at first.",
        "personality": "Blunt, loyal to {{USER}}'s crew.",
        "scenario": "{{char}} and {{user}} are becalmed off Hunsford.",
    }
    fields.update(overrides)
    return Persona(**fields)


def built(persona: Persona, **overrides):
    args = {
        "story": "Pride and Prejudice",
        "brief": "What if a privateer anchored at Meryton?",
        "persona": persona,
        "passages": [],
        "history": [Turn("user", "Hello")],
        "user_message": "Who are you?",
        "count_tokens": words,
        "budget": 2000,
        "reader": "Lizzy",
    }
    args.update(overrides)
    return build_prompt(**args)


def test_a_card_persona_brings_its_texts_with_macros_replaced():
    system = built(card_persona()).messages[0].content
    assert (
        "About Captain Vane: the Captain commands the Sparrow. She distrusts Lizzy at first."
        in system
    )
    assert "Personality: Blunt, loyal to Lizzy's crew." in system
    assert "Scenario: the Captain and Lizzy are becalmed off Hunsford." in system
    assert "{{" not in system and "<USER>" not in system


def test_a_cards_system_prompt_replaces_ours_and_original_inserts_it():
    ours = built(card_persona()).messages[0].content
    replaced = (
        built(card_persona(system_prompt="Speak like a pirate, {{char}}.")).messages[0].content
    )
    assert replaced.startswith("Speak like a pirate, the Captain.")
    assert "Speak only as Captain Vane" not in replaced
    wrapped = (
        built(card_persona(system_prompt="{{original}}\nNever break character."))
        .messages[0]
        .content
    )
    assert "Speak only as Captain Vane" in wrapped and "Never break character." in wrapped
    assert ours != wrapped


def test_post_history_instructions_replace_the_final_instruction():
    plain = built(card_persona()).messages[-1].content
    assert plain.endswith("keeping to the what-if: What if a privateer anchored at Meryton?")
    custom = built(card_persona(post_history="Reply to {{user}} in one line. {{original}}"))
    final = custom.messages[-1].content
    assert "Reply to Lizzy in one line. Answer as Captain Vane" in final


def test_a_cards_long_texts_are_cut_in_the_prompt():
    persona = card_persona(description="word " * 10_000)
    system = built(persona).messages[0].content
    assert len(system) < 3_000


def test_lore_goes_in_the_final_message_and_its_own_section():
    prompt = built(
        Persona("Elizabeth Bennet"),
        lore=["Longbourn is the Bennets' house.", "{{user}} is a guest."],
    )
    final = prompt.messages[-1].content
    assert f"{LORE_HEADER}\nLongbourn is the Bennets' house.\nLizzy is a guest." in final
    assert final.index(LORE_HEADER) < final.index("Lizzy: Who are you?")
    assert LORE_HEADER not in prompt.messages[0].content  # the system prompt stays reusable
    section = {s.name: s for s in prompt.sections}["lore"]
    assert "Longbourn" in section.text and section.tokens > 0
    assert prompt.lore_kept == [0, 1]


def test_lore_that_does_not_fit_is_left_out_in_order():
    big = "lore " * 400
    prompt = built(
        Persona("Elizabeth Bennet"), lore=["Short fact.", big, "Another fact."], budget=600
    )
    assert prompt.lore_kept == [0, 2]
    assert big not in prompt.messages[-1].content
    assert {s.name: s for s in prompt.sections}["lore"].text.count("fact.") == 2


def test_no_lore_no_section_text():
    prompt = built(Persona("Elizabeth Bennet"))
    assert {s.name: s for s in prompt.sections}["lore"].text == ""
    assert LORE_HEADER not in prompt.messages[-1].content


def card_turn(**overrides):
    answer_id = uuid.uuid4()
    card = CardPersona(
        card_id=uuid.uuid4(),
        name="Captain Vane",
        description="{{char}} commands the Sparrow.",
        post_history_instructions="{{original}} Stay salty.",
    )
    answer = PlannedAnswer(
        message_id=answer_id,
        speaker=Speaker(kind="character", character_id=f"card:{card.card_id}", name="Captain Vane"),
        persona=card,
    )
    lore = [
        LoreEntry(
            book="Sea lore", name="Sparrow", content="The Sparrow is a brig.", reason="key: Sparrow"
        ),
        LoreEntry(book="Sea lore", name="Always", content="It is 1812.", reason="constant"),
    ]
    return request(assistant_message_id=answer_id, answers=[answer], lore=lore, **overrides)


async def test_a_card_character_and_lore_reach_the_model_and_the_record(env):
    settings, client, _ = env
    provider = registry._providers["main"] = Scripted(["Aye."])
    core = FakeCore()
    assert await run_turn(settings, card_turn(), redis_client=client, core=core) == "completed"
    system, final = provider.prompts[0][0].content, provider.prompts[0][-1].content
    assert "About Captain Vane: Captain Vane commands the Sparrow." in system
    assert final.endswith("Stay salty.") and "The Sparrow is a brig." in final
    record = core.saved[0].prompt
    assert [(e.name, e.reason) for e in record.lore] == [
        ("Sparrow", "key: Sparrow"),
        ("Always", "constant"),
    ]
    assert "It is 1812." in {s.name: s for s in record.sections}["lore"].text
    assert f"{READER}: Do you regret it?" in final


def test_the_card_persona_travels_with_the_task():
    turn = card_turn()
    payload = TurnTask(request=turn, grounding=ungrounded(turn)).model_dump(mode="json")
    task = TurnTask.parse(payload)
    persona = task.grounding.persona_of(0)
    assert persona.name == "Captain Vane" and persona.post_history == "{{original}} Stay salty."
    assert task.request.lore[0].content == "The Sparrow is a brig."

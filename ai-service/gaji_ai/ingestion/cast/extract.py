"""extract_cast: the steps of the cast extraction in order (see the package's docstring)."""

from __future__ import annotations

from collections import Counter

from gaji_ai.ingestion.cast.description import _describe
from gaji_ai.ingestion.cast.people import (
    _canonical_name,
    _clip,
    _display,
    _genders,
    _join_first_names_to_titles,
    _Mentions,
    _People,
    _unnamed,
)
from gaji_ai.ingestion.cast.profile import Cast, CharacterProfile
from gaji_ai.ingestion.cast.relations import _relationships
from gaji_ai.ingestion.cast.sentences import _runs, _sentences, _word_counts
from gaji_ai.ingestion.cast.traits import _traits
from gaji_ai.ingestion.text import Chapter


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

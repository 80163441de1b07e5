"""The branch's memory in a turn (gaji_contracts.memory).

Reading: each answer's prompt holds the entries its speaker may know (the
narrator knows all), taken in core's priority order until the memory
budget (`MEMORY_TOKENS`) is spent; summaries are left out once the history
the prompt shows reaches back as far as they do.

Writing, after the turn's answers are saved: the model is asked for
entries that follow a JSON schema (structured output); when it cannot give
valid ones (an error, JSON that does not follow the schema, nothing
usable) the rule writes them instead: an event per answer and the
relationships its words show. The reader's own words are kept by the rule
either way. When core asked for a fold, the model (else
the rule) writes the summary. Every entry says who wrote it."""

from __future__ import annotations

import logging
import re

from gaji_contracts.conversations import GenerationRequest, Speaker, SpeakerKind
from gaji_contracts.memory import (
    MAX_DRAFTS_PER_TURN,
    MAX_MEMORY_TEXT_CHARS,
    MODEL_DRAFTS,
    WORLD,
    FoldJob,
    MemoryContext,
    MemoryDraft,
    MemoryItem,
    MemoryKind,
    MemorySource,
    MemoryWrite,
    SummaryDraft,
    WrittenDraft,
    drafts_schema,
    knower_key,
)
from pydantic import BaseModel, Field, ValidationError

from gaji_ai.generation.prompt import READER, sentences
from gaji_ai.llm.providers import ChatMessage, LLMProvider, ProviderError

logger = logging.getLogger("gaji_ai.memory")
DRAFT_TOKENS = 224
SUMMARY_TOKENS = 200
SUMMARY_CHARS = 900


def speaker_key(speaker: Speaker) -> str | None:
    """The knower key of whoever speaks (None: the narrator, who knows all)."""
    if speaker.kind == SpeakerKind.NARRATOR:
        return None
    return knower_key(speaker.character_id, speaker.name)


def stance(value: int) -> str:
    if value >= 60:
        return "devoted"
    if value >= 20:
        return "warm"
    if value > -20:
        return "guarded"
    if value > -60:
        return "cold"
    return "hostile"


def line_of(item: MemoryItem) -> str:
    text = " ".join(item.text.split())
    if item.kind == MemoryKind.SUMMARY:
        return f"- Earlier: {text}"
    if item.kind == MemoryKind.RELATIONSHIP:
        value = item.value or 0
        return f"- {item.subject} toward {item.target}: {stance(value)} ({value:+d}). {text}"
    if item.kind == MemoryKind.CHARACTER_KNOWLEDGE and item.subject != WORLD:
        return f"- {item.subject} knows: {text}"
    if item.kind == MemoryKind.PIN or item.pinned:
        return f"- (pinned) {text}"
    return f"- {text}"


def known_lines(memory: MemoryContext | None, speaker: Speaker, *, history_from: int) -> list[str]:
    """The lines `speaker` may know, in core's priority order; summaries only
    of what lies before the history the prompt shows (`history_from`)."""
    if memory is None or not memory.enabled:
        return []
    key = speaker_key(speaker)
    lines = []
    for item in memory.entries:
        if not item.known_to(key):
            continue
        if item.kind == MemoryKind.SUMMARY and item.position >= history_from and item.position > 0:
            continue
        lines.append(line_of(item))
    return lines


# -- writing --------------------------------------------------------------------------


def _who(speaker: Speaker) -> str:
    return READER if speaker.kind == SpeakerKind.USER else speaker.name or "Narrator"


def turn_lines(request: GenerationRequest, spoken: list[tuple[Speaker, str]]) -> list[str]:
    lines = [f"{READER}: {request.user_message.strip()}"] if request.user_message.strip() else []
    lines += [f"{_who(s)}: {text.strip()}" for s, text in spoken if text.strip()]
    return lines


def draft_prompt(
    request: GenerationRequest, lines: list[str], names: list[str]
) -> list[ChatMessage]:
    cast = ", ".join(names) or "the characters"
    system = (
        "You keep the memory of an interactive story. From the latest exchange, write what "
        "should be remembered later: facts about the world or a character established here "
        "(fact), what happened (event), what a character has learnt (character_knowledge, "
        "subject = that character), and how one character's feelings toward another changed "
        "(relationship: subject, target, change from -30 to 30). Short sentences naming who. "
        f"Only what the exchange says; at most {MODEL_DRAFTS} entries. Characters in the scene: "
        f"{cast}."
    )
    story = request.brief or ""
    user = f"What-if: {story[:600]}\n\nLatest exchange:\n" + "\n".join(
        line[:1200] for line in lines
    )
    return [ChatMessage("system", system), ChatMessage("user", user)]


class _Summary(BaseModel):
    summary: str = Field(min_length=1, max_length=SUMMARY_CHARS)


SUMMARY_SCHEMA = {
    "type": "object",
    "properties": {"summary": {"type": "string", "minLength": 1, "maxLength": SUMMARY_CHARS}},
    "required": ["summary"],
    "additionalProperties": False,
}


def model_drafts(
    provider: LLMProvider, messages: list[ChatMessage], model: str | None
) -> list[MemoryDraft]:
    answer = provider.complete_json(messages, drafts_schema(), model=model, max_tokens=DRAFT_TOKENS)
    if not isinstance(answer, dict):
        raise ProviderError("the model's memory was not a JSON object")
    drafts = []
    for raw in (answer.get("entries") or [])[:MAX_DRAFTS_PER_TURN]:
        try:
            draft = MemoryDraft.model_validate(raw)
        except ValidationError:
            continue
        if draft.text.strip():
            drafts.append(draft)
    return drafts


WARM = re.compile(
    r"\b(love|loves|loved|admire|admires|trust|trusts|grateful|dear|fond|like|likes|thank|forgive|"
    r"kind|respect|esteem|agree|happy)\b",
    re.I,
)
COLD = re.compile(
    r"\b(hate|hates|despise|despises|angry|anger|insult|insulted|proud|pride|rude|distrust|never|"
    r"contempt|detest|refuse|refused|resent|odious|disagreeable|offend|offended)\b",
    re.I,
)


def _first_sentence(text: str, limit: int = 240) -> str:
    parts = sentences(" ".join(text.split()))
    first = parts[0] if parts else text.strip()
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def reader_said(request: GenerationRequest) -> list[MemoryDraft]:
    """The reader's own words, kept by the rule whoever writes the rest:
    what a reader states is what they ask about later."""
    if not request.user_message.strip():
        return []
    return [
        MemoryDraft(
            kind=MemoryKind.EVENT,
            subject=WORLD,
            text=f"The reader said: {_first_sentence(request.user_message, 300)}",
        )
    ]


def rule_drafts(
    request: GenerationRequest, spoken: list[tuple[Speaker, str]], names: list[str]
) -> list[MemoryDraft]:
    """What the rule keeps of a turn: what the reader said or asked, one
    event per answer (its first sentence), and a relationship change where
    an answer names a character present with warm or cold words."""
    drafts: list[MemoryDraft] = reader_said(request)
    for speaker, text in spoken:
        if not text.strip():
            continue
        who = _who(speaker)
        drafts.append(
            MemoryDraft(kind=MemoryKind.EVENT, subject=who, text=f"{who}: {_first_sentence(text)}")
        )
        if speaker.kind != SpeakerKind.CHARACTER:
            continue
        lowered = text.lower()
        for name in names:
            if name.lower() == who.lower():
                continue
            parts = [p for p in name.lower().replace(".", " ").split() if len(p) > 2]
            if not any(re.search(rf"\b{re.escape(p)}\b", lowered) for p in parts):
                continue
            warm, cold = len(WARM.findall(text)), len(COLD.findall(text))
            if warm != cold:
                change = 10 if warm > cold else -10
                feeling = "warmer" if change > 0 else "colder"
                drafts.append(
                    MemoryDraft(
                        kind=MemoryKind.RELATIONSHIP,
                        subject=who,
                        target=name,
                        change=change,
                        text=f"{who} spoke of {name} and grew {feeling}.",
                    )
                )
    return drafts[:MAX_DRAFTS_PER_TURN]


def rule_summary(job: FoldJob) -> str:
    pieces = [_first_sentence(t, 160) for t in job.texts if t.strip()]
    text = " ".join(pieces)
    return (
        text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1].rstrip() + "…"
    ) or "(nothing said)"


def summary_prompt(job: FoldJob) -> list[ChatMessage]:
    what = (
        "these lines of a story" if job.layer == 1 else "these summaries of a story, oldest first"
    )
    system = (
        f"Summarise {what} in at most five sentences. Keep names, places, promises, secrets and "
        "any facts the characters established; say who did what."
    )
    body = "\n".join(t[:1500] for t in job.texts)
    return [ChatMessage("system", system), ChatMessage("user", body)]


def model_summary(provider: LLMProvider, job: FoldJob, model: str | None) -> str:
    answer = provider.complete_json(
        summary_prompt(job), SUMMARY_SCHEMA, model=model, max_tokens=SUMMARY_TOKENS
    )
    try:
        return _Summary.model_validate(answer).summary.strip()
    except ValidationError as exc:
        raise ProviderError("the model's summary did not follow the schema") from exc


def _written(drafts: list[MemoryDraft], source: MemorySource) -> list[WrittenDraft]:
    out = []
    for d in drafts:
        fields = d.model_dump()
        fields["text"] = fields["text"].strip()[:MAX_MEMORY_TEXT_CHARS]
        fields["subject"] = (fields["subject"] or WORLD).strip()[:100] or WORLD
        out.append(WrittenDraft(**fields, source=source.value))
    return out


def write_turn(
    provider: LLMProvider,
    request: GenerationRequest,
    spoken: list[tuple[Speaker, str]],
    *,
    writer: str = "model",
    model: str | None = None,
) -> MemoryWrite | None:
    """What to remember of a turn (None when memory is off or nothing was said)."""
    memory = request.memory
    if memory is None or not memory.enabled or writer == "off":
        return None
    lines = turn_lines(request, spoken)
    if not any(text.strip() for _, text in spoken):
        return None
    names = list(memory.names.values())
    entries: list[WrittenDraft] = []
    if writer == "model":
        try:
            entries = _written(
                model_drafts(provider, draft_prompt(request, lines, names), model),
                MemorySource.MODEL,
            )
        except ProviderError as exc:
            logger.info("memory of %s by rule: %s", request.assistant_message_id, exc)
    if entries:
        entries = _written(reader_said(request), MemorySource.RULE) + entries
    else:
        entries = _written(rule_drafts(request, spoken, names), MemorySource.RULE)
    summary = None
    job = memory.fold
    if job is not None and job.texts:
        text, source = "", MemorySource.RULE
        if writer == "model":
            try:
                text, source = model_summary(provider, job, model), MemorySource.MODEL
            except ProviderError as exc:
                logger.info("summary by rule: %s", exc)
        if not text:
            text, source = rule_summary(job), MemorySource.RULE
        summary = SummaryDraft(
            layer=job.layer,
            covers_from=job.covers_from,
            covers_to=job.covers_to,
            text=text[: MAX_MEMORY_TEXT_CHARS * 2],
            source=source.value,
            known_by=job.known_by,
            summaries=job.summaries,
        )
    return MemoryWrite(
        source_message_id=request.assistant_message_id,
        position=memory.position,
        present=memory.present,
        names={k: v for k, v in memory.names.items() if k in memory.present},
        entries=entries,
        summary=summary,
    )

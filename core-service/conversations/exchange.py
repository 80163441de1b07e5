"""A conversation out (export) and back in (import), in Gaji's own JSON and
in SillyTavern's chat JSONL (/work/shared/FORMATS.md).

Export (`conversation_export`): whoever may read the conversation
(selectors.may_read; a private one is a 404 for everyone else).
- `gaji`: one JSON document `{format: "gaji.conversation", version: 1,
  exported_at, conversation, messages, memory?, tree}`. `memory` (as the
  memory API shows each entry) only for those who may read the memory (the
  owner and staff); `tree` holds the conversation, its root and the forks
  a list may show the requester.
- `sillytavern`: a header line `{user_name, character_name, create_date,
  chat_metadata}` (`chat_metadata.gaji`: the conversation, its scenario,
  novel and cast; `main_chat`: a fork's parent's title) and one line per
  message (`name, is_user, is_system, send_date, mes, extra`, and for an
  answer `gen_finished` and, when versions are kept, `swipe_id, swipes,
  swipe_info`); our own data in `extra.gaji` (message id, speaker,
  citations, status). Messages the reader deleted are left out. A narrator
  line is `is_system: false` with `extra.type: "narrator"`, as SillyTavern
  writes its narrator.

Import (`conversation_import`): a NEW conversation owned by the importer
(new ids, a root: it never touches the conversation it came from), with
its messages in the file's order and, from a Gaji file, its memory. The
whole file is checked before anything is written, and everything is
written in one transaction: a bad message anywhere is a 400 naming it
(`line N` of a JSONL file, `message N` / `memory entry N` of a JSON file)
and nothing is stored.
- The scenario: `scenario_id` when given; else the one the file names when
  the reader may read it (a Gaji file's `conversation.scenario.id`, a
  SillyTavern file's `chat_metadata.gaji.scenario_id`); else 400.
- Speakers: a Gaji file's as written; a SillyTavern line `is_user` is the
  reader, `extra.type: "narrator"` the narrator, any other a character by
  its `name`. A character keeps its cast id only when the file comes from
  the same novel (and the novel's cast, when ai can tell, knows the id);
  otherwise it is matched to the new conversation's cast (then the novel's
  characters) by name, else named freely.
- The cast: the file's when it comes from the same novel, else the
  scenario's default cast (a SillyTavern file's `character_name` joins it
  when nobody in it has that name).
- Messages are settled: completed, cancelled and failed answers keep their
  status; a pending or streaming one becomes failed (regenerate it); a
  reader's message is always completed.
- Citations are checked against gaji_contracts.conversations.Citation: a bad
  one refuses the file (400), nothing is dropped silently.
- Dropped on import (documented, not errors): SillyTavern keys Gaji has no
  place for (`extra` other than `model` and `gaji`, `gen_started`,
  `force_avatar`, `chat_metadata` other than `gaji`, ...), a Gaji file's
  `tree`, ids, visibility, likes and counters; with more than MAX_VERSIONS
  swipes, the shown one and the latest others are kept.
- Memory entries keep their source (model, rule, reader); the answers they
  name are mapped to the new messages' ids.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import slugify
from gaji_contracts.characters import match_character
from gaji_contracts.conversations import (
    CARD_CHARACTER_PREFIX,
    MAX_ASSISTANT_MESSAGE_CHARS,
    MAX_CHARACTER_ID_CHARS,
    MAX_CHARACTER_NAME_CHARS,
    MAX_USER_MESSAGE_CHARS,
    NARRATOR_NAME,
    Citations,
    MessageRole,
    MessageStatus,
    Speaker,
    SpeakerKind,
)
from gaji_contracts.errors import ErrorCode
from gaji_contracts.memory import (
    MAX_KNOWER_CHARS,
    MAX_KNOWERS,
    MAX_MEMORY_ENTRIES,
    MAX_MEMORY_TEXT_CHARS,
    MAX_RELATIONSHIP_HISTORY,
    MAX_SUBJECT_CHARS,
    RELATIONSHIP_MAX,
    RELATIONSHIP_MIN,
    WORLD,
    MemoryKind,
    MemorySource,
)
from pydantic import TypeAdapter, ValidationError
from rest_framework import serializers

from common.exceptions import ApplicationError
from conversations import selectors
from conversations.card_turns import card_id_of, owner_cards
from conversations.cast import MAX_CAST_MEMBERS, Cast, Member, cast_of, characters_of, default_cast
from conversations.models import (
    Conversation,
    ConversationMessageLink,
    MemoryEntry,
    Message,
    Visibility,
    speaker_fields,
)
from conversations.services import visibility_for
from conversations.versions import MAX_VERSIONS
from novels import selectors as novels_selectors
from scenarios.models import Scenario
from scenarios.search import reader_wrote
from scenarios.services import scenario_count_engagement

GAJI_FORMAT = "gaji.conversation"
GAJI_VERSION = 1
FORMATS = ("gaji", "sillytavern")
MAX_IMPORT_MESSAGES = 2000
MAX_MODEL_CHARS = 100
MAX_TITLE_CHARS = 200
MAX_TOKENS = 10_000_000
MAX_POSITION = 10_000_000
MAX_CANON_CHAPTER = 100_000
MAX_STORED_MEMORY_CHARS = MAX_MEMORY_TEXT_CHARS * 2  # a summary may hold twice an entry's text
MAX_DATE_CHARS = 64
IMPORTED_TITLE = "Imported chat"
NUL = "\x00"

# Refusals a request the API document allows can still get (400, field `file`
# unless said otherwise; per-message problems are prefixed "line N: " or
# "message N: " / "memory entry N: " and say which field and why).
FILE_TYPE = "The file must be a Gaji conversation export (.json) or a SillyTavern chat (.jsonl)."
NOT_UTF8 = "The file is not UTF-8 text."
NOT_JSON = "not valid JSON"
NOT_UNICODE = "holds text that is not valid Unicode (a lone surrogate)"
TOO_DEEP = "nested too deeply"
WRONG_FORMAT = f'Not a Gaji conversation export: "format" must be "{GAJI_FORMAT}".'
NEWER_VERSION = f"This export's version is newer than this server reads ({GAJI_VERSION})."
NO_HEADER = "the SillyTavern header line (user_name, character_name, chat_metadata) is missing"
TOO_MANY_MESSAGES = f"The file holds more than {MAX_IMPORT_MESSAGES} messages."
TOO_MANY_ENTRIES = f"The file holds more than {MAX_MEMORY_ENTRIES} memory entries."
SCENARIO_NEEDED = (
    "Choose a scenario (scenario_id): the file names none you may read (a SillyTavern chat names none)."
)
RULES_IN_WORDS = (
    FILE_TYPE,
    NOT_UTF8,
    NOT_JSON,
    NOT_UNICODE,
    TOO_DEEP,
    WRONG_FORMAT,
    NEWER_VERSION,
    NO_HEADER,
    TOO_MANY_MESSAGES,
    TOO_MANY_ENTRIES,
    SCENARIO_NEEDED,
    "line N / message N / memory entry N: <field> must be ... (type, length, range, NUL, blank, citation)",
)

_CITATIONS = TypeAdapter(Citations)
_DATES = serializers.DateTimeField()


class Refused(ValueError):
    """A file the importer will not take; the message says where and why."""


# -- export ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    body: bytes


def iso(value: datetime | None) -> str | None:
    return _DATES.to_representation(value) if value else None


def speaker_record(kind: str, character_id: str, name: str) -> dict:
    return {"kind": kind, "character_id": character_id or None, "name": name}


def version_record(version: dict) -> dict:
    """A kept version of an answer as the export shows it (its speaker as one object)."""
    speaker = None
    if "speaker_kind" in version:
        speaker = speaker_record(
            version["speaker_kind"],
            version.get("speaker_character_id") or "",
            version.get("speaker_name", ""),
        )
    return {
        "content": version.get("content", ""),
        "citations": version.get("citations") or [],
        "grounded": version.get("grounded"),
        "model": version.get("model") or "",
        "total_tokens": version.get("total_tokens"),
        "degraded": bool(version.get("degraded")),
        "speaker": speaker,
        "stale": bool(version.get("stale")),
        "completed_at": version.get("completed_at"),
    }


def message_record(message: Message) -> dict:
    """A message as the Gaji export shows it."""
    return {
        "id": str(message.id),
        "position": message.position,
        "role": message.role,
        "speaker": speaker_record(message.speaker_kind, message.speaker_character_id, message.speaker_name),
        "content": message.content,
        "status": message.status,
        "created_at": iso(message.created_at),
        "completed_at": iso(message.completed_at),
        "model": message.model,
        "total_tokens": message.total_tokens,
        "degraded": message.degraded,
        "grounded": message.grounded,
        "citations": message.citations or [],
        "alternatives": [version_record(v) for v in message.alternatives or []],
        "chosen": message.chosen,
        "edited_at": iso(message.edited_at),
        "deleted": message.deleted,
        "stale": message.stale,
    }


def gaji_document(
    *, conversation: dict, messages: list[dict], memory: list[dict] | None, tree: list[dict], exported_at
) -> dict:
    document = {
        "format": GAJI_FORMAT,
        "version": GAJI_VERSION,
        "exported_at": iso(exported_at),
        "conversation": conversation,
        "messages": messages,
    }
    if memory is not None:
        document["memory"] = memory
    document["tree"] = tree
    return document


def st_date(value: datetime) -> str:
    """SillyTavern's file date (`create_date`): 2024-06-01@15h04m05s (UTC here)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d@%Hh%Mm%Ss")


def sillytavern_message(record: dict) -> dict:
    """One Gaji message record as a SillyTavern chat line."""
    speaker = record["speaker"]
    is_user = record["role"] == MessageRole.USER.value
    name = speaker["name"] or (NARRATOR_NAME if speaker["kind"] == SpeakerKind.NARRATOR.value else "")
    extra: dict = {
        "model": record["model"],
        "gaji": {
            "message_id": record["id"],
            "speaker": speaker,
            "citations": record["citations"],
            "status": record["status"],
        },
    }
    if speaker["kind"] == SpeakerKind.NARRATOR.value:
        extra["type"] = "narrator"
    line = {
        "name": name,
        "is_user": is_user,
        "is_system": False,
        "send_date": record["created_at"],
        "mes": record["content"],
        "extra": extra,
    }
    if not is_user:
        line["gen_finished"] = record["completed_at"]
    versions = record["alternatives"]
    if not is_user and versions:  # one version: no swipes (SillyTavern makes them when needed)
        chosen = record["chosen"]
        if chosen is not None and 0 <= chosen < len(versions):
            swipes = [v["content"] for v in versions]
            infos = [(v["completed_at"], v["model"]) for v in versions]
        else:  # the version shown is not one of those kept
            chosen = len(versions)
            swipes = [*(v["content"] for v in versions), record["content"]]
            infos = [
                *((v["completed_at"], v["model"]) for v in versions),
                (record["completed_at"], record["model"]),
            ]
        line["swipe_id"] = chosen
        line["swipes"] = swipes
        line["swipe_info"] = [
            {"send_date": when or record["created_at"], "gen_finished": when, "extra": {"model": model}}
            for when, model in infos
        ]
    return line


def sillytavern_lines(header: dict, records: list[dict]) -> bytes:
    """The JSONL file: the header, then every message not deleted."""
    lines = [header, *(sillytavern_message(r) for r in records if not r["deleted"])]
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


def _novel_readable(novel, viewer) -> bool:
    """A private novel (a reader's own import) is its owner's and staff's."""
    return novel is None or novels_selectors.can_read(novel, viewer)


def _conversation_record(conversation: Conversation, viewer) -> dict:
    scenario = conversation.scenario
    novel = scenario.novel if _novel_readable(scenario.novel, viewer) else None
    return {
        "id": str(conversation.id),
        "title": conversation.title,
        "visibility": conversation.visibility,
        "depth": conversation.depth,
        "parent_conversation_id": _str(selectors.shown_parent_id(conversation, viewer)),
        "canon_chapter": conversation.canon_chapter,
        "cast": cast_of(conversation).json(),
        "created_at": iso(conversation.created_at),
        "user": {"id": str(conversation.user_id), "username": conversation.user.username},
        "scenario": {
            "id": str(scenario.id),
            "base_story": scenario.base_story,
            "scenario_type": scenario.scenario_type,
            "parameters": scenario.parameters,
        },
        "novel": {"id": str(novel.id), "slug": novel.slug, "title": novel.title} if novel else None,
    }


def _str(value) -> str | None:
    return str(value) if value else None


def _tree(conversation: Conversation, viewer) -> list[dict]:
    """The conversation's root (when the requester may be told of it) and
    the root's forks a list may show the requester, the conversation itself
    always among them."""

    def node(row: Conversation, parent) -> dict:
        return {
            "id": str(row.id),
            "title": row.title,
            "parent_conversation_id": _str(parent),
            "depth": row.depth,
        }

    if conversation.depth == 0:
        root = conversation
    else:
        parent_id = selectors.shown_parent_id(conversation, viewer)
        root = Conversation.objects.filter(id=parent_id).first() if parent_id else None
        if root is None:
            return [node(conversation, None)]
    children, _ = selectors.children_of(root, selectors.TREE_CHILDREN_MAX, viewer=viewer)
    nodes = [node(root, None)] + [node(child, root.id) for child in children]
    if all(n["id"] != str(conversation.id) for n in nodes):
        nodes.append(node(conversation, root.id))
    return nodes


def _memory_readable(conversation: Conversation, viewer) -> bool:
    """conversations.memory: the owner reads and writes it, staff may read it."""
    return bool(
        viewer is not None
        and viewer.is_authenticated
        and (viewer.id == conversation.user_id or viewer.is_staff)
    )


def _filename(conversation: Conversation, extension: str) -> str:
    stem = slugify(conversation.title)[:60].strip("-") or "conversation"
    return f"{stem}-{str(conversation.id)[:8]}.{extension}"


def conversation_export(*, conversation_id, viewer, fmt: str) -> Export:
    """The conversation as a file in `fmt` (gaji | sillytavern); 404 unless `viewer` may read it."""
    from conversations.memory_apis import entry_json  # the memory API's own body

    conversation = (
        Conversation.objects.select_related("scenario__novel", "user").filter(id=conversation_id).first()
    )
    if conversation is None or not selectors.may_read(
        viewer, owner_id=conversation.user_id, visibility=conversation.visibility
    ):
        raise Http404
    records = [message_record(m) for m in selectors._messages(selectors.links_of(conversation.id).iterator())]
    info = _conversation_record(conversation, viewer)
    if fmt == "sillytavern":
        parent = None
        if info["parent_conversation_id"]:
            parent = Conversation.objects.filter(id=info["parent_conversation_id"]).values_list(
                "title", flat=True
            )
            parent = parent.first()
        cast = info["cast"]
        speakers = [
            r["speaker"]["name"] for r in records if r["speaker"]["kind"] == SpeakerKind.CHARACTER.value
        ]
        character = next((m["name"] for m in cast["members"]), None) or next(iter(speakers), NARRATOR_NAME)
        metadata: dict = {
            "gaji": {
                "format": GAJI_FORMAT,
                "version": GAJI_VERSION,
                "conversation_id": info["id"],
                "title": info["title"],
                "scenario_id": info["scenario"]["id"],
                "scenario": info["scenario"],
                "novel": info["novel"],
                "cast": cast,
                "canon_chapter": info["canon_chapter"],
            }
        }
        if parent:
            metadata["main_chat"] = parent
        header = {
            "user_name": conversation.user.username,
            "character_name": character,
            "create_date": st_date(conversation.created_at),
            "chat_metadata": metadata,
        }
        return Export(
            filename=_filename(conversation, "jsonl"),
            content_type="application/x-ndjson; charset=utf-8",
            body=sillytavern_lines(header, records),
        )
    memory = None
    if _memory_readable(conversation, viewer):
        entries = MemoryEntry.objects.filter(conversation_id=conversation.id).order_by(
            "-pinned", "-position", "-created_at", "id"
        )
        memory = [entry_json(e) for e in entries.iterator()]
    document = gaji_document(
        conversation=info,
        messages=records,
        memory=memory,
        tree=_tree(conversation, viewer),
        exported_at=timezone.now(),
    )
    return Export(
        filename=_filename(conversation, "json"),
        content_type="application/json; charset=utf-8",
        body=json.dumps(document, ensure_ascii=False).encode(),
    )


# -- import: reading a file (pure) ------------------------------------------------------------


@dataclass
class ParsedMessage:
    role: str
    speaker: Speaker
    content: str
    status: str = MessageStatus.COMPLETED.value
    model: str = ""
    total_tokens: int | None = None
    degraded: bool = False
    grounded: bool | None = None
    citations: list = field(default_factory=list)
    # Kept versions: dicts as Message.alternatives stores them, with a
    # Speaker under "speaker" (resolved to the stored fields on import).
    alternatives: list = field(default_factory=list)
    chosen: int | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    edited_at: datetime | None = None
    deleted: bool = False
    stale: bool = False
    source_id: str | None = None  # its id in the file (memory entries name it)


@dataclass
class ParsedConversation:
    kind: str  # "gaji" | "sillytavern"
    title: str
    scenario_id: str | None = None
    novel_id: str | None = None
    cast: dict | None = None
    canon_chapter: int | None = None
    character_name: str = ""
    messages: list[ParsedMessage] = field(default_factory=list)
    memory: list[dict] = field(default_factory=list)


def _refuse(where: str, problem: str) -> Refused:
    return Refused(f"{where}: {problem}" if where else problem)


def _pydantic_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(p) for p in error["loc"])
    return f"{location}: {error['msg']}" if location else error["msg"]


def _text(value, where: str, name: str, *, max_chars: int, blank: bool = True) -> str:
    if not isinstance(value, str):
        raise _refuse(where, f"{name} must be a string.")
    if NUL in value:
        raise _refuse(where, f"{name} must not contain NUL characters.")
    if len(value) > max_chars:
        raise _refuse(where, f"{name} is longer than {max_chars} characters.")
    if not blank and not value.strip():
        raise _refuse(where, f"{name} must not be blank.")
    return value


def _bool(value, where: str, name: str, *, default: bool = False, null: bool = False) -> bool | None:
    if value is None:
        return None if null else default
    if not isinstance(value, bool):
        raise _refuse(where, f"{name} must be true or false.")
    return value


def _int(value, where: str, name: str, *, low: int, high: int, null: bool = True) -> int | None:
    if value is None and null:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _refuse(where, f"{name} must be a whole number from {low} to {high}.")
    return value


# Dates an import may carry: PostgreSQL keeps years Python cannot read back
# (a "9999-12-31T23:59:59-14:00" is year 10000 in UTC), so anything outside
# these years is refused (Gaji's own) or dropped (SillyTavern's loose dates).
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200


def _in_range(parsed: datetime) -> datetime | None:
    """`parsed` in UTC when its year is within the import's range, else None."""
    try:
        utc = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return utc if EARLIEST_YEAR <= utc.year <= LATEST_YEAR else None


def _iso(value, where: str, name: str) -> datetime | None:
    """An ISO 8601 date (as Gaji writes them) between EARLIEST_YEAR and LATEST_YEAR, or null."""
    if value is None:
        return None
    parsed = None
    if isinstance(value, str) and len(value) <= MAX_DATE_CHARS:
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
    if parsed is not None:
        parsed = _in_range(parsed)
    if parsed is None:
        raise _refuse(
            where, f"{name} must be an ISO 8601 date and time between {EARLIEST_YEAR} and {LATEST_YEAR}."
        )
    return parsed


_ST_FILE_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})@(\d{2})h(\d{2})m(\d{2})s")


def _loose_date(value) -> datetime | None:
    """A SillyTavern date in any of the forms it has written (ISO 8601, epoch
    milliseconds, "June 1, 2024 3:04pm", 2024-06-01@15h04m05s); None when
    it is none of them (the message then gets the import's time)."""
    try:
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 100_000_000_000 else value
            return _in_range(datetime.fromtimestamp(seconds, UTC))
        if not isinstance(value, str) or len(value) > MAX_DATE_CHARS:
            return None
        text = value.strip()
        parsed = parse_datetime(text)
        if parsed is None and (found := _ST_FILE_DATE.match(text)):
            parsed = datetime(*(int(part) for part in found.groups()), tzinfo=UTC)
        if parsed is None:
            for pattern in ("%B %d, %Y %I:%M%p", "%B %d, %Y %I:%M %p", "%Y-%m-%d %H:%M:%S"):
                try:
                    parsed = datetime.strptime(text, pattern).replace(tzinfo=UTC)
                    break
                except ValueError:
                    continue
        if parsed is None:
            return None
        return _in_range(parsed)
    except (ValueError, OverflowError, OSError):
        return None


def _speaker(value, where: str, name: str = "speaker") -> Speaker:
    if not isinstance(value, dict):
        raise _refuse(where, f"{name} must be an object {{kind, character_id, name}}.")
    try:
        return Speaker.model_validate(value)
    except ValidationError as exc:
        raise _refuse(where, f"{name}.{_pydantic_problem(exc)}") from None


def _citations(value, where: str, name: str = "citations") -> list[dict]:
    if value is None:
        return []
    try:
        return [c.model_dump(mode="json") for c in _CITATIONS.validate_python(value)]
    except ValidationError as exc:
        raise _refuse(where, f"{name}.{_pydantic_problem(exc)}") from None


def _status(value, where: str, role: str) -> str:
    """A message's status, settled: nothing imported waits for a model."""
    if value is None:
        value = MessageStatus.COMPLETED.value
    if value not in {s.value for s in MessageStatus}:
        raise _refuse(where, f"status must be one of {', '.join(s.value for s in MessageStatus)}.")
    if role == MessageRole.USER.value:
        return MessageStatus.COMPLETED.value
    if value in (MessageStatus.PENDING.value, MessageStatus.STREAMING.value):
        return MessageStatus.FAILED.value
    return value


def _content(value, where: str, name: str, role: str, *, deleted: bool) -> str:
    limit = MAX_USER_MESSAGE_CHARS if role == MessageRole.USER.value else MAX_ASSISTANT_MESSAGE_CHARS
    return _text(value, where, name, max_chars=limit, blank=role != MessageRole.USER.value or deleted)


def _version(value, where: str, name: str, speaker: Speaker) -> dict:
    if not isinstance(value, dict):
        raise _refuse(where, f"{name} must be an object.")
    completed = _iso(value.get("completed_at"), where, f"{name}.completed_at")
    version_speaker = value.get("speaker")
    return {
        "content": _text(
            value.get("content", ""), where, f"{name}.content", max_chars=MAX_ASSISTANT_MESSAGE_CHARS
        ),
        "citations": _citations(value.get("citations"), where, f"{name}.citations"),
        "grounded": _bool(value.get("grounded"), where, f"{name}.grounded", null=True),
        "model": _text(value.get("model") or "", where, f"{name}.model", max_chars=MAX_MODEL_CHARS),
        "total_tokens": _int(
            value.get("total_tokens"), where, f"{name}.total_tokens", low=0, high=MAX_TOKENS
        ),
        "degraded": _bool(value.get("degraded"), where, f"{name}.degraded"),
        "speaker": speaker
        if version_speaker is None
        else _speaker(version_speaker, where, f"{name}.speaker"),
        "stale": _bool(value.get("stale"), where, f"{name}.stale"),
        "completed_at": completed.isoformat() if completed else None,
    }


def _versions(value, chosen, where: str, role: str, speaker: Speaker) -> tuple[list[dict], int | None]:
    if value in (None, []):
        if chosen is not None:
            raise _refuse(where, "chosen must be null when there are no alternatives.")
        return [], None
    if role != MessageRole.ASSISTANT.value:
        raise _refuse(where, "alternatives: only an answer has versions.")
    if not isinstance(value, list) or len(value) > MAX_VERSIONS:
        raise _refuse(where, f"alternatives must be a list of at most {MAX_VERSIONS} versions.")
    versions = [_version(v, where, f"alternatives.{i}", speaker) for i, v in enumerate(value)]
    return versions, _int(chosen, where, "chosen", low=0, high=len(versions) - 1)


def _loads(text: str, where: str):
    try:
        value = json.loads(text)
    except RecursionError:
        raise _refuse(where, TOO_DEEP) from None
    except ValueError as exc:  # JSONDecodeError, or an integer of too many digits
        lineno = getattr(exc, "lineno", None)
        if lineno is not None and not where:
            raise _refuse(f"line {lineno}", f"{NOT_JSON} ({exc.msg}).") from None
        raise _refuse(where, f"{NOT_JSON}.") from None
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise _refuse(where, f"{NOT_UNICODE}.") from None
    except RecursionError:
        raise _refuse(where, TOO_DEEP) from None
    return value


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refused(NOT_UTF8) from None


def _cast(value, where: str) -> dict | None:
    """A cast as a file gives it, checked as the cast API checks one (ids are checked later)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("members", []), list):
        raise _refuse(where, "cast must be an object {narrator, members}.")
    members = value.get("members", [])
    if len(members) > MAX_CAST_MEMBERS:
        raise _refuse(where, f"cast.members: at most {MAX_CAST_MEMBERS} members.")
    checked, seen = [], set()
    for i, member in enumerate(members):
        name = f"cast.members.{i}"
        if not isinstance(member, dict):
            raise _refuse(where, f"{name} must be an object.")
        character_id = member.get("character_id")
        if character_id is not None:
            character_id = _text(
                character_id, where, f"{name}.character_id", max_chars=MAX_CHARACTER_ID_CHARS
            )
        member_name = _text(
            member.get("name"), where, f"{name}.name", max_chars=MAX_CHARACTER_NAME_CHARS, blank=False
        ).strip()
        talk = member.get("talkativeness", 0.5)
        if isinstance(talk, bool) or not isinstance(talk, int | float) or not 0 <= talk <= 1:
            raise _refuse(where, f"{name}.talkativeness must be a number from 0 to 1.")
        key = character_id or member_name.lower()
        if key in seen:
            raise _refuse(where, f"{name}: already named: each character once.")
        seen.add(key)
        checked.append(
            {"character_id": character_id or None, "name": member_name, "talkativeness": float(talk)}
        )
    narrator = _bool(value.get("narrator"), where, "cast.narrator")
    return {"narrator": narrator, "members": checked}


def _id(value) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None


def _gaji_message(value, where: str) -> ParsedMessage:
    if not isinstance(value, dict):
        raise _refuse(where, "must be an object.")
    role = value.get("role")
    if role not in (MessageRole.USER.value, MessageRole.ASSISTANT.value):
        raise _refuse(where, "role must be user or assistant.")
    if value.get("speaker") is None:
        speaker = Speaker.reader() if role == MessageRole.USER.value else Speaker.narrator()
    else:
        speaker = _speaker(value["speaker"], where)
    deleted = _bool(value.get("deleted"), where, "deleted")
    alternatives, chosen = _versions(value.get("alternatives"), value.get("chosen"), where, role, speaker)
    return ParsedMessage(
        role=role,
        speaker=speaker,
        content=_content(value.get("content", ""), where, "content", role, deleted=deleted),
        status=_status(value.get("status"), where, role),
        model=_text(value.get("model") or "", where, "model", max_chars=MAX_MODEL_CHARS),
        total_tokens=_int(value.get("total_tokens"), where, "total_tokens", low=0, high=MAX_TOKENS),
        degraded=_bool(value.get("degraded"), where, "degraded"),
        grounded=_bool(value.get("grounded"), where, "grounded", null=True),
        citations=_citations(value.get("citations"), where),
        alternatives=alternatives,
        chosen=chosen,
        created_at=_iso(value.get("created_at"), where, "created_at"),
        completed_at=_iso(value.get("completed_at"), where, "completed_at"),
        edited_at=_iso(value.get("edited_at"), where, "edited_at"),
        deleted=deleted,
        stale=_bool(value.get("stale"), where, "stale"),
        source_id=_id(value.get("id")),
    )


def _history(value, where: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_RELATIONSHIP_HISTORY:
        raise _refuse(where, f"history must be a list of at most {MAX_RELATIONSHIP_HISTORY} changes.")
    changes = []
    for i, change in enumerate(value):
        name = f"history.{i}"
        if not isinstance(change, dict):
            raise _refuse(where, f"{name} must be an object.")
        source = change.get("source")
        if source not in {s.value for s in MemorySource}:
            raise _refuse(where, f"{name}.source must be one of model, rule, reader.")
        at = _iso(change.get("at"), where, f"{name}.at")
        stance = (RELATIONSHIP_MIN, RELATIONSHIP_MAX)
        changes.append(
            {
                "value": _int(change.get("value"), where, f"{name}.value", low=stance[0], high=stance[1]),
                "change": _int(
                    change.get("change", 0), where, f"{name}.change", low=-200, high=200, null=False
                ),
                "text": _text(
                    change.get("text", ""), where, f"{name}.text", max_chars=MAX_STORED_MEMORY_CHARS
                ),
                "source": source,
                "source_message_id": _id(change.get("source_message_id")),
                "at": at.isoformat() if at else None,
            }
        )
    return changes


def _memory_entry(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise _refuse(where, "must be an object.")
    if value.get("kind") not in {k.value for k in MemoryKind}:
        raise _refuse(where, f"kind must be one of {', '.join(k.value for k in MemoryKind)}.")
    if value.get("source") not in {s.value for s in MemorySource}:
        raise _refuse(where, "source must be one of model, rule, reader.")
    known_by = value.get("known_by")
    if known_by is not None:
        if not isinstance(known_by, list) or len(known_by) > MAX_KNOWERS:
            raise _refuse(where, f"known_by must be null or a list of at most {MAX_KNOWERS} keys.")
        known_by = [
            _text(k, where, f"known_by.{i}", max_chars=MAX_KNOWER_CHARS, blank=False)
            for i, k in enumerate(known_by)
        ]
    subject = _text(value.get("subject") or WORLD, where, "subject", max_chars=MAX_SUBJECT_CHARS)
    return {
        "kind": value["kind"],
        "subject": subject.strip() or WORLD,
        "target": _text(value.get("target") or "", where, "target", max_chars=MAX_SUBJECT_CHARS),
        "text": _text(value.get("text"), where, "text", max_chars=MAX_STORED_MEMORY_CHARS, blank=False),
        "value": _int(value.get("value"), where, "value", low=RELATIONSHIP_MIN, high=RELATIONSHIP_MAX),
        "history": _history(value.get("history"), where),
        "source": value["source"],
        "source_message_id": _id(value.get("source_message_id")),
        "position": _int(value.get("position", 0), where, "position", low=0, high=MAX_POSITION, null=False),
        "pinned": _bool(value.get("pinned"), where, "pinned"),
        "known_by": known_by,
        "layer": _int(value.get("layer", 0), where, "layer", low=0, high=10, null=False),
        "covers_from": _int(value.get("covers_from"), where, "covers_from", low=0, high=MAX_POSITION),
        "covers_to": _int(value.get("covers_to"), where, "covers_to", low=0, high=MAX_POSITION),
        "covered": _bool(value.get("covered"), where, "covered"),
        "inherited": _bool(value.get("inherited"), where, "inherited"),
        "created_at": _iso(value.get("created_at"), where, "created_at"),
    }


def _title(value) -> str | None:
    if isinstance(value, str) and NUL not in value and value.strip():
        return value.strip()[:MAX_TITLE_CHARS]
    return None


def parse_gaji(raw: bytes) -> ParsedConversation:
    """A Gaji conversation export (the whole file is checked; Refused says what is wrong)."""
    document = _loads(_decode(raw), "")
    if not isinstance(document, dict) or document.get("format") != GAJI_FORMAT:
        raise Refused(WRONG_FORMAT)
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise Refused('"version" must be a whole number (1).')
    if version > GAJI_VERSION:
        raise Refused(NEWER_VERSION)
    info = document.get("conversation") or {}
    if not isinstance(info, dict):
        raise _refuse("conversation", "must be an object.")
    messages = document.get("messages")
    if not isinstance(messages, list):
        raise _refuse("messages", "must be a list.")
    if len(messages) > MAX_IMPORT_MESSAGES:
        raise Refused(TOO_MANY_MESSAGES)
    memory = document.get("memory") or []
    if not isinstance(memory, list):
        raise _refuse("memory", "must be a list.")
    if len(memory) > MAX_MEMORY_ENTRIES:
        raise Refused(TOO_MANY_ENTRIES)
    scenario = info.get("scenario") if isinstance(info.get("scenario"), dict) else {}
    novel = info.get("novel") if isinstance(info.get("novel"), dict) else {}
    return ParsedConversation(
        kind="gaji",
        title=_title(info.get("title")) or IMPORTED_TITLE,
        scenario_id=_id(scenario.get("id")),
        novel_id=_id(novel.get("id")),
        cast=_cast(info.get("cast"), "conversation"),
        canon_chapter=_int(
            info.get("canon_chapter"), "conversation", "canon_chapter", low=1, high=MAX_CANON_CHAPTER
        ),
        messages=[_gaji_message(m, f"message {i + 1}") for i, m in enumerate(messages)],
        memory=[_memory_entry(e, f"memory entry {i + 1}") for i, e in enumerate(memory)],
    )


def _st_name(value) -> str:
    if not isinstance(value, str):
        return ""
    return value.replace(NUL, "").strip()[:MAX_CHARACTER_NAME_CHARS]


def _st_swipes(line: dict, where: str, content: str, speaker: Speaker) -> tuple[list[dict], int | None]:
    """SillyTavern's swipes as kept versions (at most MAX_VERSIONS: the one
    shown and the latest others). One swipe: no versions."""
    swipes = line.get("swipes")
    if not isinstance(swipes, list) or len(swipes) < 2:
        return [], None
    texts = [
        _content(s, where, f"swipes.{i}", MessageRole.ASSISTANT.value, deleted=False)
        for i, s in enumerate(swipes)
    ]
    infos = line.get("swipe_info") if isinstance(line.get("swipe_info"), list) else []
    chosen = line.get("swipe_id")
    if isinstance(chosen, bool) or not isinstance(chosen, int) or not 0 <= chosen < len(texts):
        chosen = texts.index(content) if content in texts else None
    infos = infos[: len(texts)]
    if chosen is None:  # the text shown is none of the swipes: it is one more version
        texts.append(content)
        chosen = len(texts) - 1
    keep = [i for i in range(len(texts)) if i != chosen][-(MAX_VERSIONS - 1) :]
    keep = sorted([*keep, chosen])
    versions = []
    for i in keep:
        info = infos[i] if i < len(infos) and isinstance(infos[i], dict) else {}
        extra = info.get("extra") if isinstance(info.get("extra"), dict) else {}
        finished = _loose_date(info.get("gen_finished")) or _loose_date(info.get("send_date"))
        versions.append(
            {
                "content": texts[i],
                "citations": [],
                "grounded": None,
                "model": _st_name(extra.get("model")),
                "total_tokens": None,
                "degraded": False,
                "speaker": speaker,
                "stale": False,
                "completed_at": finished.isoformat() if finished else None,
            }
        )
    return versions, keep.index(chosen)


def _st_message(line, where: str, character_name: str) -> ParsedMessage:
    if not isinstance(line, dict):
        raise _refuse(where, "a message line must be a JSON object.")
    if "mes" not in line:
        raise _refuse(where, "mes (the message text) is missing.")
    is_user = _bool(line.get("is_user"), where, "is_user")
    role = MessageRole.USER.value if is_user else MessageRole.ASSISTANT.value
    extra = line.get("extra") if isinstance(line.get("extra"), dict) else {}
    ours = extra.get("gaji") if isinstance(extra.get("gaji"), dict) else {}
    name = _st_name(line.get("name"))
    if ours.get("speaker") is not None:
        speaker = _speaker(ours["speaker"], where, "extra.gaji.speaker")
    elif is_user:
        speaker = Speaker(kind=SpeakerKind.USER, name=name)
    elif extra.get("type") == "narrator":
        speaker = Speaker(kind=SpeakerKind.NARRATOR, name=name or NARRATOR_NAME)
    else:
        speaker = Speaker(kind=SpeakerKind.CHARACTER, name=name or character_name)
    content = _content(line["mes"], where, "mes", role, deleted=False)
    alternatives, chosen = ([], None) if is_user else _st_swipes(line, where, content, speaker)
    sent = _loose_date(line.get("send_date"))
    return ParsedMessage(
        role=role,
        speaker=speaker,
        content=content,
        status=_status(ours.get("status"), where, role),
        model=_st_name(extra.get("model")),
        citations=_citations(ours.get("citations"), where, "extra.gaji.citations"),
        alternatives=alternatives,
        chosen=chosen,
        created_at=sent,
        completed_at=None if is_user else (_loose_date(line.get("gen_finished")) or sent),
        source_id=_id(ours.get("message_id")),
    )


def parse_sillytavern(raw: bytes) -> ParsedConversation:
    """A SillyTavern chat (JSONL): the header line, then one message per line."""
    text = _decode(raw)
    numbered = [(i + 1, line) for i, line in enumerate(text.split("\n")) if line.strip()]
    if not numbered:
        raise _refuse("line 1", f"{NO_HEADER}.")
    if len(numbered) - 1 > MAX_IMPORT_MESSAGES:
        raise Refused(TOO_MANY_MESSAGES)
    first, header_line = numbered[0]
    header = _loads(header_line, f"line {first}")
    if (
        not isinstance(header, dict)
        or "mes" in header
        or not ({"user_name", "character_name", "chat_metadata"} & set(header))
    ):
        raise _refuse(f"line {first}", f"{NO_HEADER}.")
    if header.get("format") == GAJI_FORMAT:
        raise Refused(FILE_TYPE)
    metadata = header.get("chat_metadata") if isinstance(header.get("chat_metadata"), dict) else {}
    ours = metadata.get("gaji") if isinstance(metadata.get("gaji"), dict) else {}
    novel = ours.get("novel") if isinstance(ours.get("novel"), dict) else {}
    character_name = _st_name(header.get("character_name"))
    where = f"line {first}"
    messages = [
        _st_message(_loads(line, f"line {n}"), f"line {n}", character_name) for n, line in numbered[1:]
    ]
    return ParsedConversation(
        kind="sillytavern",
        title=_title(ours.get("title"))
        or (
            f"{IMPORTED_TITLE} with {character_name}"[:MAX_TITLE_CHARS] if character_name else IMPORTED_TITLE
        ),
        scenario_id=_id(ours.get("scenario_id")),
        novel_id=_id(novel.get("id")),
        cast=_cast(ours.get("cast"), f"{where}: chat_metadata.gaji"),
        canon_chapter=_int(
            ours.get("canon_chapter"),
            where,
            "chat_metadata.gaji.canon_chapter",
            low=1,
            high=MAX_CANON_CHAPTER,
        ),
        character_name=character_name,
        messages=messages,
    )


def read_file(raw: bytes, filename: str) -> ParsedConversation:
    """The file by its name: .json a Gaji export, .jsonl a SillyTavern chat."""
    name = (filename or "").lower()
    if name.endswith(".jsonl"):
        return parse_sillytavern(raw)
    if name.endswith(".json"):
        return parse_gaji(raw)
    raise Refused(FILE_TYPE)


# -- import: storing it ----------------------------------------------------------------------


def _file_refused(message: str) -> ApplicationError:
    return ApplicationError(f"The file cannot be imported: {message}", details={"file": [message]})


def _readable_scenario(scenario_id, user) -> Scenario | None:
    """A live scenario on a novel `user` may read."""
    scenario = (
        Scenario.objects.select_related("novel").filter(id=scenario_id, deleted_at__isnull=True).first()
    )
    if scenario is None or not _novel_readable(scenario.novel, user):
        return None
    return scenario


def _valid_uuid(value) -> bool:
    try:
        serializers.UUIDField().to_internal_value(value)
    except serializers.ValidationError:
        return False
    return True


def _scenario_for(parsed: ParsedConversation, scenario_id, user) -> Scenario:
    if scenario_id is not None:
        scenario = _readable_scenario(scenario_id, user)
        if scenario is None:
            raise ApplicationError("Scenario not found.", status=404, code=ErrorCode.NOT_FOUND)
        return scenario
    if parsed.scenario_id and _valid_uuid(parsed.scenario_id):
        scenario = _readable_scenario(parsed.scenario_id, user)
        if scenario is not None:
            return scenario
    raise ApplicationError(SCENARIO_NEEDED, details={"scenario_id": [SCENARIO_NEEDED]})


@dataclass
class _Scene:
    cast: Cast
    entries: list  # the novel's cast (CastEntry), [] when unknown
    keep_ids: bool  # the file comes from this novel: its character ids mean the same
    own_cards: set[str]  # `card:<id>` characters of the importer's own cards the file names

    def known(self, character_id: str | None) -> bool:
        """Whether an id from the file still names the same character here."""
        if not character_id:
            return False
        if character_id.startswith(CARD_CHARACTER_PREFIX):
            return character_id in self.own_cards
        return self.keep_ids and (not self.entries or any(e.id == character_id for e in self.entries))

    def speaker(self, speaker: Speaker) -> Speaker:
        if speaker.kind != SpeakerKind.CHARACTER:
            return speaker
        if self.known(speaker.character_id):
            return speaker
        wanted = speaker.name.strip().lower()
        member = next((m for m in self.cast.members if wanted and m.name.lower() == wanted), None)
        if member is not None:
            return Speaker(kind=SpeakerKind.CHARACTER, character_id=member.character_id, name=speaker.name)
        entry = match_character(speaker.name, self.entries)
        return Speaker(
            kind=SpeakerKind.CHARACTER, character_id=entry.id if entry else None, name=speaker.name
        )


def _card_ids(parsed: ParsedConversation) -> set[str]:
    """Every `card:<id>` character id the file names (cast, speakers, versions)."""
    speakers = [m.speaker for m in parsed.messages]
    speakers += [v["speaker"] for m in parsed.messages for v in m.alternatives]
    ids = {s.character_id for s in speakers if s.character_id}
    ids |= {m["character_id"] for m in (parsed.cast or {}).get("members", []) if m["character_id"]}
    return {i for i in ids if i.startswith(CARD_CHARACTER_PREFIX)}


def _scene_for(parsed: ParsedConversation, scenario: Scenario, user) -> _Scene:
    """The new conversation's cast and how speakers map onto it (may ask ai
    for the novel's cast: called before the transaction). A character of a
    card (`card:<id>`) keeps its id only when the card is the importer's."""
    entries = characters_of(scenario.novel)
    keep_ids = scenario.novel_id is not None and parsed.novel_id == str(scenario.novel_id)
    named = {card_id_of(i): i for i in _card_ids(parsed)}
    own = owner_cards(user.id, [card for card in named if card])
    scene = _Scene(Cast(), entries, keep_ids, {named[card] for card in own})
    if parsed.cast is not None and keep_ids:
        cast = Cast.of(parsed.cast)
        for member in cast.members:
            if member.character_id and not scene.known(member.character_id):
                member.character_id = None  # not (or no longer) a character here: named freely
    else:
        cast = default_cast(scenario)
    name = parsed.character_name
    if (
        name
        and len(cast.members) < MAX_CAST_MEMBERS
        and all(m.name.lower() != name.lower() for m in cast.members)
    ):
        entry = match_character(name, entries)
        if entry is None or all(m.character_id != entry.id for m in cast.members):
            cast.members.append(Member(entry.id if entry else None, name))
    scene.cast = cast
    return scene


def _stored_version(version: dict, scene: _Scene) -> dict:
    stored = {k: v for k, v in version.items() if k != "speaker"}
    stored.update(speaker_fields(scene.speaker(version["speaker"])))
    return stored


def _message_row(parsed: ParsedMessage, scene: _Scene) -> Message:
    return Message(
        role=parsed.role,
        **speaker_fields(scene.speaker(parsed.speaker)),
        content="" if parsed.deleted else parsed.content,
        status=parsed.status,
        model=parsed.model,
        total_tokens=parsed.total_tokens,
        degraded=parsed.degraded,
        grounded=parsed.grounded,
        citations=parsed.citations,
        alternatives=[_stored_version(v, scene) for v in parsed.alternatives],
        chosen=parsed.chosen,
        edited_at=parsed.edited_at,
        deleted=parsed.deleted,
        stale=parsed.stale,
        completed_at=parsed.completed_at
        or (None if parsed.role == MessageRole.USER.value else parsed.created_at),
    )


def _memory_row(conversation: Conversation, entry: dict, ids: dict[str, object]) -> MemoryEntry:
    def mapped(old):
        return ids.get(old) if old else None

    history = [{**h, "source_message_id": _str(mapped(h["source_message_id"]))} for h in entry["history"]]
    fields = {k: v for k, v in entry.items() if k not in ("history", "source_message_id", "created_at")}
    return MemoryEntry(
        conversation=conversation,
        history=history,
        source_message_id=mapped(entry["source_message_id"]),
        created_at=entry["created_at"] or timezone.now(),
        **fields,
    )


def conversation_import(*, user, raw: bytes, filename: str, scenario_id=None, visibility: str | None = None):
    """A new conversation of `user` from an exported file (see the module doc)."""
    try:
        parsed = read_file(raw, filename)
    except Refused as exc:
        raise _file_refused(str(exc)) from None
    scenario = _scenario_for(parsed, scenario_id, user)
    scene = _scene_for(parsed, scenario, user)
    rows = [_message_row(m, scene) for m in parsed.messages]
    visibility = visibility_for(user, scenario, visibility)
    now = timezone.now()
    with transaction.atomic():
        locked = Scenario.objects.select_for_update(no_key=True).filter(
            id=scenario.id, deleted_at__isnull=True
        )
        if not locked.exists():
            raise ApplicationError("Scenario not found.", status=404, code=ErrorCode.NOT_FOUND)
        conversation = Conversation.objects.create(
            scenario_id=scenario.id,
            user=user,
            title=parsed.title,
            cast=scene.cast.json(),
            canon_chapter=parsed.canon_chapter if scene.keep_ids else None,
            visibility=visibility,
        )
        Message.objects.bulk_create(rows, batch_size=500)
        for row, message in zip(rows, parsed.messages, strict=True):
            row.created_at = message.created_at or now  # auto_now_add set it to now
        Message.objects.bulk_update(rows, ["created_at"], batch_size=500)
        ConversationMessageLink.objects.bulk_create(
            (
                ConversationMessageLink(conversation=conversation, message=row, position=i)
                for i, row in enumerate(rows)
            ),
            batch_size=1000,
        )
        ids = {m.source_id: row.id for m, row in zip(parsed.messages, rows, strict=True) if m.source_id}
        MemoryEntry.objects.bulk_create(
            (_memory_row(conversation, e, ids) for e in parsed.memory), batch_size=500
        )
        Conversation.objects.filter(id=conversation.id).update(
            message_count=len(rows), total_tokens=sum(row.total_tokens or 0 for row in rows)
        )
        scenario_count_engagement(
            scenario_id=scenario.id, conversations=1 if visibility == Visibility.PUBLIC else 0
        )
        reader_wrote(user.id)
    return conversation

"""Writes of novel metadata: the ai service's (during ingestion) and a
reader's story import (a file or a URL, parsed here, ingested by ai)."""

from __future__ import annotations

import logging
import posixpath
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.text import slugify
from gaji_contracts.errors import ErrorCode
from gaji_contracts.headers import RETRY_AFTER
from gaji_contracts.novels import (
    MAX_IMPORT_TEXT_CHARS,
    IngestionStatus,
    NovelCreate,
    NovelUpdate,
    NovelVisibility,
    ReaderIngest,
)
from gaji_contracts.ratelimit import RateLimitRule, scaled, window_key
from pydantic import ValidationError

from common import ratelimit
from common.exceptions import ApplicationError
from integrations.ai import AiClient, AiUnavailable
from novels import selectors, textual
from novels.epub import EpubError, read_epub
from novels.fetch import FetchRefused, fetch, size_text
from novels.models import Novel, NovelSource

logger = logging.getLogger("gaji.novels")


def slug_from_title(title: str) -> str:
    """A slug scenarios can use as their base_story: lowercase words joined
    by single '-' or '_' (slugify alone can leave `war-_-peace`)."""
    slug = slugify(title)
    slug = re.sub(r"[-_]{2,}", lambda run: "_" if set(run.group()) == {"_"} else "-", slug)
    return slug[:100].strip("-_") or "novel"


@transaction.atomic
def novel_create(*, data: NovelCreate) -> Novel:
    slug = data.slug or slug_from_title(data.title)
    try:
        with transaction.atomic():
            return Novel.objects.create(
                slug=slug,
                title=data.title,
                author=data.author,
                publication_year=data.publication_year,
                genre=data.genre,
                language=data.language,
                ingestion_status=data.ingestion_status.value,
            )
    except IntegrityError:
        raise ApplicationError(
            f"A novel with slug '{slug}' already exists.",
            status=409,
            code=ErrorCode.CONFLICT,
            details={"slug": ["Already taken."]},
        ) from None


@transaction.atomic
def novel_update(*, novel: Novel, data: NovelUpdate) -> Novel:
    changes = data.model_dump(exclude_unset=True)
    # The contract types optional fields as `X | None`; an explicit null is
    # only meaningful where the column may be empty (publication_year).
    nulls = {
        name: ["May not be null."]
        for name, value in changes.items()
        if value is None and not Novel._meta.get_field(name).null
    }
    if nulls:
        field = next(iter(nulls))
        raise ApplicationError(
            f"Validation failed for field '{field}': May not be null.",
            code=ErrorCode.VALIDATION_ERROR,
            details=nulls,
        )
    for name, value in changes.items():
        setattr(novel, name, value.value if hasattr(value, "value") else value)
    novel.save(update_fields=[*changes, "updated_at"])
    return novel


# --- readers' imports ----------------------------------------------------------------------

IMPORT_SUFFIXES = {".txt": "text", ".md": "text", ".markdown": "text", ".epub": "epub"}
MIN_TEXT_CHARS = 200  # as ai's ingestion (under 200 characters once headers are removed: failed)
IMPORT_SCOPE = "novel_import"

# Every 400 a schema-valid import (or owner update) can get, word for word.
NOT_TEXT = "The file is not text (it holds binary data)."
TOO_SHORT = f"The story holds under {MIN_TEXT_CHARS} characters of text once headers are removed."
TOO_LONG = f"The story is longer than {MAX_IMPORT_TEXT_CHARS:,} characters."
BAD_SUFFIX = "Only .txt, .md or .epub files can be imported."
FILE_OR_URL = "Send either a file (multipart) or a url (JSON)."
NO_TITLE = "The story has no title: send one."
UNUSABLE = "The story's text or details cannot be stored."
RULES_IN_WORDS = (
    NOT_TEXT,
    TOO_SHORT,
    TOO_LONG,
    BAD_SUFFIX,
    FILE_OR_URL,
    NO_TITLE,
    UNUSABLE,
    "The file is not an EPUB (not a readable zip archive).",
    "The file is not an EPUB (no META-INF/container.xml).",
    "The EPUB has more than 2000 files.",
    "The EPUB has encrypted files (DRM); only unencrypted EPUBs can be imported.",
    "The EPUB looks like a zip bomb (a file inflates more than 100 times).",
    "The EPUB is larger than 50 MB uncompressed.",
    "The EPUB inflates past its size limit (a zip bomb?).",
    "The EPUB lists '<path>' but does not contain it.",
    "The EPUB's file '<path>' cannot be read (corrupt archive).",
    "The EPUB's <container.xml|package document> declares XML entities, which are not accepted.",
    "The EPUB's <container.xml|package document> is not well-formed XML.",
    "The EPUB's container.xml names no package document.",
    "The EPUB's package document has no spine (no reading order).",
    "The EPUB's spine holds no text.",
    # URL imports (field `url`), novels/fetch.py:
    "The URL is not valid.",
    "Only http and https URLs can be imported.",
    "The URL may not contain a user name or password.",
    "The URL has no host name.",
    "The host name '<host>' cannot be resolved.",
    "The URL's host '<host>' resolves to <ip>, a <loopback|private|link-local|multicast|reserved|"
    "unspecified|shared (CGNAT)|not public> address: only public addresses can be fetched.",
    "The TLS connection to '<host>' failed (<reason>).",
    "Connecting to '<host>' timed out.",
    "Could not connect to '<host>'.",
    "The URL did not answer within 20 seconds.",
    "The server's answer could not be read (connection failed or not HTTP).",
    "The server answered <status> without a Location.",
    "The server answered <status> <reason>.",
    "The server sent a compressed body (<encoding>); it must be sent uncompressed.",
    "The URL's content type (<type>) is not accepted: text/plain, text/markdown, text/html or "
    "application/epub+zip (application/octet-stream only for a .epub, .txt or .md path).",
    "The document is larger than 10 MB.",
    "The URL redirects more than 5 times.",
)


@dataclass(frozen=True)
class ImportSource:
    """What a reader sent or what their URL gave: bytes and how to read them."""

    data: bytes
    filename: str
    kind: str  # "text" | "html" | "epub"
    source: str  # NovelSource.UPLOAD | NovelSource.URL
    charset: str | None = None
    url: str = ""


@dataclass(frozen=True)
class ImportResult:
    novel: Novel
    job_id: str
    estimated_duration_minutes: float


@dataclass(frozen=True)
class _Story:
    text: str
    title: str
    author: str
    language: str


def _invalid(message: str, field: str) -> ApplicationError:
    return ApplicationError(message, code=ErrorCode.VALIDATION_ERROR, details={field: [message]})


def _quota_error(message: str) -> ApplicationError:
    return ApplicationError(message, status=409, code=ErrorCode.CONFLICT, details={"quota": [message]})


def check_import_rate(user) -> None:
    """429 once the reader started NOVEL_IMPORT_PER_HOUR imports this hour
    (scaled by RATE_LIMIT_SCALE; fails open without Redis, as every limit)."""
    if not settings.RATE_LIMIT_ENABLED:
        return
    rule = scaled(
        RateLimitRule(scope=IMPORT_SCOPE, limit=settings.NOVEL_IMPORT_PER_HOUR, window_seconds=3600),
        settings.RATE_LIMIT_SCALE,
    )
    key = window_key(settings.REDIS_KEY_PREFIX, IMPORT_SCOPE, ratelimit.user_subject(user.id))
    decision = ratelimit._count_now(rule, key)
    if decision is not None and not decision.allowed:
        raise ApplicationError(
            f"Too many story imports. Retry in {decision.retry_after} seconds.",
            status=429,
            code=ErrorCode.RATE_LIMITED,
            headers={RETRY_AFTER: str(decision.retry_after), **decision.headers()},
        )


def check_quota(user, *, adding_bytes: int = 0) -> None:
    """409 when one more import of `adding_bytes` would pass the reader's quota."""
    quota = selectors.quota_of(user)
    if quota.used_count + 1 > quota.max_count:
        raise _quota_error(
            f"Import quota reached: {quota.used_count} of {quota.max_count} stories. "
            "Delete one to import another."
        )
    if quota.used_bytes + adding_bytes > quota.max_bytes:
        raise _quota_error(
            f"Import quota reached: this story would bring your imports past {size_text(quota.max_bytes)}."
        )


def upload_source(upload) -> ImportSource:
    """A multipart file as an import: its name decides how it is read; its
    size is checked before it is read."""
    name = posixpath.basename((upload.name or "").replace("\\", "/"))[:255] or "novel.txt"
    kind = IMPORT_SUFFIXES.get(posixpath.splitext(name.lower())[1])
    if kind is None:
        raise _invalid(BAD_SUFFIX, "file")
    limit = settings.NOVEL_IMPORT_MAX_BYTES
    if upload.size > limit:
        raise ApplicationError(
            f"The file is larger than {size_text(limit)}.",
            status=413,
            code=ErrorCode.PAYLOAD_TOO_LARGE,
            details={"file": [f"At most {size_text(limit)}."]},
        )
    return ImportSource(data=upload.read(), filename=name, kind=kind, source=NovelSource.UPLOAD)


def url_source(url: str) -> ImportSource:
    """The document at `url`, fetched under novels/fetch.py's rules (400 on `url` when refused)."""
    try:
        fetched = fetch(
            url,
            max_bytes=settings.NOVEL_IMPORT_MAX_BYTES,
            allow_loopback=settings.NOVEL_IMPORT_ALLOW_LOOPBACK,
        )
    except FetchRefused as exc:
        raise _invalid(str(exc), "url") from None
    return ImportSource(
        data=fetched.data,
        filename=fetched.filename[:255] or "download",
        kind=fetched.kind,
        source=NovelSource.URL,
        charset=fetched.charset,
        url=url,
    )


def _story(source: ImportSource) -> _Story:
    """The source as plain text with the metadata it carries (EPUB's OPF,
    a Project Gutenberg header, an HTML page's <title>); no NUL or lone
    surrogate anywhere, no control character in the metadata."""
    field = "url" if source.source == NovelSource.URL else "file"
    title = author = language = ""
    if source.kind == "epub":
        try:
            book = read_epub(source.data)
        except EpubError as exc:
            raise _invalid(str(exc), field) from None
        text, title, author, language = book.text, book.title, book.author, book.language
    else:
        text = textual.decode(source.data, source.charset)
        if source.kind == "html":
            page_title, text = textual.html_document_text(text)
            title = page_title or ""
    text = textual.storable(text)
    if textual.looks_binary(text):
        raise _invalid(NOT_TEXT, field)
    header = textual.gutenberg_header(text)
    title = header.get("title") or title
    author = author or header.get("author", "")
    if len(textual.body_of(text).strip()) < MIN_TEXT_CHARS:
        raise _invalid(TOO_SHORT, field)
    if len(text) > MAX_IMPORT_TEXT_CHARS:
        raise _invalid(TOO_LONG, field)
    title = textual.one_line(title)
    if not title:
        stem = posixpath.splitext(source.filename)[0]
        title = textual.one_line(re.sub(r"[_\-.]+", " ", stem))
    return _Story(
        text=text,
        title=title[:300].strip(),
        author=textual.one_line(author)[:200].strip(),
        language=textual.one_line(language)[:20].strip(),
    )


def _unique_slug(title: str, novel_id: uuid.UUID) -> str:
    """A reader's novel's slug: the title's, suffixed with its id, so an
    import never takes (or later blocks) a catalogue slug."""
    return f"{slug_from_title(title)[:90].strip('-_')}-{novel_id.hex[:8]}"


def novel_import(
    *,
    owner,
    source: ImportSource,
    title: str | None = None,
    author: str | None = None,
    language: str | None = None,
    visibility: str = NovelVisibility.PRIVATE.value,
    request_id: str | None = None,
) -> ImportResult:
    """A reader's story: parsed and checked, stored as their novel (pending),
    handed to ai's ingestion. If ai cannot take it the novel is deleted
    again and the answer is 503; on any other failure after the novel is
    stored it is deleted too: nothing half-stored, no quota used."""
    field = "url" if source.source == NovelSource.URL else "file"
    story = _story(source)
    final_title = textual.one_line(title or "")[:300].strip() or story.title
    if not final_title:
        raise _invalid(NO_TITLE, "title")
    final_author = textual.one_line(author)[:200].strip() if author is not None else story.author
    final_language = (textual.one_line(language or "") or story.language or "en")[:20].strip() or "en"
    try:
        # Checked before anything is stored: what ai is sent is valid.
        ingest = ReaderIngest(
            text=story.text,
            filename=_ingest_filename(source.filename),
            created_by=owner.id,
            title=final_title,
            author=final_author,
            language=final_language,
        )
    except ValidationError as exc:
        logger.warning("import by %s refused by the ingest contract: %s", owner.id, exc)
        raise _invalid(UNUSABLE, field) from None
    novel_id = uuid.uuid4()
    with transaction.atomic():
        # One import at a time per reader: the quota is checked under the lock.
        type(owner).objects.select_for_update().filter(pk=owner.pk).first()
        check_quota(owner, adding_bytes=len(source.data))
        novel = Novel.objects.create(
            id=novel_id,
            slug=_unique_slug(final_title, novel_id),
            title=final_title,
            author=final_author,
            language=final_language,
            ingestion_status=IngestionStatus.PENDING.value,
            owner=owner,
            visibility=visibility,
            source=source.source,
            source_url=source.url,
            source_bytes=len(source.data),
        )
    # After the commit: ai's job reports progress on this novel's row at once.
    try:
        accepted = AiClient().ingest_reader_novel(novel.id, ingest, request_id=request_id)
        Novel.objects.filter(id=novel.id).update(ingest_job_id=accepted.job_id[:64])
        novel.refresh_from_db()
    except AiUnavailable as exc:
        logger.warning("ai could not take import %s (%s): %s", novel.id, field, exc)
        _forget_import(novel.id)
        raise ApplicationError(
            "The AI service is unavailable; the story was not imported. Retry shortly.",
            status=503,
            code=ErrorCode.AI_UNAVAILABLE,
            headers={RETRY_AFTER: "10"},
        ) from None
    except BaseException:
        _forget_import(novel.id)
        raise
    return ImportResult(
        novel=novel, job_id=accepted.job_id, estimated_duration_minutes=accepted.estimated_duration_minutes
    )


def _forget_import(novel_id: uuid.UUID) -> None:
    """Delete an import that failed after its novel was stored (its quota
    with it); a failure here is logged, not raised over the first one."""
    try:
        Novel.objects.filter(id=novel_id).delete()
    except DatabaseError:
        logger.exception("could not delete the failed import %s", novel_id)


def _ingest_filename(name: str) -> str:
    """The name ai files the text under: always .txt (core sends text)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", posixpath.splitext(name)[0])[:200].strip("._") or "novel"
    return f"{stem}.txt"


def _owner_or_staff(novel: Novel, user, action: str) -> None:
    if not selectors.is_owner_or_staff(novel, user):
        if not selectors.can_read(novel, user):
            raise Http404
        raise ApplicationError(
            f"Only the novel's owner or staff can {action} it.", status=403, code=ErrorCode.PERMISSION_DENIED
        )


@transaction.atomic
def novel_owner_update(*, novel: Novel, user, data: dict) -> Novel:
    """A reader renames their novel or changes who sees it (owner or staff)."""
    _owner_or_staff(novel, user, "change")
    fields = [name for name in ("title", "author", "visibility") if name in data]
    for name in fields:
        setattr(novel, name, data[name])
    if fields:
        novel.save(update_fields=[*fields, "updated_at"])
    if "visibility" in fields:
        # conversations imports novels: import here
        from conversations.services import conversations_follow_novel

        conversations_follow_novel(novel)
    return novel


def novel_owner_delete(*, novel: Novel, user, request_id: str | None = None) -> None:
    """Delete a novel (owner or staff). Its scenarios stay as today (their
    novel becomes empty), except those of a novel that was not public: they
    are deleted with it (soft), so a private story's scenarios never reach
    the shared lists. ai is asked to drop the vectors; a failure there is
    logged (the vectors of a missing novel are never served)."""
    _owner_or_staff(novel, user, "delete")
    from scenarios.models import Scenario  # scenarios imports novels: import here

    novel_id = novel.id
    with transaction.atomic():
        if novel.visibility != NovelVisibility.PUBLIC.value:
            Scenario.objects.filter(novel_id=novel_id, deleted_at__isnull=True).update(
                deleted_at=timezone.now()
            )
        novel.delete()
    try:
        AiClient().delete_novel_vectors(novel_id, request_id=request_id)
    except AiUnavailable as exc:
        logger.warning("ai could not drop the vectors of deleted novel %s: %s", novel_id, exc)


def account_novels_delete(*, user) -> None:
    """Account deletion (inside its transaction): the reader's imports that
    are not public go, with their scenarios (soft) as in novel_owner_delete,
    and ai drops their vectors once committed. Public ones others may have
    built on stay, without an owner (as the catalogue's)."""
    from scenarios.models import Scenario  # scenarios imports novels: import here

    hidden = list(
        Novel.objects.filter(owner=user)
        .exclude(visibility=NovelVisibility.PUBLIC.value)
        .values_list("id", flat=True)
    )
    if not hidden:
        return
    Scenario.objects.filter(novel_id__in=hidden, deleted_at__isnull=True).update(deleted_at=timezone.now())
    Novel.objects.filter(id__in=hidden).delete()

    def drop_vectors() -> None:
        for novel_id in hidden:
            try:
                AiClient().delete_novel_vectors(novel_id)
            except AiUnavailable as exc:
                logger.warning("ai could not drop the vectors of deleted novel %s: %s", novel_id, exc)

    transaction.on_commit(drop_vectors)

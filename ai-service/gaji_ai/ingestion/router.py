"""Novel ingestion (staff, and readers' imports through core): start a job, follow it.

POST /api/ai/novels/ingest           JSON {novel_file_path, metadata} or multipart file + metadata
GET  /api/ai/novels/jobs             the jobs, newest first, paginated (staff)
GET  /api/ai/novels/status/{job_id}  progress of a job (its creator and staff)
POST /api/ai/characters/extract      re-extract a novel's cast (staff)
POST /api/ai/internal/novels/{novel_id}/ingest   a reader's import (service token)
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from gaji_contracts.errors import ErrorCode, error_details
from gaji_contracts.novels import MAX_IMPORT_TEXT_CHARS, ReaderIngest, ReaderIngestAccepted, Slug
from gaji_contracts.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageInfo
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.asyncio import Redis

from gaji_ai.auth.dependencies import CurrentUser, ServiceCaller, StaffUser
from gaji_ai.common.errors import AppError, error_responses
from gaji_ai.common.ids import UUID_PATTERN
from gaji_ai.deps import (
    JsonBody,
    RedisDep,
    SettingsDep,
    VectorStoreDep,
    is_json_content_type,
    store_unavailable_as_503,
)
from gaji_ai.ingestion.jobs import (
    JOB_TTL_SECONDS,
    Job,
    Progress,
    estimate_minutes,
    indexed_job_ids,
    job_key,
    now,
    rate_key,
    save_new_job,
)
from gaji_ai.taskqueue import INGEST_TASK, send
from gaji_ai.vectors.store import PASSAGES

router = APIRouter(tags=["novels"])
internal_router = APIRouter(tags=["internal"])

ALLOWED_SUFFIXES = {".txt", ".md"}
INGEST_PATH_PATTERN = (
    r"^(?!/)(?!(?:.*/)?\.\.(?:/|$))[^\u0000]*[^/\u0000]\.(?:[Tt][Xx][Tt]|[Mm][Dd])$"
)
MAX_PAGE_NUMBER = 10_000_000  # as on core
# A reader's import as JSON: the text at up to 4 UTF-8 bytes a character,
# plus the other fields. The body size limit of its route (gaji_ai.main).
READER_INGEST_MAX_BYTES = MAX_IMPORT_TEXT_CHARS * 4 + 65536
READER_INGEST_PATH = r"^/api/ai/internal/novels/[^/]+/ingest$"


class IngestMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=300)
    author: str | None = Field(default=None, max_length=200)
    slug: Slug | None = None
    publication_year: int | None = Field(default=None, ge=-3000, le=2100)
    genre: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=20)


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` written in place: this body is
    documented by hand (openapi_extra), where `#/$defs/...` would not resolve."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(
                    {
                        **defs[ref.removeprefix("#/$defs/")],
                        **{k: v for k, v in node.items() if k != "$ref"},
                    }
                )
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(schema)


class IngestByPath(BaseModel):
    model_config = ConfigDict(extra="forbid")

    novel_file_path: str = Field(
        min_length=1,
        max_length=1024,
        # Documents what the route checks of the text itself: relative, no `..`
        # step, a .txt or .md name with something before the suffix. (It must
        # also name a file that exists, inside the novel data directory once
        # links are resolved.)
        json_schema_extra={"pattern": INGEST_PATH_PATTERN},
    )
    metadata: IngestMetadata = Field(default_factory=IngestMetadata)


class IngestAccepted(BaseModel):
    job_id: str
    status: Literal["queued"]
    estimated_duration_minutes: float
    message: str


class JobStatus(BaseModel):
    job_id: str
    status: Literal["queued", "processing", "completed", "failed"]
    novel_id: str | None
    title: str | None
    progress: Progress
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


def _invalid(message: str, field: str) -> AppError:
    return AppError(400, ErrorCode.VALIDATION_ERROR, message, {field: [message]})


def resolve_inside(data_dir: Path, requested: str) -> Path:
    """The file `requested` names, only if it resolves (symlinks followed)
    to a regular .txt/.md file inside `data_dir`; a 404 when there is no such
    file (a name too long for the file system included), a 400 otherwise."""
    if "\x00" in requested:
        raise _invalid("The path is not valid.", "novel_file_path")
    missing = "No such file in the novel data directory."
    root = data_dir.resolve()
    candidate = Path(requested)
    try:
        target = (candidate if candidate.is_absolute() else root / candidate).resolve()
        exists = target.is_file()
    except OSError:  # ENAMETOOLONG and the like: nothing by that name can exist
        raise AppError(404, ErrorCode.NOT_FOUND, missing, {"novel_file_path": [missing]}) from None
    if not target.is_relative_to(root):
        raise _invalid("The path must be inside the novel data directory.", "novel_file_path")
    if target.suffix.lower() not in ALLOWED_SUFFIXES:
        raise _invalid("Only .txt and .md files can be ingested.", "novel_file_path")
    if not exists:
        raise AppError(404, ErrorCode.NOT_FOUND, missing, {"novel_file_path": [missing]})
    return target


def _metadata(raw: Any) -> IngestMetadata:
    try:
        return IngestMetadata.model_validate(raw or {})
    except ValidationError as exc:
        details = error_details(exc.errors(), prefix="metadata")
        field, messages = next(iter(details.items()))
        raise AppError(
            400, ErrorCode.VALIDATION_ERROR, f"{field}: {messages[0]}", details
        ) from None


async def _from_json(request: Request, settings) -> tuple[Path, IngestMetadata, bool]:
    try:
        body = IngestByPath.model_validate(json.loads(await request.body() or b"null"))
    except (json.JSONDecodeError, UnicodeDecodeError):  # not JSON, or not UTF-8 text
        raise AppError(400, ErrorCode.MALFORMED_JSON, "Malformed JSON body.") from None
    except ValidationError as exc:
        details = error_details(exc.errors())
        field, messages = next(iter(details.items()))
        raise AppError(
            400, ErrorCode.VALIDATION_ERROR, f"{field}: {messages[0]}", details
        ) from None
    path = resolve_inside(settings.ingestion.novel_data_dir, body.novel_file_path)
    return path, body.metadata, False


async def _from_upload(request: Request, settings) -> tuple[Path, IngestMetadata, bool]:
    limit = settings.ingestion.max_upload_bytes
    try:
        form = await request.form(max_files=1, max_fields=2)
    except Exception:
        raise AppError(400, ErrorCode.VALIDATION_ERROR, "Malformed multipart body.") from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise _invalid("A file is required in field 'file'.", "file")
    name = upload.filename or ""
    if Path(name).suffix.lower() not in ALLOWED_SUFFIXES:
        raise _invalid("Only .txt and .md files can be ingested.", "file")
    raw_metadata = form.get("metadata")
    try:
        metadata = _metadata(
            json.loads(raw_metadata) if isinstance(raw_metadata, str) and raw_metadata else {}
        )
    except json.JSONDecodeError:
        raise _invalid("metadata must be a JSON object.", "metadata") from None
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise AppError(413, ErrorCode.PAYLOAD_TOO_LARGE, f"The file is larger than {limit} bytes.")
    if b"\x00" in data[:8192]:
        raise _invalid("The file is not text.", "file")
    folder = settings.ingestion.upload_dir
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4().hex}{Path(name).suffix.lower()}"
    await asyncio.to_thread(target.write_bytes, data)
    return target, metadata, True


@router.post(
    "/novels/ingest",
    status_code=202,
    response_model=IngestAccepted,
    responses=error_responses(400, 401, 403, 404, 413, 415, 429, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _inlined(IngestByPath.model_json_schema())},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "A .txt or .md file (by the part's file name)",
                            },
                            "metadata": {
                                **IngestMetadata.model_json_schema(),
                                "description": "A JSON object, as for the path form",
                            },
                        },
                        "additionalProperties": False,
                    },
                    "encoding": {"metadata": {"contentType": "application/json"}},
                },
            },
        }
    },
)
async def ingest(
    request: Request, user: StaffUser, settings: SettingsDep, redis: RedisDep
) -> IngestAccepted:
    """Queue a novel for ingestion (staff). Either a path inside the novel
    data directory, or an uploaded .txt/.md file (≤ MAX_UPLOAD_BYTES)."""
    content_type = request.headers.get("content-type", "")
    if is_json_content_type(content_type):
        path, metadata, uploaded = await _from_json(request, settings)
    elif content_type.startswith("multipart/form-data"):
        path, metadata, uploaded = await _from_upload(request, settings)
    else:
        raise AppError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send JSON or multipart/form-data.")
    size = path.stat().st_size
    job = Job(
        job_id=Job.new_id(),
        source_path=str(path),
        upload=uploaded,
        metadata=metadata.model_dump(exclude_none=True),
        size_bytes=size,
        title=metadata.title,
        created_by=user.sub,
    )
    await _queue(job, settings, redis)
    rate = await redis.get(rate_key(settings.rate_limit.rate_limit_prefix))
    minutes = estimate_minutes(size, float(rate) if rate else None)
    return IngestAccepted(
        job_id=job.job_id,
        status=job.status,
        estimated_duration_minutes=minutes,
        message=f"Ingestion of {path.name} queued; follow it at /api/ai/novels/status/{{job_id}}.",
    )


# Declared before the /novels/{novel_id}/... routes, so "jobs" is never read as a novel id.
@router.get(
    "/novels/jobs",
    response_model=Page[JobStatus],
    responses=error_responses(400, 401, 403, 429),
)
async def list_jobs(
    user: StaffUser,
    settings: SettingsDep,
    redis: RedisDep,
    page: Annotated[int, Query(ge=0, le=MAX_PAGE_NUMBER, description="0-indexed")] = 0,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> Page[JobStatus]:
    """The ingestion and extraction jobs (staff), newest first: the newest
    1,000 of the last 7 days, each as GET /api/ai/novels/status/{job_id}
    answers it."""
    prefix = settings.rate_limit.rate_limit_prefix
    ids = await indexed_job_ids(redis, prefix)
    start = page * size
    chosen = ids[start : start + size]
    raws = await redis.mget([job_key(prefix, job_id) for job_id in chosen]) if chosen else []
    content = [
        await _status_of(Job.model_validate_json(raw), settings, redis)
        for raw in raws
        if raw is not None  # expired since the index was read
    ]
    total = len(ids)
    return Page[JobStatus](
        content=content,
        page=PageInfo(
            number=page, size=size, total_elements=total, total_pages=math.ceil(total / size)
        ),
    )


@router.get(
    "/novels/status/{job_id}",
    response_model=JobStatus,
    responses=error_responses(401, 403, 404, 429),
)
async def job_status(
    job_id: Annotated[str, PathParam(max_length=64)],
    user: CurrentUser,
    settings: SettingsDep,
    redis: RedisDep,
) -> JobStatus:
    """A job's progress, for the reader who started it and for staff. Anyone
    else gets 404, as for a job that does not exist: job ids cannot be probed."""
    raw = await redis.get(job_key(settings.rate_limit.rate_limit_prefix, job_id))
    job = Job.model_validate_json(raw) if raw is not None else None
    mine = job is not None and job.created_by is not None and job.created_by == user.sub
    if job is None or not (user.is_staff or mine):
        raise AppError(404, ErrorCode.NOT_FOUND, "No such ingestion job.")
    return await _status_of(job, settings, redis)


async def _status_of(job: Job, settings, redis: Redis) -> JobStatus:
    """What the status and list routes show of a job."""
    if job.stale(settings.ingestion.job_stale_seconds):
        # The worker stopped beating (killed mid-job): say so, and record it.
        job.status, job.error, job.completed_at = (
            "failed",
            "The worker stopped during the job (lost).",
            now(),
        )
        key = job_key(settings.rate_limit.rate_limit_prefix, job.job_id)
        await redis.set(key, job.model_dump_json(), ex=JOB_TTL_SECONDS)
    return JobStatus(
        job_id=job.job_id,
        status=job.status,
        novel_id=job.novel_id,
        title=job.title,
        progress=job.progress,
        error=job.error,
        attempts=job.attempts,
        created_at=job.created_at,
        updated_at=job.updated_at,
        completed_at=job.completed_at,
    )


class ExtractRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    novel_id: Annotated[str, Field(pattern=UUID_PATTERN)]
    extraction_mode: Literal["full", "quick"] = "full"


async def _queue(job: Job, settings, redis) -> None:
    prefix = settings.rate_limit.rate_limit_prefix
    try:
        await save_new_job(redis, prefix, job)
        await send(INGEST_TASK, job.job_id)
    except Exception as exc:
        raise AppError(503, ErrorCode.SERVICE_UNAVAILABLE, "The job queue is unavailable.") from exc


@router.post(
    "/characters/extract",
    status_code=202,
    response_model=IngestAccepted,
    dependencies=[JsonBody],
    responses=error_responses(400, 401, 403, 404, 415, 429, 503),
)
async def extract_characters(
    body: ExtractRequest,
    user: StaffUser,
    settings: SettingsDep,
    redis: RedisDep,
    store: VectorStoreDep,
) -> IngestAccepted:
    """Re-extract an ingested novel's cast (staff): a job like an ingestion,
    followed at /api/ai/novels/status/{job_id}. `quick` keeps the top 12."""
    novel_id = body.novel_id.lower()
    with store_unavailable_as_503():
        passages = await store.count(PASSAGES, novel_id)
    if passages == 0:
        raise AppError(404, ErrorCode.NOT_FOUND, "No ingested novel with this id.")
    job = Job(
        job_id=Job.new_id(),
        kind="characters",
        novel_id=novel_id,
        extraction_mode=body.extraction_mode,
        created_by=user.sub,
    )
    await _queue(job, settings, redis)
    rate = float(await redis.get(rate_key(settings.rate_limit.rate_limit_prefix)) or 0) or None
    return IngestAccepted(
        job_id=job.job_id,
        status=job.status,
        # Extraction reads ~1,000 characters per stored passage and costs about
        # a tenth of an ingestion's time per character (no embedding of passages).
        estimated_duration_minutes=estimate_minutes(passages * 100, rate),
        message="Character extraction queued; follow it at /api/ai/novels/status/{job_id}.",
    )


def _reader_ingest(raw: bytes) -> ReaderIngest:
    try:
        return ReaderIngest.model_validate_json(raw or b"null")
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise AppError(400, ErrorCode.MALFORMED_JSON, "Malformed JSON body.") from None
        details = error_details(exc.errors())
        field, messages = next(iter(details.items()))
        raise AppError(
            400, ErrorCode.VALIDATION_ERROR, f"{field}: {messages[0]}", details
        ) from None


@internal_router.post(
    "/novels/{novel_id}/ingest",
    status_code=202,
    response_model=ReaderIngestAccepted,
    dependencies=[JsonBody],
    responses=error_responses(400, 401, 403, 413, 415, 503),
    # The body is read by the route, after the caller is known to be core (a
    # body parameter would be read, up to READER_INGEST_MAX_BYTES, first).
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inlined(ReaderIngest.model_json_schema())}},
        }
    },
)
async def reader_ingest(
    novel_id: Annotated[str, PathParam(pattern=UUID_PATTERN)],
    request: Request,
    caller: ServiceCaller,
    settings: SettingsDep,
    redis: RedisDep,
) -> ReaderIngestAccepted:
    """Ingest a reader's import into the novel core already created
    (service token; body ReaderIngest): the same job a staff ingest is, its
    novel preset (no lookup or creation by slug; core's slug and title are
    kept). The job's status is readable by `created_by` at
    /api/ai/novels/status/{job_id}."""
    body = _reader_ingest(await request.body())
    novel_id = novel_id.lower()
    data = body.text.encode()  # pydantic refuses JSON's lone surrogates: always UTF-8
    folder = settings.ingestion.upload_dir
    target = folder / f"{uuid.uuid4().hex}.txt"
    try:
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(target.write_bytes, data)
    except OSError as exc:
        raise AppError(503, ErrorCode.SERVICE_UNAVAILABLE, "The text cannot be stored.") from exc
    job = Job(
        job_id=Job.new_id(),
        novel_id=novel_id,
        novel_preset=True,
        source_path=str(target),
        upload=True,
        metadata={"title": body.title, "author": body.author, "language": body.language},
        size_bytes=len(data),
        title=body.title,
        created_by=str(body.created_by),
    )
    try:
        await _queue(job, settings, redis)
    except AppError:
        await asyncio.to_thread(target.unlink, missing_ok=True)
        raise
    # A reader may have asked about the novel before core created it.
    request.app.state.novel_access.invalidate(novel_id)
    rate = await redis.get(rate_key(settings.rate_limit.rate_limit_prefix))
    return ReaderIngestAccepted(
        job_id=job.job_id,
        status=job.status,
        estimated_duration_minutes=estimate_minutes(len(body.text), float(rate) if rate else None),
    )

"""Uploads: the tus 1.0 resumable protocol (core, creation, termination, checksum, expiration)
and a one-shot multipart form for small files. Bodies stream to local scratch files; the
ingest room decides what happens to them."""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import email.utils
import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Header, Request, Response, UploadFile
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

import ingest
from api.deps import CurrentPrincipal, DbSession, ServicesDep, SettingsDep, requires
from api.routers.videos import _base_url, _creator, _describe
from core.auth import Scope
from core.errors import (
    ChecksumMismatchError,
    InvalidInputError,
    PreconditionFailedError,
    TooLargeError,
    UnsupportedMediaError,
    VigilError,
)
from core.runtime import Services

router = APIRouter(tags=["uploads"])

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,expiration,checksum,termination"
_CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "md5": hashlib.md5}
_BLOCK = 1024 * 1024


def _tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}


def _http_date(value: dt.datetime) -> str:
    return email.utils.format_datetime(value, usegmt=True)


def _check_version(tus_resumable: str | None) -> None:
    if tus_resumable != TUS_VERSION:
        raise PreconditionFailedError(
            f"Tus-Resumable must be {TUS_VERSION} (got {tus_resumable!r})",
            details={"header": "Tus-Resumable", "supported": TUS_VERSION},
        )


def _metadata(header: str | None) -> dict[str, str]:
    """tus Upload-Metadata: ``key base64value`` pairs separated by commas."""
    found: dict[str, str] = {}
    for item in (header or "").split(","):
        if not item.strip():
            continue
        key, _, value = item.strip().partition(" ")
        try:
            found[key] = base64.b64decode(value, validate=True).decode() if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidInputError(
                f"Upload-Metadata value of {key!r} is not base64 of UTF-8 text",
                details={"header": "Upload-Metadata", "key": key},
            ) from None
    return found


def tus_options(request: Request) -> Response:
    """Discovery: what this server supports (no authentication, as tus clients expect)."""
    return Response(
        status_code=204,
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Checksum-Algorithm": ",".join(_CHECKSUMS),
        },
    )


@router.post(
    "/v1/uploads",
    status_code=201,
    summary="tus creation: start a resumable upload (a new video, or `video_id` in metadata)",
    dependencies=[requires(Scope.VIDEOS_WRITE)],
)
def create_upload(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    upload_length: Annotated[str | None, Header()] = None,
    upload_metadata: Annotated[str | None, Header()] = None,
    tus_resumable: Annotated[str | None, Header()] = None,
) -> Response:
    _check_version(tus_resumable)
    if upload_length is None or not upload_length.isdigit():
        raise InvalidInputError(
            "Upload-Length must be the file's size in bytes (deferred length is not supported)",
            details={"header": "Upload-Length", "got": upload_length},
        )
    meta = _metadata(upload_metadata)
    creator = _creator(db, principal)
    if meta.get("video_id"):
        video = ingest.service.get_or_raise(db, video_id=meta["video_id"])
        ingest.service.ensure_owner(principal, video)
    else:
        fields = _video_fields(
            where="Upload-Metadata ",
            caption=meta.get("caption", ""),
            hashtags=meta.get("hashtags", ""),
            sound_name=meta.get("sound_name"),
            language=meta.get("language"),
            audience=meta.get("audience") or ingest.Audience.PUBLIC,
        )
        ingest.uploads.check_declared(
            length=int(upload_length), filetype=meta.get("filetype"), limits=settings.media
        )
        video = ingest.service.create(db, creator=creator, fields=fields)
    upload = ingest.uploads.create(
        db,
        video=video,
        owner_id=creator.id,
        length=int(upload_length),
        limits=settings.media,
        filename=meta.get("filename") or None,
        filetype=meta.get("filetype") or None,
        expected_sha256=meta.get("sha256") or None,
    )
    db.commit()
    ingest.uploads.refresh_in_progress(db)
    base = _base_url(request, settings.http.public_url)
    return Response(
        status_code=201,
        headers=_tus_headers(
            Location=f"{base}/v1/uploads/{upload.id}",
            **{
                "Upload-Offset": "0",
                "Upload-Expires": _http_date(upload.expires_at),
                "Vigil-Video-Id": video.id,
            },
        ),
    )


@router.head(
    "/v1/uploads/{upload_id}",
    summary="tus offset: how many bytes the server has",
    dependencies=[requires(Scope.VIDEOS_WRITE)],
)
def upload_offset(
    upload_id: str,
    db: DbSession,
    principal: CurrentPrincipal,
    tus_resumable: Annotated[str | None, Header()] = None,
) -> Response:
    _check_version(tus_resumable)
    upload = ingest.uploads.get_for(db, upload_id=upload_id, principal=principal)
    return Response(
        status_code=200, headers=_offset_headers(upload, **{"Upload-Length": str(upload.length)})
    )


@router.patch(
    "/v1/uploads/{upload_id}",
    status_code=204,
    summary="tus append: send bytes from Upload-Offset; the last chunk completes the upload",
    dependencies=[requires(Scope.VIDEOS_WRITE)],
)
async def append_to_upload(
    upload_id: str,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    services: ServicesDep,
    upload_offset: Annotated[str | None, Header()] = None,
    upload_checksum: Annotated[str | None, Header()] = None,
    content_type: Annotated[str | None, Header()] = None,
    tus_resumable: Annotated[str | None, Header()] = None,
) -> Response:
    _check_version(tus_resumable)
    if (content_type or "").split(";")[0].strip() != "application/offset+octet-stream":
        raise UnsupportedMediaError(
            "PATCH bodies must have Content-Type: application/offset+octet-stream",
            details={"header": "Content-Type", "got": content_type},
        )
    if upload_offset is None or not upload_offset.isdigit():
        raise InvalidInputError(
            "Upload-Offset must be the byte offset this chunk starts at",
            details={"header": "Upload-Offset", "got": upload_offset},
        )
    upload = await run_in_threadpool(
        ingest.uploads.get_for, db, upload_id=upload_id, principal=principal
    )
    checksum = _parse_checksum(upload_checksum)
    settings = services.settings
    with _scratch_file(services) as scratch:
        room = upload.length - int(upload_offset)
        chunk, complete = await _receive(request, scratch, room=room, checksum=checksum)
        if not complete and (checksum is not None or chunk.size == 0):
            return Response(status_code=400)  # the client went away; nothing to answer
        try:
            event = await run_in_threadpool(
                ingest.uploads.append,
                db,
                services.store,
                upload=upload,
                offset=int(upload_offset),
                chunk=chunk,
                limits=settings.media,
                work_dir=scratch.parent,
            )
        except VigilError:
            db.commit()  # keep the refusal (video failed, with its reason)
            ingest.uploads.refresh_in_progress(db)
            raise
    db.commit()
    if event is not None:
        await services.bus.publish("video.uploaded", event, key=event["video_id"])
        ingest.uploads.refresh_in_progress(db)
    return Response(status_code=204, headers=_offset_headers(upload))


@router.delete(
    "/v1/uploads/{upload_id}",
    status_code=204,
    summary="tus termination: abandon an upload and its stored bytes",
    dependencies=[requires(Scope.VIDEOS_WRITE)],
)
def terminate_upload(
    upload_id: str,
    db: DbSession,
    principal: CurrentPrincipal,
    services: ServicesDep,
    tus_resumable: Annotated[str | None, Header()] = None,
) -> Response:
    _check_version(tus_resumable)
    upload = ingest.uploads.get_for(db, upload_id=upload_id, principal=principal)
    ingest.uploads.terminate(db, services.store, upload=upload)
    db.commit()
    ingest.uploads.refresh_in_progress(db)
    return Response(status_code=204, headers=_tus_headers())


@router.post(
    "/v1/uploads/form",
    status_code=201,
    summary="One-shot upload of a small file (multipart form) with the video's fields",
    dependencies=[requires(Scope.VIDEOS_WRITE)],
)
async def upload_form(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    services: ServicesDep,
    file: UploadFile,
    caption: Annotated[str, Form()] = "",
    hashtags: Annotated[str, Form(description="Comma- or space-separated")] = "",
    sound_name: Annotated[str | None, Form()] = None,
    language: Annotated[str | None, Form()] = None,
    audience: Annotated[ingest.Audience, Form()] = ingest.Audience.PUBLIC,
    sha256: Annotated[str | None, Form(pattern=r"^[0-9a-fA-F]{64}$")] = None,
) -> ingest.VideoCreated:
    settings = services.settings
    limit = settings.media.max_form_bytes
    fields = _video_fields(
        where="",
        caption=caption,
        hashtags=hashtags,
        sound_name=sound_name,
        language=language,
        audience=audience,
    )
    ingest.uploads.check_declared(
        length=file.size, filetype=file.content_type, limits=settings.media
    )
    creator = await run_in_threadpool(_creator, db, principal)
    with _scratch_file(services) as scratch:
        digest = hashlib.sha256()
        size = 0
        with scratch.open("wb") as out:
            while block := await file.read(_BLOCK):
                size += len(block)
                if size > limit:
                    raise TooLargeError(
                        f"one-shot uploads are limited to {limit} bytes "
                        "(VIGIL_MEDIA__MAX_FORM_BYTES); use the resumable tus upload at "
                        "/v1/uploads for bigger files",
                        details={"limit": limit, "reason": "too_large"},
                    )
                digest.update(block)
                out.write(block)
        video = ingest.service.create(db, creator=creator, fields=fields)
        try:
            event = await run_in_threadpool(
                ingest.uploads.accept_form_file,
                db,
                services.store,
                video=video,
                path=scratch,
                sha256=digest.hexdigest(),
                limits=settings.media,
                filename=file.filename,
                expected_sha256=sha256,
            )
        except VigilError:
            db.commit()
            raise
    db.commit()
    await services.bus.publish("video.uploaded", event, key=video.id)
    out = _describe(db, video, principal, creator.country, settings, request)
    return ingest.VideoCreated(video=out)


def _video_fields(
    *,
    where: str,
    caption: str,
    hashtags: str,
    sound_name: str | None,
    language: str | None,
    audience: str,
) -> ingest.VideoFields:
    """The video's fields from text inputs (tus metadata or form fields); ``where`` prefixes
    the message of a refusal with where the bad value came from."""
    try:
        return ingest.VideoFields(
            caption=caption,
            hashtags=[t for t in hashtags.replace(",", " ").split() if t],
            sound_name=sound_name or None,
            language=language or None,
            audience=audience,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(p) for p in problem["loc"])
        raise InvalidInputError(
            f"{where}{field}: {problem['msg']}", details={"field": field}
        ) from None


def _offset_headers(upload: ingest.Upload, **extra: str) -> dict[str, str]:
    """tus headers telling where an upload stands (and until when an active one lives)."""
    headers = _tus_headers(**{"Upload-Offset": str(upload.offset)}, **extra)
    if upload.state == ingest.UploadState.ACTIVE:
        headers["Upload-Expires"] = _http_date(upload.expires_at)
    return headers


def _parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    if not header:
        return None
    algorithm, _, value = header.strip().partition(" ")
    if algorithm not in _CHECKSUMS:
        raise InvalidInputError(
            f"Upload-Checksum algorithm {algorithm!r} is not supported; use one of "
            f"{', '.join(_CHECKSUMS)}",
            details={"header": "Upload-Checksum", "supported": list(_CHECKSUMS)},
        )
    try:
        return algorithm, base64.b64decode(value, validate=True)
    except binascii.Error:
        raise InvalidInputError(
            "Upload-Checksum value must be base64", details={"header": "Upload-Checksum"}
        ) from None


@contextlib.contextmanager
def _scratch_file(services: Services) -> Iterator[Path]:
    folder = ingest.uploads.scratch_dir(services.settings.effective_work_dir)
    path = folder / f"body-{secrets.token_hex(8)}"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


async def _receive(
    request: Request, path: Path, *, room: int, checksum: tuple[str, bytes] | None
) -> tuple[ingest.uploads.Chunk, bool]:
    """Stream the body to ``path``. Returns the chunk and whether the body arrived whole (a
    client that goes away mid-body leaves what it sent, which tus lets the server keep)."""
    digest = hashlib.sha256()
    check = _CHECKSUMS[checksum[0]]() if checksum else None
    size = 0
    complete = True
    with path.open("wb") as out:
        try:
            async for block in request.stream():
                size += len(block)
                if size > room:
                    raise TooLargeError(
                        f"the body is longer than the {room} bytes left of this upload",
                        details={"room": room, "reason": "past_upload_length"},
                    )
                digest.update(block)
                if check is not None:
                    check.update(block)
                out.write(block)
        except ClientDisconnect:
            complete = False
    if complete and check is not None and checksum is not None and check.digest() != checksum[1]:
        raise ChecksumMismatchError(
            f"the chunk's {checksum[0]} does not match Upload-Checksum; send it again",
            details={"header": "Upload-Checksum", "algorithm": checksum[0]},
        )
    return ingest.uploads.Chunk(path=path, size=size, sha256=digest.hexdigest()), complete

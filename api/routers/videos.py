"""Videos: create, read, play. Playback files are served with byte ranges and cache headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

import ingest
from api.deps import (
    CurrentPrincipal,
    DbSession,
    RequireScope,
    ServicesDep,
    SettingsDep,
    requires,
    resolve_principal,
)
from api.ranges import parse_range
from core import auth
from core.auth import Principal, Scope
from core.errors import PermissionDeniedError
from core.settings import Settings
from core.storage import ObjectStream

router = APIRouter(tags=["videos"])


def _base_url(request: Request, public_url: str | None) -> str:
    return (public_url or str(request.base_url)).rstrip("/")


def _creator(db: DbSession, principal: Principal) -> auth.User:
    if principal.kind != "user":
        raise PermissionDeniedError(
            f"{principal.describe()} cannot create videos: a signed-in creator uploads them"
        )
    return auth.get_user_or_raise(db, user_id=principal.id)


def _describe(
    db: DbSession,
    video: ingest.Video,
    principal: Principal,
    country: str | None,
    settings: Settings,
    request: Request,
) -> ingest.VideoOut:
    """The video as ``principal`` sees it, with links signed for ``country``."""
    return ingest.service.describe(
        db,
        video=video,
        principal=principal,
        country=country,
        secret=settings.auth.secret_key.get_secret_value(),
        base_url=_base_url(request, settings.http.public_url),
    )


def _viewer_country(db: DbSession, principal: Principal, requested: str | None) -> str | None:
    user = auth.get_user(db, user_id=principal.id) if principal.kind == "user" else None
    return ingest.service.viewer_country(principal, user, requested)


@router.post(
    "/v1/videos",
    status_code=201,
    summary="Create a video and, with upload_length, its resumable upload",
    dependencies=[requires(Scope.VIDEOS_WRITE)],
)
def create_video(
    body: ingest.VideoCreate,
    db: DbSession,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    request: Request,
) -> ingest.VideoCreated:
    creator = _creator(db, principal)
    video = ingest.service.create(db, creator=creator, fields=body)
    base = _base_url(request, settings.http.public_url)
    upload = None
    if body.upload_length is not None:
        upload = ingest.uploads.create(
            db,
            video=video,
            owner_id=creator.id,
            length=body.upload_length,
            limits=settings.media,
            filename=body.filename,
            expected_sha256=body.sha256,
        )
    db.commit()
    out = _describe(db, video, principal, creator.country, settings, request)
    return ingest.VideoCreated(
        video=out, upload=ingest.service.upload_out(upload, base_url=base) if upload else None
    )


@router.get(
    "/v1/videos",
    summary="Videos, newest first: a creator's, or by state for staff",
    dependencies=[requires(Scope.VIDEOS_READ)],
)
def list_videos(
    db: DbSession,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    request: Request,
    creator_id: str | None = None,
    state: ingest.VideoState | None = None,
    country: Annotated[str | None, Query(description="Viewer country, for API keys")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ingest.VideoOut]:
    where = _viewer_country(db, principal, country)
    found = []
    for video in ingest.service.list_videos(db, creator_id=creator_id, state=state, limit=limit):
        try:
            found.append(_describe(db, video, principal, where, settings, request))
        except (ingest.service.VideoUnavailableError, ingest.service.VideoBlockedError):
            continue
    return found


@router.get(
    "/v1/videos/{video_id}",
    summary="A video: state, metadata and signed playback, thumbnail and storyboard URLs",
    dependencies=[requires(Scope.VIDEOS_READ)],
)
def get_video(
    video_id: str,
    db: DbSession,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    request: Request,
    country: Annotated[
        str | None, Query(description="Viewer country (ISO 3166-1), for API keys")
    ] = None,
) -> ingest.VideoOut:
    video = ingest.service.get_or_raise(db, video_id=video_id)
    return _describe(
        db, video, principal, _viewer_country(db, principal, country), settings, request
    )


class PlaybackAccess(RequireScope):
    """A signed playback token in ``?token=``, or a caller with videos:read. Returns the viewer
    country the check is made for."""

    def __init__(self) -> None:
        super().__init__(Scope.VIDEOS_READ)

    def __call__(  # type: ignore[override]
        self,
        request: Request,
        db: DbSession,
        settings: SettingsDep,
        token: Annotated[str | None, Query(description="Playback token from playback_url")] = None,
    ) -> str | None:
        video_id = request.path_params.get("video_id", "")
        secret = settings.auth.secret_key.get_secret_value()
        if token:
            return ingest.playback.verify(secret=secret, video_id=video_id, token=token)
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        bearer = credentials.strip() if scheme.lower() == "bearer" else None
        principal = resolve_principal(db, settings, bearer or None)
        principal.require(Scope.VIDEOS_READ)
        return _viewer_country(db, principal, request.query_params.get("country"))


ViewerCountry = Annotated[str | None, Depends(PlaybackAccess())]


@router.get(
    "/v1/videos/{video_id}/media/{path:path}",
    summary="A playlist, segment, thumbnail or storyboard file of a playable video",
    response_class=Response,
)
def get_media(
    video_id: str,
    path: str,
    request: Request,
    db: DbSession,
    services: ServicesDep,
    country: ViewerCountry,
) -> Response:
    media = ingest.service.playable_file(db, video_id=video_id, path=path, country=country)
    db.commit()  # release the database before streaming
    store = services.store
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "public, max-age=31536000, immutable"
        if media.immutable
        else "private, no-cache",
        "Access-Control-Allow-Origin": "*",
    }
    if path.endswith(".m3u8"):
        token = request.query_params.get("token")
        text = store.get_bytes(media.key).decode()
        body = ingest.playback.sign_playlist(text, token) if token else text
        return Response(body, media_type=media.content_type, headers=headers)
    info = store.stat(media.key)
    headers["ETag"] = f'"{info.etag}"'
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    requested = parse_range(request.headers.get("range"), size=info.size)
    if requested is None:
        stream = store.get(media.key)
        status = 200
    else:
        start, end = requested
        stream = store.get(media.key, start=start, end=end)
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
    headers["Content-Length"] = str(stream.length)
    return StreamingResponse(
        _iterate(stream), status_code=status, media_type=media.content_type, headers=headers
    )


async def _iterate(stream: ObjectStream) -> AsyncIterator[bytes]:
    try:
        while True:
            block = await run_in_threadpool(next, stream, None)
            if block is None:
                return
            yield block
    finally:
        stream.close()

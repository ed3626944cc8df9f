"""Comments: post one on a video, read what a viewer may see, delete."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

import ingest
from api.deps import CurrentPrincipal, DbSession, ServicesDep, requires
from core import auth
from core.auth import Principal, Scope
from core.errors import PermissionDeniedError

router = APIRouter(tags=["comments"])


def _author(db: DbSession, principal: Principal) -> auth.User:
    if principal.kind != "user":
        raise PermissionDeniedError(
            f"{principal.describe()} cannot comment: comments are written by signed-in users"
        )
    return auth.get_user_or_raise(db, user_id=principal.id)


@router.post(
    "/v1/videos/{video_id}/comments",
    status_code=201,
    summary="Post a comment (checked by moderation right after)",
    dependencies=[requires(Scope.COMMENTS_WRITE)],
)
async def post_comment(
    video_id: str,
    body: ingest.comments.CommentCreate,
    db: DbSession,
    principal: CurrentPrincipal,
    services: ServicesDep,
) -> ingest.comments.CommentOut:
    def store() -> tuple[ingest.comments.CommentOut, dict[str, object]]:
        author = _author(db, principal)
        comment = ingest.comments.post(db, author=author, video_id=video_id, body=body)
        db.commit()
        return ingest.comments.CommentOut.of(comment, "visible"), ingest.comments.event(comment)

    out, event = await run_in_threadpool(store)
    await services.bus.publish("comment.created", event, key=video_id)
    return out


@router.get(
    "/v1/videos/{video_id}/comments",
    summary="Comments a viewer may read, newest first",
    dependencies=[requires(Scope.VIDEOS_READ)],
)
def list_comments(
    video_id: str,
    db: DbSession,
    principal: CurrentPrincipal,
    country: Annotated[
        str | None, Query(description="Viewer country (ISO 3166-1), for API keys")
    ] = None,
    before: Annotated[
        dt.datetime | None, Query(description="Only comments older than this")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ingest.comments.CommentOut]:
    ingest.service.get_or_raise(db, video_id=video_id)
    user = auth.get_user(db, user_id=principal.id) if principal.kind == "user" else None
    where = ingest.service.viewer_country(principal, user, country)
    return ingest.comments.visible(
        db, video_id=video_id, viewer=principal, country=where, limit=limit, before=before
    )


@router.delete(
    "/v1/comments/{comment_id}",
    status_code=204,
    summary="Delete a comment (its author or a moderator)",
    dependencies=[requires(Scope.COMMENTS_WRITE)],
)
def delete_comment(comment_id: str, db: DbSession, principal: CurrentPrincipal) -> Response:
    ingest.comments.delete(db, comment_id=comment_id, principal=principal)
    db.commit()
    return Response(status_code=204)

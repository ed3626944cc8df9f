"""Comments on videos: post, list what a viewer may see, delete.

A comment is shown as soon as it is posted and checked right after (``comment.created`` on the
bus): the moderation worker holds or removes it through the visibility table, which listing reads
on every request. Its author keeps seeing a held comment, marked as such, so nothing they wrote
silently disappears.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

import moderation
from core.auth import Principal, Scope, User
from core.db import utcnow
from core.errors import InvalidInputError, NotFoundError, PermissionDeniedError

from .models import Comment, Video, VideoState

MAX_COMMENT_CHARS = 1000
_HIDDEN = ("held", "removed", "blocked")


class CommentCreate(BaseModel):
    """What an app sends to post a comment."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_COMMENT_CHARS)
    parent_id: str | None = Field(None, max_length=32, description="The comment replied to.")
    language: str | None = Field(
        None,
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
        description="Language the app believes the text is in (BCP 47); moderation detects it.",
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text must contain something other than spaces")
        return text


class CommentOut(BaseModel):
    id: str
    video_id: str
    author_id: str
    parent_id: str | None
    text: str
    language: str | None
    created_at: dt.datetime
    #: ``visible`` for everyone; the author also sees ``held`` (waiting for review).
    status: str

    @classmethod
    def of(cls, comment: Comment, status: str) -> CommentOut:
        return cls(
            id=comment.id,
            video_id=comment.video_id,
            author_id=comment.author_id,
            parent_id=comment.parent_id,
            text=comment.text,
            language=comment.language,
            created_at=comment.created_at,
            status=status,
        )


class CommentNotFoundError(NotFoundError):
    def __init__(self, comment_id: str) -> None:
        super().__init__(f"comment {comment_id!r} not found", details={"comment_id": comment_id})


def post(db: Session, *, author: User, video_id: str, body: CommentCreate) -> Comment:
    """Store a comment on a ready video. The caller commits, then publishes :func:`event`."""
    video = db.get(Video, video_id)
    if video is None or video.state != VideoState.READY:
        raise NotFoundError(
            f"video {video_id!r} not found or not ready for comments",
            details={"video_id": video_id},
        )
    if body.parent_id is not None:
        parent = db.get(Comment, body.parent_id)
        if parent is None or parent.video_id != video_id or parent.deleted_at is not None:
            raise InvalidInputError(
                f"parent_id {body.parent_id!r} is not a comment on video {video_id!r}",
                details={"field": "parent_id"},
            )
    comment = Comment(
        video_id=video_id,
        author_id=author.id,
        parent_id=body.parent_id,
        text=body.text,
        language=body.language,
        region=author.country,
    )
    db.add(comment)
    db.flush()
    return comment


def event(comment: Comment) -> dict[str, Any]:
    """The ``comment.created`` payload: enough to check the comment without a lookup."""
    return {
        "comment_id": comment.id,
        "video_id": comment.video_id,
        "author_id": comment.author_id,
        "text": comment.text,
        "language": comment.language,
        "region": comment.region,
        "created_at": comment.created_at.isoformat(),
    }


def _hidden_for(country: str | None) -> Any:
    """Rows of the visibility table that hide a comment from a viewer in ``country``."""
    sv = moderation.SubjectVisibility
    countries = [moderation.EVERYWHERE, *([country.upper()] if country else [])]
    return exists().where(
        sv.subject_type == "comment",
        sv.subject_id == Comment.id,
        sv.country.in_(countries),
        sv.visibility.in_(_HIDDEN),
    )


def visible(
    db: Session,
    *,
    video_id: str,
    viewer: Principal,
    country: str | None,
    limit: int = 50,
    before: dt.datetime | None = None,
) -> list[CommentOut]:
    """Comments on a video that a viewer in ``country`` may read, newest first. The author of a
    held comment still sees it (status ``held``); staff see everything not deleted."""
    staff = viewer.has(Scope.MODERATION_REVIEW)
    query = select(Comment).where(Comment.video_id == video_id, Comment.deleted_at.is_(None))
    if before is not None:
        query = query.where(Comment.created_at < before)
    me = viewer.id if viewer.kind == "user" else None
    if not staff:
        hidden = _hidden_for(country)
        query = query.where(~hidden if me is None else or_(~hidden, Comment.author_id == me))
    rows = db.scalars(query.order_by(Comment.created_at.desc()).limit(limit)).all()
    out = []
    for row in rows:
        status = moderation.Visibility.VISIBLE
        if staff or row.author_id == me:  # others only ever get visible ones
            status, _reason = moderation.visibility_of(
                db, subject_type="comment", subject_id=row.id, country=country
            )
        out.append(CommentOut.of(row, str(status)))
    return out


def delete(db: Session, *, comment_id: str, principal: Principal) -> None:
    """Delete a comment: its author or a moderator may."""
    comment = db.get(Comment, comment_id)
    if comment is None or comment.deleted_at is not None:
        raise CommentNotFoundError(comment_id)
    is_author = principal.kind == "user" and principal.id == comment.author_id
    if not is_author and not principal.has(Scope.MODERATION_REVIEW):
        raise PermissionDeniedError(
            f"{principal.describe()} may not delete comment {comment_id!r}: only its author or "
            "a moderator can"
        )
    comment.deleted_at = utcnow()
    db.flush()

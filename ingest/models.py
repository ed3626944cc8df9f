"""Tables of the ingest room: videos, their resumable uploads and their perceptual hashes."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, new_id, utcnow


class VideoState(StrEnum):
    """Where a video is in its life: ``awaiting_upload`` until its bytes are in, then the
    pipeline's states."""

    AWAITING_UPLOAD = "awaiting_upload"
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class Audience(StrEnum):
    """Who the creator wants to see the video (moderation may narrow it further)."""

    PUBLIC = "public"
    FOLLOWERS = "followers"
    PRIVATE = "private"


class UploadState(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    FAILED = "failed"


class Video(Base):
    """One short video: what the creator said about it and what the media worker made of it."""

    __tablename__ = "videos"
    __table_args__ = (Index("ix_videos_creator_created", "creator_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    caption: Mapped[str] = mapped_column(Text, default="")
    hashtags: Mapped[list[str]] = mapped_column(JSON, default=list)
    sound_name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(8))
    audience: Mapped[str] = mapped_column(String(16), default=Audience.PUBLIC)
    region: Mapped[str | None] = mapped_column(String(2), index=True)
    state: Mapped[str] = mapped_column(String(16), default=VideoState.AWAITING_UPLOAD, index=True)
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    uploaded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    processing_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ready_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    processing_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The original file as uploaded.
    source_filename: Mapped[str | None] = mapped_column(String(255))
    source_bytes: Mapped[int | None] = mapped_column(BigInteger)
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    # What the probe found and what the pipeline made (rungs, artefact keys, timings).
    duration_s: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None]
    height: Mapped[int | None]
    probe: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    stored_bytes: Mapped[int | None] = mapped_column(BigInteger)


class Upload(Base):
    """A tus upload: its bytes land as numbered parts until the last one completes it."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    parts: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=UploadState.ACTIVE, index=True)
    filename: Mapped[str | None] = mapped_column(String(255))
    filetype: Mapped[str | None] = mapped_column(String(100))
    # Expected SHA-256 (hex) of the whole file, checked when the last byte arrives.
    expected_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class VideoFrameHash(Base):
    """The PDQ hash of one sampled frame (vPDQ), for hash matching."""

    __tablename__ = "video_frame_hashes"

    video_id: Mapped[str] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True
    )
    frame_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    timestamp_s: Mapped[float] = mapped_column(Float)
    quality: Mapped[int] = mapped_column(Integer)
    pdq: Mapped[str] = mapped_column(String(64))


class EventRejection(Base):
    """An event the collector refused: the dead-letter store apps and analysts inspect."""

    __tablename__ = "event_rejections"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    batch_id: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(128))  # the API key or user that sent it
    item_index: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32), index=True)
    field: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)  # the item as sent, cut at 4 KiB


class Comment(Base):
    """A comment on a video (or a reply to one). Whether it is shown, and where, is the
    visibility table's business (subject type ``comment``)."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_video_created", "video_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    # What the author's app said (BCP 47 or ISO 639-1); moderation records what it detected.
    language: Mapped[str | None] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(2))  # the author's country when posted
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

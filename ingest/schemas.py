"""Pydantic input and output types of videos and uploads."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .models import Audience

MAX_CAPTION_CHARS = 2200
MAX_HASHTAGS = 30
_HASHTAG = re.compile(r"#(\w{1,100})")
_HASHTAG_ALONE = re.compile(r"\w{1,100}")

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256, hex.")]


def hashtags_in(caption: str) -> list[str]:
    """The ``#tags`` written in a caption, lower-cased, in order, without repeats."""
    return list(dict.fromkeys(tag.lower() for tag in _HASHTAG.findall(caption)))


class VideoFields(BaseModel):
    """What the creator says about a video."""

    model_config = ConfigDict(extra="forbid")

    caption: str = Field("", max_length=MAX_CAPTION_CHARS)
    hashtags: list[str] = Field(
        default_factory=list,
        max_length=MAX_HASHTAGS,
        description="Tags without '#'; tags written in the caption are added.",
    )
    sound_name: str | None = Field(None, max_length=200)
    language: str | None = Field(
        None,
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
        description="Declared language of the caption and speech (BCP 47, e.g. `pt-BR`).",
    )
    audience: Audience = Audience.PUBLIC

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        cleaned = []
        for tag in tags:
            bare = tag.removeprefix("#")
            if not _HASHTAG_ALONE.fullmatch(bare):
                raise ValueError(f"hashtag {tag!r} must be 1-100 letters, digits or underscores")
            cleaned.append(bare.lower())
        return list(dict.fromkeys(cleaned))

    def all_hashtags(self) -> list[str]:
        return list(dict.fromkeys([*self.hashtags, *hashtags_in(self.caption)]))[:MAX_HASHTAGS]


class VideoCreate(VideoFields):
    """``POST /v1/videos``: the video's fields and, optionally, a resumable upload to create."""

    upload_length: int | None = Field(
        None, ge=1, description="Size of the file to upload; creates a tus upload for it."
    )
    filename: str | None = Field(None, max_length=255)
    sha256: Sha256Hex | None = Field(
        None, description="SHA-256 of the whole file, checked when the upload completes."
    )


class UploadOut(BaseModel):
    id: str
    url: str = Field(description="The tus upload URL: HEAD for the offset, PATCH to append.")
    length: int
    offset: int
    state: str
    expires_at: dt.datetime


class Rendition(BaseModel):
    height: int
    width: int
    bandwidth: int
    playlist_url: str


class VideoOut(BaseModel):
    id: str
    creator_id: str
    caption: str
    hashtags: list[str]
    sound_name: str | None
    language: str | None
    audience: str
    region: str | None
    state: str
    failure_reason: str | None = None
    failure_message: str | None = None
    created_at: dt.datetime
    uploaded_at: dt.datetime | None = None
    ready_at: dt.datetime | None = None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    playback_url: str | None = Field(
        default=None, description="HLS master playlist (signed, expires)."
    )
    thumbnail_urls: dict[str, str] = Field(default_factory=dict)
    storyboard_vtt_url: str | None = None
    renditions: list[Rendition] = Field(default_factory=list)
    playback_expires_at: dt.datetime | None = None


class VideoCreated(BaseModel):
    video: VideoOut
    upload: UploadOut | None = None


def to_json(value: Any) -> Any:
    """Plain JSON of a pydantic model (for the bus)."""
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value

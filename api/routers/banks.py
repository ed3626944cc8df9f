"""Perceptual-hash banks over HTTP: banks and their entries (policy admins), and matching a
video's or an image's hashes against every enabled entry, with the evidence (moderators).

Entries are given as hashes (PDQ hex, vPDQ text or frames) or as a platform video's id; hashing
files is the CLI's job (``vigil banks add --file``), so no media is uploaded here. Matching uses
the ``VIGIL_MODERATION__HASH_*`` thresholds of the server.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import DbSession, SettingsDep, requires
from core.auth import Scope
from core.errors import InvalidInputError
from moderation import hashbanks

router = APIRouter(tags=["hash banks"])

BANKS = "/v1/moderation/banks"


# --- request and response bodies ---------------------------------------------------------------


class BankCreate(BaseModel):
    name: str = Field(description="a-z, 0-9, _ . -; up to 64 characters", max_length=64)
    negative: bool = Field(False, description="Known-benign media: suppresses matches.")
    description: str = Field("", max_length=2000)


class BankUpdate(BaseModel):
    name: str | None = Field(None, description="A new name.", max_length=64)
    description: str | None = Field(None, max_length=2000)
    enabled: bool | None = None


class BankOut(BaseModel):
    id: str
    name: str
    description: str
    negative: bool
    enabled: bool
    entries: int
    enabled_entries: int
    created_at: dt.datetime
    updated_at: dt.datetime


class BankDeleted(BaseModel):
    deleted: str
    entries: int


class FrameIn(BaseModel):
    """One frame's hash, as in vPDQ's text form."""

    frame_number: int = Field(ge=0)
    quality: int = Field(ge=0, le=100)
    pdq: str = Field(description="64 hex digits")
    timestamp: float = Field(0.0, ge=0, description="Seconds into the video.")


class EntryCreate(BaseModel):
    """Exactly one of ``pdq``, ``vpdq``, ``frames``, ``video_id``."""

    pdq: str | None = Field(None, description="An image's PDQ hash: 64 hex digits.")
    vpdq: str | None = Field(None, description="A video's vPDQ text: frame,quality,pdq,seconds.")
    frames: list[FrameIn] | None = Field(None, description="A video's frame hashes.")
    video_id: str | None = Field(None, description="A platform video (its stored hashes).")
    label: str = Field("", max_length=hashbanks.MAX_LABEL_LENGTH)
    source: str | None = Field(None, max_length=hashbanks.MAX_SOURCE_LENGTH)


class EntryUpdate(BaseModel):
    enabled: bool | None = None
    label: str | None = Field(None, max_length=hashbanks.MAX_LABEL_LENGTH)


class EntryOut(BaseModel):
    id: str
    bank: str
    kind: str = Field(description="pdq (an image) or vpdq (a video)")
    pdq: str | None
    frames: int = Field(description="How many frame hashes it holds (1 for an image).")
    label: str
    source: str | None
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class EntryRemoved(BaseModel):
    removed: str


class MatchRequest(BaseModel):
    """Exactly one of ``video_id``, ``vpdq``, ``frames``, ``pdq``."""

    video_id: str | None = Field(None, description="A platform video (its stored hashes).")
    vpdq: str | None = Field(None, description="A video's vPDQ text.")
    frames: list[FrameIn] | None = None
    pdq: str | list[str] | None = Field(
        None,
        description="An image's PDQ hash, or its eight dihedral variants (rotations and flips: "
        "original, rotate90, rotate180, rotate270, flip_x, flip_y, flip_plus_1, flip_minus_1).",
    )
    quality: int | None = Field(
        None, ge=0, le=100, description="The image's PDQ quality, when known."
    )
    max_frames: int = Field(50, ge=0, le=100_000, description="Frame pairs listed per match.")


class FramePairOut(BaseModel):
    query_frame: int
    query_timestamp: float
    target_frame: int
    target_timestamp: float
    distance: int


class HashMatchOut(BaseModel):
    bank: str
    entry_id: str
    label: str
    kind: str
    negative: bool
    distance: int = Field(description="The smallest Hamming distance of a matching frame pair.")
    query_match_percent: float
    target_match_percent: float
    transform: str | None = Field(description="Images: the variant of the query that matched.")
    discounted_frames: int = Field(description="Query frames not counted: they match benign.")
    suppressed_by: list[str] = Field(description="Negative entries that suppressed this match.")
    matching_frames: int
    frames: list[FramePairOut] = Field(description="Up to max_frames of the matching pairs.")


class BankSearchOut(BaseModel):
    banks: list[str] = Field(description="Positive banks matched, after negative banks.")
    matches: list[HashMatchOut]
    suppressed: list[HashMatchOut]
    negative: list[HashMatchOut]
    query_frames: int
    skipped_frames: int
    entries_searched: int
    frames_searched: int
    seconds: float


# --- helpers -----------------------------------------------------------------------------------


def _bank_out(summary: hashbanks.BankSummary) -> BankOut:
    bank = summary.bank
    return BankOut(
        id=bank.id,
        name=bank.name,
        description=bank.description,
        negative=bank.negative,
        enabled=bank.enabled,
        entries=summary.entries,
        enabled_entries=summary.enabled_entries,
        created_at=bank.created_at,
        updated_at=bank.updated_at,
    )


def _summary(db: DbSession, name: str) -> BankOut:
    hashbanks.get_bank(db, name)  # 404 naming the banks there are
    (found,) = [s for s in hashbanks.list_banks(db) if s.bank.name == name]
    return _bank_out(found)


def _entry_out(entry: Any, bank: str) -> EntryOut:
    return EntryOut(
        id=entry.id,
        bank=bank,
        kind=entry.kind,
        pdq=entry.pdq,
        frames=hashbanks.entry_frame_count(entry),
        label=entry.label,
        source=entry.source,
        enabled=entry.enabled,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
    )


def _only_one(body: BaseModel, names: tuple[str, ...]) -> str:
    given = [name for name in names if getattr(body, name) is not None]
    if len(given) != 1:
        field = given[1] if len(given) > 1 else names[0]
        raise InvalidInputError(
            f"{field}: give exactly one of {', '.join(names)}"
            + (f" (got {', '.join(given)})" if given else ""),
            details={"field": field, "problem": "exactly one of " + ", ".join(names)},
        )
    return given[0]


def _frames(frames: list[FrameIn]) -> list[hashbanks.FrameHash]:
    return [hashbanks.FrameHash(f.frame_number, f.quality, f.pdq, f.timestamp) for f in frames]


# --- banks ---------------------------------------------------------------------------------------


@router.get(
    BANKS,
    summary="Hash banks, with their entry counts",
    dependencies=[requires(Scope.MODERATION_REVIEW)],
)
def list_banks(db: DbSession) -> list[BankOut]:
    return [_bank_out(summary) for summary in hashbanks.list_banks(db)]


@router.post(
    BANKS,
    status_code=201,
    summary="Create a hash bank (negative: known-benign media that suppresses matches)",
    dependencies=[requires(Scope.POLICY_ADMIN)],
)
def create_bank(body: BankCreate, db: DbSession) -> BankOut:
    bank = hashbanks.create_bank(
        db, body.name, negative=body.negative, description=body.description
    )
    return _bank_out(hashbanks.BankSummary(bank, 0, 0))


@router.get(
    BANKS + "/{name}",
    summary="A hash bank",
    dependencies=[requires(Scope.MODERATION_REVIEW)],
)
def get_bank(name: str, db: DbSession) -> BankOut:
    return _summary(db, name)


@router.patch(
    BANKS + "/{name}",
    summary="Rename, describe, enable or disable a hash bank",
    dependencies=[requires(Scope.POLICY_ADMIN)],
)
def update_bank(name: str, body: BankUpdate, db: DbSession) -> BankOut:
    bank = hashbanks.update_bank(
        db, name, new_name=body.name, description=body.description, enabled=body.enabled
    )
    return _summary(db, bank.name)


@router.delete(
    BANKS + "/{name}",
    summary="Delete a hash bank (one with entries only with force=true)",
    dependencies=[requires(Scope.POLICY_ADMIN)],
)
def delete_bank(
    name: str,
    db: DbSession,
    force: Annotated[bool, Query(description="Delete its entries too.")] = False,
) -> BankDeleted:
    return BankDeleted(deleted=name, entries=hashbanks.remove_bank(db, name, force=force))


# --- entries -------------------------------------------------------------------------------------


@router.get(
    BANKS + "/{name}/entries",
    summary="A hash bank's entries, oldest first",
    dependencies=[requires(Scope.MODERATION_REVIEW)],
)
def list_entries(
    name: str,
    db: DbSession,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[EntryOut]:
    return [
        _entry_out(entry, name)
        for entry in hashbanks.list_entries(db, name, limit=limit, offset=offset)
    ]


@router.post(
    BANKS + "/{name}/entries",
    status_code=201,
    summary="Add an image (pdq) or a video (vpdq text, frames, or a platform video's id)",
    dependencies=[requires(Scope.POLICY_ADMIN)],
)
def add_entry(name: str, body: EntryCreate, db: DbSession, settings: SettingsDep) -> EntryOut:
    chosen = _only_one(body, ("pdq", "vpdq", "frames", "video_id"))
    quality = settings.moderation.hash_quality_threshold
    if chosen == "pdq":
        entry = hashbanks.add_entry(db, name, pdq=body.pdq, label=body.label, source=body.source)
    elif chosen == "vpdq":
        assert body.vpdq is not None
        entry = hashbanks.add_vpdq_text(
            db, name, body.vpdq, label=body.label, source=body.source, quality_threshold=quality
        )
    elif chosen == "frames":
        assert body.frames is not None
        entry = hashbanks.add_entry(
            db,
            name,
            frames=_frames(body.frames),
            label=body.label,
            source=body.source,
            quality_threshold=quality,
        )
    else:
        assert body.video_id is not None
        entry = hashbanks.add_video(
            db, name, body.video_id, label=body.label, quality_threshold=quality
        )
    return _entry_out(entry, name)


@router.patch(
    BANKS + "/{name}/entries/{entry_id}",
    summary="Enable, disable or relabel an entry",
    dependencies=[requires(Scope.POLICY_ADMIN)],
)
def update_entry(name: str, entry_id: str, body: EntryUpdate, db: DbSession) -> EntryOut:
    entry = hashbanks.update_entry(db, entry_id, bank=name, enabled=body.enabled, label=body.label)
    return _entry_out(entry, name)


@router.delete(
    BANKS + "/{name}/entries/{entry_id}",
    summary="Remove an entry for good (PATCH enabled=false keeps it)",
    dependencies=[requires(Scope.POLICY_ADMIN)],
)
def remove_entry(name: str, entry_id: str, db: DbSession) -> EntryRemoved:
    hashbanks.remove_entry(db, entry_id, bank=name)
    return EntryRemoved(removed=entry_id)


# --- matching ------------------------------------------------------------------------------------


@router.post(
    BANKS + ":match",
    summary="Match a video's or an image's hashes against every enabled entry, with evidence",
    dependencies=[requires(Scope.MODERATION_REVIEW)],
)
def match(body: MatchRequest, db: DbSession, settings: SettingsDep) -> BankSearchOut:
    chosen = _only_one(body, ("video_id", "vpdq", "frames", "pdq"))
    moderation = settings.moderation
    thresholds: dict[str, Any] = {
        "distance_threshold": moderation.hash_distance_threshold,
        "quality_threshold": moderation.hash_quality_threshold,
    }
    if chosen == "pdq":
        assert body.pdq is not None
        if isinstance(body.pdq, list) and len(body.pdq) not in (1, 8):
            raise InvalidInputError(
                f"pdq: give one hash or the eight dihedral variants, not {len(body.pdq)}",
                details={"field": "pdq"},
            )
        search = hashbanks.search_image(db, body.pdq, quality=body.quality, **thresholds)
    else:
        if chosen == "video_id":
            assert body.video_id is not None
            frames = hashbanks.video_frames(db, body.video_id)
        elif chosen == "vpdq":
            assert body.vpdq is not None
            frames = hashbanks.parse_vpdq(body.vpdq)
        else:
            assert body.frames is not None
            frames = _frames(body.frames)
        search = hashbanks.search_video(
            db,
            frames,
            min_query_percent=moderation.hash_min_query_percent,
            min_target_percent=moderation.hash_min_target_percent,
            **thresholds,
        )
    return BankSearchOut.model_validate(search.to_json(max_frames=body.max_frames))

"""Perceptual-hash banks: named sets of PDQ (image) and vPDQ (video) hashes that uploads are
matched against, with the distance and the matching frames as evidence.

A bank is **positive** (known-bad media: a match is a signal for the policy) or **negative**
(known-benign media that resembles banked media: news footage, a common logo, a meme template).
Entries are one PDQ hash (an image) or the frame hashes of a video (vPDQ's text form,
``frame_number,quality,pdq_hex,timestamp`` per line). Banks and entries can be disabled without
being removed; disabled ones take no part in matching.

Matching rules (the thresholds are keyword arguments; the CLI and the API take them from
``settings.moderation``):

* Frames whose PDQ quality is below ``quality_threshold`` (50) take no part, on either side
  (upstream vPDQ's rule). PDQ entries added from a bare hex string have no known quality and
  always take part; adding an image file refuses one of low quality.
* Two frames match when the Hamming distance of their hashes is below ``distance_threshold`` (31).
* A **PDQ entry** matches a video when at least one usable query frame matches it, and an image
  when the image's hash (or, with rotations, one of its eight dihedral variants) matches it.
* A **vPDQ entry** matches a video by vPDQ's two percentages: ``query_match_percent`` (usable
  query frames with a matching frame in the entry) and ``target_match_percent`` (usable entry
  frames with a matching frame in the query). It matches when ``query_match_percent >=
  min_query_percent`` (the upload is mostly banked footage) **or** ``target_match_percent >=
  min_target_percent`` (the upload contains most of a banked video, e.g. inside a compilation);
  both default to 50. It matches an image when the image matches one of its frames (a still
  taken from a banked video).
* **Negative banks suppress, frame by frame.** A usable query frame that matches any frame of an
  enabled negative-bank entry is *benign*: it is not counted as evidence for any positive entry.
  Each positive entry is then judged again on the remaining frames, with the same rule and the
  same denominators (all usable frames of each side). A positive entry that matched before and
  no longer does is *suppressed* (reported with the negative entries that suppressed it); one
  that still matches is kept, with the discounted frames counted in ``discounted_frames``.
  An image is one frame: if it matches a negative entry, every positive match is suppressed.
  The frame-level rule means that known-benign footage spliced onto banked footage does not
  hide the banked part, while a video that is benign where it resembles banked media is cleared.

Matching is brute force over a numpy matrix of every enabled frame (4 x 64-bit words per hash,
Hamming distance by ``np.bitwise_count`` in cache-sized tiles), loaded once per process and
database and reloaded when the banks change. The cache key is the count and latest
``updated_at`` of the banks and of the entries (two aggregate queries); a process asks for it
at once after a change it made itself, otherwise at most every ``INDEX_CHECK_SECONDS`` (1 s), so
a change made by another process (the CLI, another API worker) is matched within a second.
Changes must go through this module (it bumps ``updated_at``); a bank edited with raw SQL is
seen only if its ``updated_at`` moves too.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pdqhash
from sqlalchemy import case, delete, event, func, select
from sqlalchemy.orm import Session

import ingest
from core.db import utcnow
from core.errors import ConflictError, InvalidInputError, NotFoundError

from .models import HashBank, HashBankEntry

# ingest's media hashing, reached through the package (``import ingest``): the rooms' rule allows
# no ``from ingest.media import``. ingest/__init__.py should export ``media`` by name.
FrameHash = ingest.media.FrameHash
FrameMatch = ingest.media.FrameMatch
DISTANCE_THRESHOLD: int = ingest.media.DISTANCE_THRESHOLD
QUALITY_THRESHOLD: int = ingest.media.QUALITY_THRESHOLD
format_vpdq_lines = ingest.media.format_vpdq_lines
parse_vpdq_lines = ingest.media.parse_vpdq_lines
vpdq_hashes = ingest.media.vpdq_hashes

logger = logging.getLogger(__name__)

#: Bank names: lower-case letters, digits, ``_ . -``; 1 to 64 characters.
BANK_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
#: Longest label and source of an entry (the columns' sizes).
MAX_LABEL_LENGTH = 200
MAX_SOURCE_LENGTH = 200
#: Most frames one vPDQ entry may hold (10 minutes of every frame at 60 fps is 36,000).
MAX_ENTRY_FRAMES = 100_000
#: A video matches a vPDQ entry when either share reaches its threshold (percent).
MIN_QUERY_PERCENT = 50.0
MIN_TARGET_PERCENT = 50.0
#: Names of pdqhash's eight dihedral variants, in the order ``compute_dihedral`` returns them:
#: the query image after this transform is what matched.
DIHEDRAL = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flip_x",
    "flip_y",
    "flip_plus_1",
    "flip_minus_1",
)

KIND_PDQ = "pdq"
KIND_VPDQ = "vpdq"

_HEX_DIGITS = frozenset("0123456789abcdef")


# --- validation ---------------------------------------------------------------------------------


def _invalid(field_name: str, problem: str, **details: Any) -> InvalidInputError:
    return InvalidInputError(
        f"{field_name}: {problem}", details={"field": field_name, "problem": problem, **details}
    )


def parse_pdq(value: str, *, field_name: str = "pdq") -> str:
    """A PDQ hash as 64 lower-case hex digits, or InvalidInputError saying what is wrong."""
    text = value.strip().lower()
    if len(text) != 64:
        raise _invalid(
            field_name,
            f"a PDQ hash is 64 hexadecimal digits (256 bits); got {len(text)} characters",
            length=len(text),
        )
    for position, char in enumerate(text):
        if char not in _HEX_DIGITS:
            raise _invalid(
                field_name,
                f"character {char!r} at position {position} is not a hexadecimal digit",
                position=position,
            )
    return text


def parse_vpdq(text: str, *, field_name: str = "vpdq") -> list[FrameHash]:
    """Frame hashes from vPDQ's text form, or InvalidInputError naming the line."""
    try:
        frames = parse_vpdq_lines(text.splitlines())
    except ValueError as exc:
        raise _invalid(field_name, f"not vPDQ text form: {exc}") from exc
    return frames


def _check_frames(
    frames: Sequence[FrameHash], *, quality_threshold: int, field_name: str = "frames"
) -> list[FrameHash]:
    if not frames:
        raise _invalid(field_name, "no frame hashes: a vPDQ entry needs at least one frame")
    if len(frames) > MAX_ENTRY_FRAMES:
        raise _invalid(
            field_name,
            f"{len(frames)} frames is more than the {MAX_ENTRY_FRAMES} one entry may hold; "
            "hash the video at a longer interval (e.g. one frame per second)",
            limit=MAX_ENTRY_FRAMES,
        )
    checked = []
    for index, frame in enumerate(frames):
        where = f"{field_name}[{index}]"
        if frame.frame_number < 0:
            raise _invalid(where, f"frame number {frame.frame_number} is negative")
        if not 0 <= frame.quality <= 100:
            raise _invalid(where, f"quality {frame.quality} is outside 0..100")
        if frame.timestamp < 0:
            raise _invalid(where, f"timestamp {frame.timestamp} is negative")
        pdq = parse_pdq(frame.pdq_hex, field_name=f"{where}.pdq")
        checked.append(FrameHash(frame.frame_number, frame.quality, pdq, frame.timestamp))
    if not any(frame.quality >= quality_threshold for frame in checked):
        raise _invalid(
            field_name,
            f"none of the {len(checked)} frames has PDQ quality >= {quality_threshold}, so the "
            "entry could never match (flat or blank frames hash unreliably)",
        )
    return checked


def _check_text(value: str, field_name: str, limit: int) -> str:
    if len(value) > limit:
        raise _invalid(field_name, f"{len(value)} characters is longer than {limit}", limit=limit)
    return value


def _clip(value: str, limit: int) -> str:
    """A generated source text cut to the column's size (long file paths keep their end)."""
    return value if len(value) <= limit else "..." + value[-(limit - 3) :]


# --- banks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankSummary:
    """A bank with its entry counts, for listings."""

    bank: HashBank
    entries: int
    enabled_entries: int


def get_bank(session: Session, name: str) -> HashBank:
    """The bank called ``name``, or NotFoundError listing the banks there are."""
    bank = session.scalar(select(HashBank).where(HashBank.name == name))
    if bank is None:
        names = list(session.scalars(select(HashBank.name).order_by(HashBank.name).limit(20)))
        raise NotFoundError(
            f"no hash bank {name!r}; banks: {', '.join(names) or 'none (create one first)'}",
            details={"field": "bank", "bank": name},
        )
    return bank


def _bank(session: Session, bank: HashBank | str) -> HashBank:
    return bank if isinstance(bank, HashBank) else get_bank(session, bank)


def _check_bank_name(name: str, field_name: str = "name") -> str:
    if not BANK_NAME_PATTERN.fullmatch(name):
        raise _invalid(
            field_name,
            f"{name!r} is not a bank name: 1 to 64 characters, lower-case letters, digits and "
            "_ . -, starting with a letter or digit",
        )
    return name


def create_bank(
    session: Session, name: str, *, negative: bool = False, description: str = ""
) -> HashBank:
    """Create an (enabled) bank; ConflictError when the name is taken."""
    _check_bank_name(name)
    if session.scalar(select(HashBank.id).where(HashBank.name == name)) is not None:
        raise ConflictError(
            f"a hash bank called {name!r} exists already", details={"field": "name", "bank": name}
        )
    bank = HashBank(name=name, negative=negative, description=description, enabled=True)
    session.add(bank)
    session.flush()
    _note_change(session)
    return bank


def list_banks(session: Session) -> list[BankSummary]:
    """Every bank, by name, with how many entries it has and how many are enabled."""
    counts = {
        bank_id: (total, enabled or 0)
        for bank_id, total, enabled in session.execute(
            select(
                HashBankEntry.bank_id,
                func.count(HashBankEntry.id),
                func.sum(case((HashBankEntry.enabled.is_(True), 1), else_=0)),
            ).group_by(HashBankEntry.bank_id)
        )
    }
    return [
        BankSummary(bank, *counts.get(bank.id, (0, 0)))
        for bank in session.scalars(select(HashBank).order_by(HashBank.name))
    ]


def update_bank(
    session: Session,
    bank: HashBank | str,
    *,
    new_name: str | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> HashBank:
    """Rename, describe, enable or disable a bank."""
    found = _bank(session, bank)
    if new_name is not None and new_name != found.name:
        _check_bank_name(new_name, "new_name")
        if session.scalar(select(HashBank.id).where(HashBank.name == new_name)) is not None:
            raise ConflictError(
                f"cannot rename {found.name!r}: a hash bank called {new_name!r} exists already",
                details={"field": "new_name", "bank": new_name},
            )
        found.name = new_name
    if description is not None:
        found.description = description
    if enabled is not None:
        found.enabled = enabled
    session.flush()
    _note_change(session)
    return found


def set_bank_enabled(session: Session, bank: HashBank | str, enabled: bool) -> HashBank:
    """Enable or disable a whole bank (its entries keep their own flags)."""
    return update_bank(session, bank, enabled=enabled)


def remove_bank(session: Session, bank: HashBank | str, *, force: bool = False) -> int:
    """Delete a bank; one with entries only with ``force`` (they go too). Returns how many."""
    found = _bank(session, bank)
    entries = session.scalar(
        select(func.count(HashBankEntry.id)).where(HashBankEntry.bank_id == found.id)
    )
    if entries and not force:
        raise ConflictError(
            f"hash bank {found.name!r} has {entries} entries; remove them first, disable "
            "the bank instead, or force the removal",
            details={"bank": found.name, "entries": entries},
        )
    # Entries first, in one statement: the unit of work does not order two unrelated deletes.
    session.execute(delete(HashBankEntry).where(HashBankEntry.bank_id == found.id))
    session.delete(found)
    session.flush()
    _note_change(session)
    return int(entries or 0)


# --- entries ---------------------------------------------------------------------------------


def add_entry(
    session: Session,
    bank: HashBank | str,
    *,
    pdq: str | None = None,
    frames: Sequence[FrameHash] | None = None,
    label: str = "",
    source: str | None = None,
    quality_threshold: int = QUALITY_THRESHOLD,
) -> HashBankEntry:
    """Add an image (``pdq``: 64 hex digits) or a video (``frames``: its vPDQ frame hashes).

    Exactly one of the two. The same hash (or the same frames) twice in one bank is a conflict.
    """
    found = _bank(session, bank)
    if (pdq is None) == (frames is None):
        raise _invalid(
            "pdq" if pdq is None else "frames",
            "give exactly one of pdq (an image's hash) and frames (a video's frame hashes)",
        )
    _check_text(label, "label", MAX_LABEL_LENGTH)
    if source is not None:
        _check_text(source, "source", MAX_SOURCE_LENGTH)
    if pdq is not None:
        kind, value, text = KIND_PDQ, parse_pdq(pdq), None
    else:
        assert frames is not None
        checked = _check_frames(frames, quality_threshold=quality_threshold)
        kind, value, text = KIND_VPDQ, None, format_vpdq_lines(checked)
    digest = hashlib.sha256(f"{kind}:{value or text}".encode()).hexdigest()
    existing = session.scalar(
        select(HashBankEntry.id).where(
            HashBankEntry.bank_id == found.id, HashBankEntry.digest == digest
        )
    )
    if existing is not None:
        raise ConflictError(
            f"hash bank {found.name!r} holds this {kind} hash already, as entry {existing}",
            details={"bank": found.name, "entry_id": existing},
        )
    entry = HashBankEntry(
        bank_id=found.id,
        kind=kind,
        pdq=value,
        frames=text,
        digest=digest,
        label=label,
        source=source,
    )
    session.add(entry)
    found.updated_at = utcnow()
    session.flush()
    _note_change(session)
    return entry


def add_vpdq_text(
    session: Session,
    bank: HashBank | str,
    text: str,
    *,
    label: str = "",
    source: str | None = None,
    quality_threshold: int = QUALITY_THRESHOLD,
) -> HashBankEntry:
    """Add a video from vPDQ's text form (e.g. a ``.txt`` written by upstream's vpdq hasher)."""
    return add_entry(
        session,
        bank,
        frames=parse_vpdq(text),
        label=label,
        source=source,
        quality_threshold=quality_threshold,
    )


def stored_frames(session: Session, video_id: str) -> list[FrameHash]:
    """The frame hashes the media worker stored for a video, in frame order (none yet: [])."""
    return [
        FrameHash(row.frame_number, row.quality, row.pdq, row.timestamp_s)
        for row in ingest.frame_hashes(session, video_id)
    ]


def video_frames(session: Session, video_id: str) -> list[FrameHash]:
    """The frame hashes the media worker stored for a video, or an error saying why not."""
    video = session.get(ingest.Video, video_id)
    if video is None:
        raise NotFoundError(
            f"no video {video_id!r}", details={"field": "video_id", "video_id": video_id}
        )
    frames = stored_frames(session, video_id)
    if not frames:
        raise _invalid(
            "video_id",
            f"video {video_id} (state {video.state}) has no frame hashes yet: the media worker "
            "stores them when it has processed the upload",
            video_id=video_id,
        )
    return frames


def add_video(
    session: Session,
    bank: HashBank | str,
    video_id: str,
    *,
    label: str = "",
    quality_threshold: int = QUALITY_THRESHOLD,
) -> HashBankEntry:
    """Add a processed video of the platform by id (its stored frame hashes)."""
    return add_entry(
        session,
        bank,
        frames=video_frames(session, video_id),
        label=label,
        source=f"video:{video_id}",
        quality_threshold=quality_threshold,
    )


@dataclass(frozen=True)
class ImageHash:
    """An image's PDQ hash and quality; ``variants`` are its eight dihedral hashes (DIHEDRAL)."""

    pdq: str
    quality: int
    variants: tuple[str, ...] = ()


def _hex(bits: Any) -> str:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def is_image(path: Path) -> bool:
    """Whether Pillow reads ``path`` as an image (anything else is treated as a video)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.format is not None
    except UnidentifiedImageError:
        return False


def hash_image(path: Path | str, *, rotations: bool = False) -> ImageHash:
    """PDQ of an image file (its stored pixels, as upstream hashes them: EXIF rotation is not
    applied); with ``rotations`` also the hashes of its eight rotations and flips."""
    from PIL import Image, UnidentifiedImageError

    source = Path(path)
    if not source.is_file():
        raise NotFoundError(f"file: {source} does not exist", details={"field": "file"})
    try:
        with Image.open(source) as image:
            pixels = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    except (UnidentifiedImageError, OSError) as exc:
        raise _invalid("file", f"{source.name} is not a readable image: {exc}") from exc
    if rotations:
        vectors, quality = pdqhash.compute_dihedral(pixels)
        variants = tuple(_hex(vector) for vector in vectors)
        return ImageHash(variants[0], int(quality), variants)
    bits, quality = pdqhash.compute(pixels)
    return ImageHash(_hex(bits), int(quality))


def file_frames(
    path: Path | str, *, interval_seconds: float = 1.0, timeout: float = 600.0
) -> list[FrameHash]:
    """vPDQ frame hashes of a video file, sampled as the media worker samples uploads."""
    source = Path(path)
    if not source.is_file():
        raise NotFoundError(f"file: {source} does not exist", details={"field": "file"})
    return vpdq_hashes(source, interval_seconds, timeout=timeout)


def add_file(
    session: Session,
    bank: HashBank | str,
    path: Path | str,
    *,
    label: str = "",
    interval_seconds: float = 1.0,
    quality_threshold: int = QUALITY_THRESHOLD,
) -> HashBankEntry:
    """Add an image file (its PDQ hash) or a video file (its vPDQ frame hashes)."""
    source = Path(path)
    if source.is_file() and is_image(source):
        image = hash_image(source)
        if image.quality < quality_threshold:
            raise _invalid(
                "file",
                f"{source.name} has PDQ quality {image.quality}, below {quality_threshold}: "
                "flat or tiny images hash unreliably and would match unrelated ones",
                quality=image.quality,
            )
        return add_entry(
            session,
            bank,
            pdq=image.pdq,
            label=label,
            source=_clip(f"file:{source.name}", MAX_SOURCE_LENGTH),
        )
    return add_entry(
        session,
        bank,
        frames=file_frames(source, interval_seconds=interval_seconds),
        label=label,
        source=_clip(f"file:{source.name}", MAX_SOURCE_LENGTH),
        quality_threshold=quality_threshold,
    )


def get_entry(
    session: Session, entry_id: str, *, bank: HashBank | str | None = None
) -> HashBankEntry:
    """The entry ``entry_id`` (in ``bank``, when given), or NotFoundError."""
    entry = session.get(HashBankEntry, entry_id)
    expected = _bank(session, bank) if bank is not None else None
    if entry is None or (expected is not None and entry.bank_id != expected.id):
        where = f" in hash bank {expected.name!r}" if expected is not None else ""
        raise NotFoundError(
            f"no hash bank entry {entry_id!r}{where}",
            details={"field": "entry_id", "entry_id": entry_id},
        )
    return entry


def list_entries(
    session: Session, bank: HashBank | str, *, limit: int = 100, offset: int = 0
) -> list[HashBankEntry]:
    """A bank's entries, oldest first."""
    found = _bank(session, bank)
    return list(
        session.scalars(
            select(HashBankEntry)
            .where(HashBankEntry.bank_id == found.id)
            .order_by(HashBankEntry.created_at, HashBankEntry.id)
            .limit(limit)
            .offset(offset)
        )
    )


def update_entry(
    session: Session,
    entry_id: str,
    *,
    bank: HashBank | str | None = None,
    enabled: bool | None = None,
    label: str | None = None,
) -> HashBankEntry:
    """Enable, disable or relabel an entry."""
    entry = get_entry(session, entry_id, bank=bank)
    if label is not None:
        entry.label = _check_text(label, "label", MAX_LABEL_LENGTH)
    if enabled is not None:
        entry.enabled = enabled
    _touch_bank(session, entry.bank_id)
    session.flush()
    _note_change(session)
    return entry


def set_entry_enabled(
    session: Session, entry_id: str, enabled: bool, *, bank: HashBank | str | None = None
) -> HashBankEntry:
    """Enable or disable one entry."""
    return update_entry(session, entry_id, bank=bank, enabled=enabled)


def remove_entry(session: Session, entry_id: str, *, bank: HashBank | str | None = None) -> None:
    """Delete one entry for good (disable it instead to keep the record)."""
    entry = get_entry(session, entry_id, bank=bank)
    _touch_bank(session, entry.bank_id)
    session.delete(entry)
    session.flush()
    _note_change(session)


def _touch_bank(session: Session, bank_id: str) -> None:
    bank = session.get(HashBank, bank_id)
    if bank is not None:
        bank.updated_at = utcnow()


def entry_frames(entry: HashBankEntry) -> list[FrameHash]:
    """An entry's hashes as frames (a PDQ entry is one frame 0 of unknown quality: 100)."""
    if entry.kind == KIND_PDQ:
        assert entry.pdq is not None
        return [FrameHash(0, 100, entry.pdq, 0.0)]
    return parse_vpdq_lines((entry.frames or "").splitlines())


def entry_frame_count(entry: HashBankEntry) -> int:
    """How many frame hashes an entry holds, without parsing them."""
    if entry.kind == KIND_PDQ:
        return 1
    return sum(1 for line in (entry.frames or "").splitlines() if line.strip())


# --- matching: results -----------------------------------------------------------------------


@dataclass(frozen=True)
class HashMatch:
    """One bank entry the query matched, with the evidence.

    ``distance`` is the smallest frame distance; ``frames`` pairs each matching query frame with
    its nearest entry frame (for image queries: the variant index, see ``transform``, with every
    entry frame it matches). Percentages are vPDQ's, over usable frames; for a suppressed match
    they are the ones before suppression.
    """

    bank: str
    entry_id: str
    label: str
    distance: int
    frames: tuple[FrameMatch, ...]
    query_match_percent: float
    target_match_percent: float = 100.0
    kind: str = KIND_VPDQ
    negative: bool = False
    transform: str | None = None
    discounted_frames: int = 0
    suppressed_by: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON-able form: for API answers, CLI output and the moderation check's signals."""
        return {
            "bank": self.bank,
            "entry_id": self.entry_id,
            "label": self.label,
            "kind": self.kind,
            "negative": self.negative,
            "distance": self.distance,
            "query_match_percent": round(self.query_match_percent, 2),
            "target_match_percent": round(self.target_match_percent, 2),
            "transform": self.transform,
            "discounted_frames": self.discounted_frames,
            "suppressed_by": list(self.suppressed_by),
            "frames": [
                {
                    "query_frame": pair.query_frame,
                    "query_timestamp": pair.query_timestamp,
                    "target_frame": pair.target_frame,
                    "target_timestamp": pair.target_timestamp,
                    "distance": pair.distance,
                }
                for pair in self.frames
            ],
        }


@dataclass(frozen=True)
class BankSearch:
    """Everything one search found: positive matches kept, those suppressed, negative hits."""

    matches: tuple[HashMatch, ...]
    suppressed: tuple[HashMatch, ...] = ()
    negative: tuple[HashMatch, ...] = ()
    query_frames: int = 0  # usable query frames (quality at or above the threshold)
    skipped_frames: int = 0  # query frames below the quality threshold
    entries_searched: int = 0
    frames_searched: int = 0
    seconds: float = 0.0

    @property
    def banks(self) -> tuple[str, ...]:
        """The positive banks matched, after suppression (the policy's ``hash_banks`` signal)."""
        return tuple(sorted({match.bank for match in self.matches}))

    def to_json(self, *, max_frames: int | None = None) -> dict[str, Any]:
        """JSON-able form; ``max_frames`` cuts each match's frame list (the count stays)."""

        def one(match: HashMatch) -> dict[str, Any]:
            data = match.to_json()
            data["matching_frames"] = len(match.frames)
            if max_frames is not None:
                data["frames"] = data["frames"][:max_frames]
            return data

        return {
            "banks": list(self.banks),
            "matches": [one(m) for m in self.matches],
            "suppressed": [one(m) for m in self.suppressed],
            "negative": [one(m) for m in self.negative],
            "query_frames": self.query_frames,
            "skipped_frames": self.skipped_frames,
            "entries_searched": self.entries_searched,
            "frames_searched": self.frames_searched,
            "seconds": round(self.seconds, 6),
        }


# --- matching: the index ---------------------------------------------------------------------


@dataclass(frozen=True)
class IndexedEntry:
    """An enabled entry of an enabled bank, and where its frames are in the index's rows."""

    entry_id: str
    bank: str
    negative: bool
    kind: str
    label: str
    start: int
    stop: int


_WORDS = 4  # a 256-bit hash is four 64-bit words


def _pack(hexes: Sequence[str]) -> npt.NDArray[np.uint64]:
    """(4, n) big-endian 64-bit words of ``n`` 64-digit hashes (word-major, for fast columns)."""
    if not hexes:
        return np.zeros((_WORDS, 0), dtype=np.uint64)
    raw = np.frombuffer(bytes.fromhex("".join(hexes)), dtype=">u8").reshape(len(hexes), _WORDS)
    return np.ascontiguousarray(raw.astype(np.uint64).T)


#: Tiles of (query rows x bank frames) small enough for the CPU cache: 4 x 8192 64-bit words.
_TILE_FRAMES = 8192
_TILE_PAIRS = 1 << 15


def _tiles(
    query: npt.NDArray[np.uint64], target: npt.NDArray[np.uint64]
) -> Iterator[tuple[slice, slice, npt.NDArray[np.uint16]]]:
    """Hamming distances of every (query, target) pair, one cache-sized tile at a time.

    Yields (query rows, target columns, distances); the distances array is reused by the next
    tile. Tiling with preallocated buffers is 1.5-2x faster than one broadcast matrix and needs
    a fixed, small amount of memory whatever the bank size.
    """
    rows, columns = query.shape[1], target.shape[1]
    if not rows or not columns:
        return
    width = min(_TILE_FRAMES, columns)
    height = max(1, _TILE_PAIRS // width)
    xor = np.empty((height, width), dtype=np.uint64)
    bits = np.empty((height, width), dtype=np.uint8)
    total = np.empty((height, width), dtype=np.uint16)
    for left in range(0, columns, width):
        right = min(columns, left + width)
        for top in range(0, rows, height):
            bottom = min(rows, top + height)
            shape = (slice(0, bottom - top), slice(0, right - left))
            out = total[shape]
            out.fill(0)
            for word in range(_WORDS):
                np.bitwise_xor(
                    query[word, top:bottom, None], target[word, None, left:right], out=xor[shape]
                )
                np.bitwise_count(xor[shape], out=bits[shape])
                np.add(out, bits[shape], out=out)
            yield slice(top, bottom), slice(left, right), out


def _distances(
    query: npt.NDArray[np.uint64], target: npt.NDArray[np.uint64]
) -> npt.NDArray[np.uint16]:
    """Hamming distances, len(query) x len(target), from (4, q) and (4, t) word arrays."""
    out = np.empty((query.shape[1], target.shape[1]), dtype=np.uint16)
    for rows, columns, tile in _tiles(query, target):
        out[rows, columns] = tile
    return out


def _query_words(frames: Sequence[FrameHash]) -> npt.NDArray[np.uint64]:
    """The query's hash words; a malformed hash is an InvalidInputError naming its frame."""
    hexes = [frame.pdq_hex for frame in frames]
    try:
        if all(len(value) == 64 for value in hexes):
            return _pack(hexes)
    except ValueError:
        pass
    for index, value in enumerate(hexes):
        parse_pdq(value, field_name=f"frames[{index}].pdq")
    raise AssertionError("unreachable: a malformed hash was not found")  # pragma: no cover


def _parse_text(text: str) -> tuple[list[int], list[int], list[str], list[float]]:
    """vPDQ text form into columns; the stored text was validated when the entry was added."""
    numbers, qualities, hexes, stamps = [], [], [], []
    for line in text.split("\n"):
        if not line:
            continue
        number, quality, pdq, stamp = line.split(",")
        numbers.append(int(number))
        qualities.append(int(quality))
        hexes.append(pdq)
        stamps.append(float(stamp))
    return numbers, qualities, hexes, stamps


@dataclass
class _EntryStats:
    """One query against one entry's usable frames, in one pass of tiles (bounded memory).

    Per query row: the nearest entry frame (first on ties, as ``ingest.media.match_frames``) and
    its distance; per entry frame: whether any query row, and any non-benign one, matches it.
    """

    nearest: npt.NDArray[np.int64]
    distance: npt.NDArray[np.uint16]
    row_matched: npt.NDArray[np.bool_]
    column_matched: npt.NDArray[np.bool_]
    column_matched_not_benign: npt.NDArray[np.bool_]
    benign: npt.NDArray[np.bool_]

    @classmethod
    def of(
        cls,
        query: npt.NDArray[np.uint64],
        target: npt.NDArray[np.uint64],
        benign: npt.NDArray[np.bool_],
        distance_threshold: int,
    ) -> _EntryStats:
        rows, columns = query.shape[1], target.shape[1]
        nearest = np.zeros(rows, dtype=np.int64)
        distance = np.full(rows, np.iinfo(np.uint16).max, dtype=np.uint16)
        column_matched = np.zeros(columns, dtype=bool)
        column_not_benign = np.zeros(columns, dtype=bool)
        for row_slice, column_slice, tile in _tiles(query, target):
            best = tile.argmin(axis=1)
            best_distance = tile[np.arange(len(best)), best]
            better = best_distance < distance[row_slice]  # strict: earlier columns win ties
            nearest[row_slice][better] = best[better] + column_slice.start
            distance[row_slice][better] = best_distance[better]
            close = tile < distance_threshold
            column_matched[column_slice] |= close.any(axis=0)
            column_not_benign[column_slice] |= close[~benign[row_slice]].any(axis=0)
        return cls(
            nearest=nearest,
            distance=distance,
            row_matched=distance < distance_threshold,
            column_matched=column_matched,
            column_matched_not_benign=column_not_benign,
            benign=benign,
        )


@dataclass
class BankIndex:
    """Every enabled frame of every enabled entry, as arrays; negative entries' rows first.

    Build it with ``BankIndex.load(session)`` or take the process's cached one with
    ``bank_index(session)``. Searching never touches the database.
    """

    key: tuple[Any, ...]
    entries: tuple[IndexedEntry, ...]
    words: npt.NDArray[np.uint64]  # (4, n) hash words
    quality: npt.NDArray[np.int16]  # (n,)
    frame_numbers: npt.NDArray[np.int64]  # (n,)
    timestamps: npt.NDArray[np.float64]  # (n,)
    negative_rows: int  # rows [0, negative_rows) belong to negative entries
    loaded_seconds: float = 0.0
    _starts: npt.NDArray[np.int64] = field(init=False, repr=False)
    _entry_of_row: npt.NDArray[np.int32] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._starts = np.array([entry.start for entry in self.entries], dtype=np.int64)
        counts = [entry.stop - entry.start for entry in self.entries]
        self._entry_of_row = np.repeat(np.arange(len(self.entries), dtype=np.int32), counts)

    @property
    def frames(self) -> int:
        return int(self.words.shape[1])

    @classmethod
    def load(cls, session: Session, *, key: tuple[Any, ...] | None = None) -> BankIndex:
        """Read every enabled entry of every enabled bank (``key``: their generation, if read)."""
        began = time.perf_counter()
        key = generation(session) if key is None else key
        rows = session.execute(
            select(
                HashBankEntry.id,
                HashBank.name,
                HashBank.negative,
                HashBankEntry.kind,
                HashBankEntry.label,
                HashBankEntry.pdq,
                HashBankEntry.frames,
            )
            .join(HashBank, HashBank.id == HashBankEntry.bank_id)
            .where(HashBank.enabled.is_(True), HashBankEntry.enabled.is_(True))
            .order_by(HashBank.negative.desc(), HashBank.name, HashBankEntry.id)
        ).all()
        entries: list[IndexedEntry] = []
        numbers: list[int] = []
        qualities: list[int] = []
        hexes: list[str] = []
        stamps: list[float] = []
        negative_rows = 0
        for entry_id, bank, negative, kind, label, pdq, text in rows:
            start = len(hexes)
            if kind == KIND_PDQ and pdq:
                numbers.append(0)
                qualities.append(100)
                hexes.append(pdq)
                stamps.append(0.0)
            elif kind == KIND_VPDQ and text:
                n, q, h, s = _parse_text(text)
                numbers += n
                qualities += q
                hexes += h
                stamps += s
            if len(hexes) == start:
                logger.warning("hash bank entry %s (%s) holds no hash; skipped", entry_id, bank)
                continue
            entries.append(
                IndexedEntry(entry_id, bank, bool(negative), kind, label, start, len(hexes))
            )
            if negative:
                negative_rows = len(hexes)
        return cls(
            key=key,
            entries=tuple(entries),
            words=_pack(hexes),
            quality=np.array(qualities, dtype=np.int16),
            frame_numbers=np.array(numbers, dtype=np.int64),
            timestamps=np.array(stamps, dtype=np.float64),
            negative_rows=negative_rows,
            loaded_seconds=time.perf_counter() - began,
        )

    # -- the search itself --

    def _candidates(
        self,
        query: npt.NDArray[np.uint64],
        usable: npt.NDArray[np.bool_],
        distance_threshold: int,
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """(entries with any matching frame pair, query rows matching a negative entry)."""
        hit_rows = np.zeros(self.frames, dtype=bool)
        benign = np.zeros(query.shape[1], dtype=bool)
        if not self.frames or not query.shape[1]:
            return np.zeros(len(self.entries), dtype=bool), benign
        for rows, columns, tile in _tiles(query, self.words):
            close = tile < distance_threshold
            close &= usable[columns]
            hit_rows[columns] |= close.any(axis=0)
            negatives = min(columns.stop, self.negative_rows) - columns.start
            if negatives > 0:
                benign[rows] |= close[:, :negatives].any(axis=1)
        return np.logical_or.reduceat(hit_rows, self._starts), benign

    def search_video(
        self,
        frames: Sequence[FrameHash],
        *,
        distance_threshold: int = DISTANCE_THRESHOLD,
        quality_threshold: int = QUALITY_THRESHOLD,
        min_query_percent: float = MIN_QUERY_PERCENT,
        min_target_percent: float = MIN_TARGET_PERCENT,
    ) -> BankSearch:
        """Match a video's frame hashes against the index (rules: the module's docstring)."""
        began = time.perf_counter()
        good = [frame for frame in frames if frame.quality >= quality_threshold]
        query = _query_words(good)
        usable = self.quality >= quality_threshold
        candidates, benign = self._candidates(query, usable, distance_threshold)
        matches: list[HashMatch] = []
        suppressed: list[HashMatch] = []
        negative: list[HashMatch] = []
        for index in np.flatnonzero(candidates):
            entry = self.entries[int(index)]
            rows = np.arange(entry.start, entry.stop)[usable[entry.start : entry.stop]]
            stats = _EntryStats.of(query, self.words[:, rows], benign, distance_threshold)
            if entry.negative:
                negative.append(self._video_match(entry, good, rows, stats, counting_benign=True))
                continue
            judged = self._video_match(entry, good, rows, stats, counting_benign=False)
            whole = (
                self._video_match(entry, good, rows, stats, counting_benign=True)
                if judged.discounted_frames
                else judged
            )
            if self._video_matches(judged, min_query_percent, min_target_percent):
                matches.append(judged)
            elif self._video_matches(whole, min_query_percent, min_target_percent):
                removed = stats.row_matched & benign
                by = self._suppressors(query, removed, usable, distance_threshold)
                suppressed.append(replace(whole, suppressed_by=by))
        return BankSearch(
            matches=_ranked(matches),
            suppressed=_ranked(suppressed),
            negative=_ranked(negative),
            query_frames=len(good),
            skipped_frames=len(frames) - len(good),
            entries_searched=len(self.entries),
            frames_searched=self.frames,
            seconds=time.perf_counter() - began,
        )

    @staticmethod
    def _video_matches(match: HashMatch, min_query: float, min_target: float) -> bool:
        if not match.frames:
            return False
        if match.kind == KIND_PDQ:
            return True
        return match.query_match_percent >= min_query or match.target_match_percent >= min_target

    def _video_match(
        self,
        entry: IndexedEntry,
        good: Sequence[FrameHash],
        rows: npt.NDArray[np.int64],
        stats: _EntryStats,
        *,
        counting_benign: bool,
    ) -> HashMatch:
        """The entry's percentages and frame pairs; benign query frames count only if asked."""
        if counting_benign:
            matched_rows, matched_columns = stats.row_matched, stats.column_matched
            discounted = 0
        else:
            matched_rows = stats.row_matched & ~stats.benign
            matched_columns = stats.column_matched_not_benign
            discounted = int((stats.row_matched & stats.benign).sum())
        pairs = tuple(
            FrameMatch(
                query_frame=good[q].frame_number,
                target_frame=int(self.frame_numbers[rows[stats.nearest[q]]]),
                distance=int(stats.distance[q]),
                query_timestamp=good[q].timestamp,
                target_timestamp=float(self.timestamps[rows[stats.nearest[q]]]),
            )
            for q in np.flatnonzero(matched_rows).tolist()
        )
        return HashMatch(
            bank=entry.bank,
            entry_id=entry.entry_id,
            label=entry.label,
            distance=min((pair.distance for pair in pairs), default=256),
            frames=pairs,
            query_match_percent=100.0 * float(matched_rows.mean()) if len(good) else 0.0,
            target_match_percent=100.0 * float(matched_columns.mean()) if len(rows) else 0.0,
            kind=entry.kind,
            negative=entry.negative,
            discounted_frames=discounted,
        )

    def _suppressors(
        self,
        query: npt.NDArray[np.uint64],
        rows: npt.NDArray[np.bool_],
        usable: npt.NDArray[np.bool_],
        distance_threshold: int,
    ) -> tuple[str, ...]:
        """The negative entries that the given query rows match."""
        if not rows.any() or not self.negative_rows:
            return ()
        negatives = self.words[:, : self.negative_rows]
        hit = np.zeros(self.negative_rows, dtype=bool)
        for _, columns, tile in _tiles(query[:, rows], negatives):
            hit[columns] |= (tile < distance_threshold).any(axis=0)
        hit &= usable[: self.negative_rows]
        found = np.unique(self._entry_of_row[: self.negative_rows][hit])
        return tuple(self.entries[int(i)].entry_id for i in found)

    def search_image(
        self,
        pdq: str | Sequence[str],
        *,
        quality: int | None = None,
        distance_threshold: int = DISTANCE_THRESHOLD,
        quality_threshold: int = QUALITY_THRESHOLD,
    ) -> BankSearch:
        """Match one image: its hash, or its dihedral variants (in DIHEDRAL order), as one frame.

        An image of known ``quality`` below the threshold is not matched (``query_frames`` 0).
        """
        began = time.perf_counter()
        variants = [pdq] if isinstance(pdq, str) else list(pdq)
        variants = [parse_pdq(value, field_name=f"pdq[{i}]") for i, value in enumerate(variants)]
        if not variants:
            raise _invalid("pdq", "no hash given")
        if quality is not None and quality < quality_threshold:
            return BankSearch(
                matches=(),
                skipped_frames=1,
                entries_searched=len(self.entries),
                frames_searched=self.frames,
                seconds=time.perf_counter() - began,
            )
        query = _pack(variants)
        usable = self.quality >= quality_threshold
        candidates, benign_variants = self._candidates(query, usable, distance_threshold)
        benign = bool(benign_variants.any())
        named = len(variants) > 1
        results: dict[bool, list[HashMatch]] = {True: [], False: []}
        for index in np.flatnonzero(candidates):
            entry = self.entries[int(index)]
            rows = np.arange(entry.start, entry.stop)[usable[entry.start : entry.stop]]
            distances = _distances(query, self.words[:, rows])
            best_variant = int(distances.min(axis=1).argmin())
            best = distances[best_variant]
            hit = np.flatnonzero(best < distance_threshold)
            pairs = tuple(
                FrameMatch(
                    query_frame=best_variant,
                    target_frame=int(self.frame_numbers[rows[column]]),
                    distance=int(best[column]),
                    query_timestamp=0.0,
                    target_timestamp=float(self.timestamps[rows[column]]),
                )
                for column in hit
            )
            results[entry.negative].append(
                HashMatch(
                    bank=entry.bank,
                    entry_id=entry.entry_id,
                    label=entry.label,
                    distance=int(best.min()),
                    frames=pairs,
                    query_match_percent=100.0,
                    target_match_percent=100.0 * len(hit) / len(rows),
                    kind=entry.kind,
                    negative=entry.negative,
                    transform=DIHEDRAL[best_variant] if named else None,
                )
            )
        negative = results[True]
        positive = results[False]
        suppressed: list[HashMatch] = []
        if benign and positive:
            by = tuple(match.entry_id for match in negative)
            suppressed = [replace(match, suppressed_by=by) for match in positive]
            positive = []
        return BankSearch(
            matches=_ranked(positive),
            suppressed=_ranked(suppressed),
            negative=_ranked(negative),
            query_frames=1,
            entries_searched=len(self.entries),
            frames_searched=self.frames,
            seconds=time.perf_counter() - began,
        )


def _ranked(matches: Iterable[HashMatch]) -> tuple[HashMatch, ...]:
    """Strongest first: most of the query matched, then closest, then bank and entry."""
    return tuple(
        sorted(
            matches,
            key=lambda m: (-m.query_match_percent, m.distance, m.bank, m.entry_id),
        )
    )


# --- the per-process cache -------------------------------------------------------------------

#: How long a process trusts its index before asking the database whether the banks changed
#: elsewhere (another process: the CLI, another API worker). Changes made through this module
#: in this process are seen at once.
INDEX_CHECK_SECONDS = 1.0


@dataclass
class _Cached:
    index: BankIndex
    checked_at: float  # time.monotonic() of the last generation check
    local_changes: int  # _local_changes at that check


_cache_lock = threading.Lock()
_cache: weakref.WeakKeyDictionary[Any, _Cached] = weakref.WeakKeyDictionary()
_local_changes = 0


def _bump() -> None:
    global _local_changes
    with _cache_lock:
        _local_changes += 1


def _on_commit(session: Session) -> None:
    session.info.pop("hashbanks_changed", None)
    _bump()


def _note_change(session: Session) -> None:
    """This process changed the banks: the next search checks the database now, and again once
    the transaction commits (a search in between may have seen the database before it)."""
    _bump()
    if not session.info.get("hashbanks_changed"):
        session.info["hashbanks_changed"] = True
        event.listen(session, "after_commit", _on_commit, once=True)


def generation(session: Session) -> tuple[Any, ...]:
    """What the index was built from: count and latest change of banks and of entries.

    Every change bumps an ``updated_at`` (an entry's, and its bank's), a removal lowers a count.
    """
    banks = session.execute(select(func.count(HashBank.id), func.max(HashBank.updated_at))).one()
    entries = session.execute(
        select(func.count(HashBankEntry.id), func.max(HashBankEntry.updated_at))
    ).one()
    return (*banks, *entries)


def bank_index(session: Session, *, max_age_seconds: float = INDEX_CHECK_SECONDS) -> BankIndex:
    """The index of the session's database: loaded once, reloaded when the banks changed.

    The database is asked (two aggregate queries) at most every ``max_age_seconds``, and at once
    after a change made in this process; 0 asks every time.
    """
    bind = session.get_bind()
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(bind)
        local = _local_changes
        if (
            cached is not None
            and cached.local_changes == local
            and now - cached.checked_at < max_age_seconds
        ):
            return cached.index
        key = generation(session)
        if cached is not None and cached.index.key == key:
            cached.checked_at, cached.local_changes = now, local
            return cached.index
        index = BankIndex.load(session, key=key)
        _cache[bind] = _Cached(index, now, local)
    logger.info(
        "hash bank index loaded: %d entries, %d frames in %.3f s",
        len(index.entries),
        index.frames,
        index.loaded_seconds,
    )
    return index


# --- matching: the entry points --------------------------------------------------------------


def search_video(
    session: Session,
    frames: Sequence[FrameHash],
    *,
    distance_threshold: int = DISTANCE_THRESHOLD,
    quality_threshold: int = QUALITY_THRESHOLD,
    min_query_percent: float = MIN_QUERY_PERCENT,
    min_target_percent: float = MIN_TARGET_PERCENT,
) -> BankSearch:
    """Match a video's frame hashes against every enabled entry: matches, suppressed, negative."""
    return bank_index(session).search_video(
        frames,
        distance_threshold=distance_threshold,
        quality_threshold=quality_threshold,
        min_query_percent=min_query_percent,
        min_target_percent=min_target_percent,
    )


def match_video(
    session: Session,
    frames: Sequence[FrameHash],
    *,
    distance_threshold: int = DISTANCE_THRESHOLD,
    quality_threshold: int = QUALITY_THRESHOLD,
    min_query_percent: float = MIN_QUERY_PERCENT,
    min_target_percent: float = MIN_TARGET_PERCENT,
) -> list[HashMatch]:
    """Positive-bank matches of a video, minus those suppressed by negative-bank entries."""
    return list(
        search_video(
            session,
            frames,
            distance_threshold=distance_threshold,
            quality_threshold=quality_threshold,
            min_query_percent=min_query_percent,
            min_target_percent=min_target_percent,
        ).matches
    )


def search_image(
    session: Session,
    pdq: str | Sequence[str],
    *,
    quality: int | None = None,
    distance_threshold: int = DISTANCE_THRESHOLD,
    quality_threshold: int = QUALITY_THRESHOLD,
) -> BankSearch:
    """Match an image's PDQ hash (or its eight dihedral variants) against every enabled entry."""
    return bank_index(session).search_image(
        pdq,
        quality=quality,
        distance_threshold=distance_threshold,
        quality_threshold=quality_threshold,
    )


def match_image(
    session: Session,
    pdq_hex: str | Sequence[str],
    *,
    quality: int | None = None,
    distance_threshold: int = DISTANCE_THRESHOLD,
    quality_threshold: int = QUALITY_THRESHOLD,
) -> list[HashMatch]:
    """Positive-bank matches of an image, minus those suppressed by negative-bank entries."""
    return list(
        search_image(
            session,
            pdq_hex,
            quality=quality,
            distance_threshold=distance_threshold,
            quality_threshold=quality_threshold,
        ).matches
    )


def search_file(
    session: Session,
    path: Path | str,
    *,
    rotations: bool = False,
    interval_seconds: float = 1.0,
    distance_threshold: int = DISTANCE_THRESHOLD,
    quality_threshold: int = QUALITY_THRESHOLD,
    min_query_percent: float = MIN_QUERY_PERCENT,
    min_target_percent: float = MIN_TARGET_PERCENT,
) -> BankSearch:
    """Hash an image or video file and match it (``rotations``: images' dihedral variants too)."""
    source = Path(path)
    if source.is_file() and is_image(source):
        image = hash_image(source, rotations=rotations)
        return search_image(
            session,
            image.variants or image.pdq,
            quality=image.quality,
            distance_threshold=distance_threshold,
            quality_threshold=quality_threshold,
        )
    return search_video(
        session,
        file_frames(source, interval_seconds=interval_seconds),
        distance_threshold=distance_threshold,
        quality_threshold=quality_threshold,
        min_query_percent=min_query_percent,
        min_target_percent=min_target_percent,
    )

"""Hash banks on the real reference hashes: near-duplicate families of the eval clips (vPDQ),
ThreatExchange's PDQ images and their rotations, negative banks, disabled entries, evidence."""

from __future__ import annotations

import csv
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

import ingest
from core import auth
from core.db import Database, utcnow
from core.errors import ConflictError, InvalidInputError, NotFoundError
from ingest.media import FrameHash, match_frames, match_videos, parse_vpdq_lines
from moderation import hashbanks
from moderation.models import HashBankEntry
from tests.conftest import SHARED_DIR

EVAL_DIR = SHARED_DIR / "eval"
CLIPS_DIR = EVAL_DIR / "media" / "clips"
VPDQ_DIR = EVAL_DIR / "phash" / "vpdq_expected"
PDQ_IMAGES = EVAL_DIR / "phash" / "pdq_images"

#: Clips with a reference vPDQ file, and the near-duplicates of chair-orig-22-sd-bar among them
#: (vPDQ at distance < 31 and 50 %: re-encodes, cuts, grey, sepia, a small logo; a logo large
#: enough to cover much of the frame is a different video to vPDQ, as upstream's own figures
#: show: about 10 % of frames match).
CHAIR_FAMILY = {
    "chair-19-sd-bar",
    "chair-20-sd-bar",
    "chair-22-sd-grey-bar",
    "chair-22-sd-sepia-bar",
    "chair-22-with-small-logo-bar",
    "chair-orig-22-sd-bar",
}


def _eval_clips() -> list[str]:
    return sorted(p.stem for p in CLIPS_DIR.glob("*.mp4") if (VPDQ_DIR / f"{p.stem}.txt").is_file())


@pytest.fixture(autouse=True)
def _need_eval_data() -> None:
    if not VPDQ_DIR.is_dir() or not PDQ_IMAGES.is_dir():
        pytest.skip(f"the shared eval set is missing: {EVAL_DIR} (see shared/eval/README.md)")


def reference(name: str) -> list[FrameHash]:
    return parse_vpdq_lines((VPDQ_DIR / f"{name}.txt").read_text().splitlines())


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """One session; tests commit where another session (or process) must see the change."""
    with database.session() as db_session:
        yield db_session


def _matched(search: hashbanks.BankSearch) -> set[str]:
    return {match.label for match in search.matches}


# --- videos (vPDQ) ---------------------------------------------------------------------------


def test_a_banked_video_matches_its_family_and_not_the_other_clips(session: Session) -> None:
    hashbanks.create_bank(session, "known-bad", description="test bank")
    original = (VPDQ_DIR / "chair-orig-22-sd-bar.txt").read_text()
    entry = hashbanks.add_vpdq_text(session, "known-bad", original, label="chair")
    clips = _eval_clips()
    assert len(clips) >= 10
    matched = set()
    for name in clips:
        search = hashbanks.search_video(session, reference(name))
        assert search.entries_searched == 1
        if search.matches:
            (match,) = search.matches
            assert (match.bank, match.entry_id, match.label) == ("known-bad", entry.id, "chair")
            matched.add(name)
    assert matched == CHAIR_FAMILY & set(clips)

    # The percentages are vPDQ's: the same as the reference matcher's for the pair.
    cut = reference("chair-19-sd-bar")  # the first 19 s of the 22 s original
    (match,) = hashbanks.match_video(session, cut)
    expected = match_videos(cut, reference("chair-orig-22-sd-bar"))
    assert match.query_match_percent == pytest.approx(expected.query_match_percent)
    assert match.target_match_percent == pytest.approx(expected.target_match_percent)
    assert match.query_match_percent == 100.0
    assert 80 < match.target_match_percent < 90


def test_evidence_pairs_each_query_frame_with_its_nearest_banked_frame(session: Session) -> None:
    hashbanks.create_bank(session, "known-bad")
    banked = reference("chair-orig-22-sd-bar")
    hashbanks.add_entry(session, "known-bad", frames=banked, label="chair")
    query = reference("chair-22-sd-grey-bar")
    (match,) = hashbanks.match_video(session, query)
    assert match.kind == "vpdq"
    assert match.frames == tuple(match_frames(query, banked))
    assert len(match.frames) == len(query)
    assert all(pair.distance < 31 for pair in match.frames)
    assert match.distance == min(pair.distance for pair in match.frames)
    # Frame numbers and timestamps come from each side's own vPDQ lines.
    by_number = {frame.frame_number: frame for frame in banked}
    for pair in match.frames[:50]:
        assert pair.target_timestamp == by_number[pair.target_frame].timestamp
        assert pair.query_timestamp == pytest.approx(pair.query_frame / 30, abs=0.002)
    # The 19 s cut starts 3.7 s into the original: evidence says where.
    (cut,) = hashbanks.match_video(session, reference("chair-19-sd-bar"))
    first = cut.frames[0]
    assert (first.query_frame, first.query_timestamp) == (0, 0.0)
    assert first.target_timestamp == pytest.approx(3.7, abs=0.05)


def test_a_video_containing_most_of_a_banked_clip_matches_by_the_banked_side(
    session: Session,
) -> None:
    """A compilation: 8 of the 10 s of a banked clip inside 22 s of other footage. Under 50 % of
    the upload matches, but most of the banked clip is in it."""
    hashbanks.create_bank(session, "known-bad")
    clip = reference("chair-orig-22-sd-bar")[:300]
    hashbanks.add_entry(session, "known-bad", frames=clip, label="clip")
    other = reference("pattern-hd-no-bar")
    upload = [
        FrameHash(i, frame.quality, frame.pdq_hex, round(i / 30, 3))
        for i, frame in enumerate(other + reference("chair-22-sd-sepia-bar")[:250] + other)
    ]
    (match,) = hashbanks.match_video(session, upload)
    assert match.query_match_percent < 50
    assert 80 < match.target_match_percent < 90
    assert not hashbanks.match_video(session, upload, min_target_percent=90.0)


def test_low_quality_frames_take_no_part(session: Session) -> None:
    hashbanks.create_bank(session, "known-bad")
    doorknob = reference("doorknob-hd-no-bar")  # half of its frames are below quality 50
    hashbanks.add_entry(session, "known-bad", frames=doorknob, label="doorknob")
    search = hashbanks.search_video(session, doorknob)
    assert search.skipped_frames == sum(frame.quality < 50 for frame in doorknob) > 0
    assert search.query_frames == len(doorknob) - search.skipped_frames
    (match,) = search.matches
    assert match.query_match_percent == 100.0
    good = {frame.frame_number for frame in doorknob if frame.quality >= 50}
    assert {pair.query_frame for pair in match.frames} == good
    assert {pair.target_frame for pair in match.frames} <= good
    flat = [frame for frame in doorknob if frame.quality < 50]
    search = hashbanks.search_video(session, flat)
    assert (search.matches, search.query_frames, search.skipped_frames) == ((), 0, len(flat))


# --- negative banks ------------------------------------------------------------------------


def test_a_negative_entry_covering_the_match_suppresses_it(session: Session) -> None:
    hashbanks.create_bank(session, "known-bad")
    bad = hashbanks.add_entry(
        session, "known-bad", frames=reference("chair-orig-22-sd-bar"), label="chair"
    )
    hashbanks.create_bank(session, "benign", negative=True, description="licensed footage")
    benign = hashbanks.add_entry(
        session, "benign", frames=reference("chair-22-sd-grey-bar"), label="licensed"
    )
    search = hashbanks.search_video(session, reference("chair-22-sd-sepia-bar"))
    assert search.matches == ()
    assert search.banks == ()
    (suppressed,) = search.suppressed
    assert suppressed.entry_id == bad.id
    assert suppressed.suppressed_by == (benign.id,)
    assert suppressed.query_match_percent == 100.0  # what it was before suppression
    (negative,) = search.negative
    assert (negative.entry_id, negative.negative, negative.bank) == (benign.id, True, "benign")
    # Unrelated footage is untouched by the negative bank.
    assert hashbanks.search_video(session, reference("pattern-hd-no-bar")).negative == ()


def test_suppression_is_per_frame_so_benign_footage_cannot_hide_banked_footage(
    session: Session,
) -> None:
    hashbanks.create_bank(session, "known-bad")
    bad = hashbanks.add_entry(
        session, "known-bad", frames=reference("chair-orig-22-sd-bar"), label="chair"
    )
    hashbanks.create_bank(session, "benign", negative=True)
    hashbanks.add_entry(
        session, "benign", frames=reference("chair-22-sd-grey-bar")[:300], label="first 10 s"
    )
    query = reference("chair-22-sd-sepia-bar")
    (match,) = hashbanks.match_video(session, query)
    assert match.entry_id == bad.id
    assert match.discounted_frames == 300
    assert len(match.frames) == len(query) - 300
    assert min(pair.query_frame for pair in match.frames) == 300
    assert match.query_match_percent == pytest.approx(100.0 * (len(query) - 300) / len(query))
    # With a threshold the remaining 55 % does not reach, the match is suppressed instead.
    search = hashbanks.search_video(session, query, min_query_percent=60.0, min_target_percent=60.0)
    assert search.matches == ()
    assert [m.entry_id for m in search.suppressed] == [bad.id]


def test_a_negative_image_suppresses_a_positive_image(session: Session) -> None:
    bridge = PDQ_IMAGES / "bridge-mods" / "aaa-orig.jpg"
    hashbanks.create_bank(session, "known-bad")
    bad = hashbanks.add_file(session, "known-bad", bridge, label="bridge")
    hashbanks.create_bank(session, "benign", negative=True)
    query = PDQ_IMAGES / "bridge-mods" / "blur-a-little.jpg"
    assert [m.entry_id for m in hashbanks.search_file(session, query).matches] == [bad.id]
    good = hashbanks.add_file(
        session, "benign", PDQ_IMAGES / "bridge-mods" / "high-saturation.jpg", label="postcard"
    )
    search = hashbanks.search_file(session, query)
    assert search.matches == ()
    assert [(m.entry_id, m.suppressed_by) for m in search.suppressed] == [(bad.id, (good.id,))]


# --- disabled banks and entries; the cache -----------------------------------------------------


def test_disabled_entries_and_banks_do_not_match(database: Database) -> None:
    query = reference("chair-20-sd-bar")
    with database.session() as session:
        hashbanks.create_bank(session, "known-bad")
        entry = hashbanks.add_entry(
            session, "known-bad", frames=reference("chair-orig-22-sd-bar"), label="chair"
        )
        entry_id = entry.id
    with database.session() as session:
        assert _matched(hashbanks.search_video(session, query)) == {"chair"}
        hashbanks.set_entry_enabled(session, entry_id, False)
    with database.session() as session:
        assert hashbanks.search_video(session, query).matches == ()
        hashbanks.set_entry_enabled(session, entry_id, True)
        hashbanks.set_bank_enabled(session, "known-bad", False)
    with database.session() as session:
        assert hashbanks.search_video(session, query).entries_searched == 0
        hashbanks.set_bank_enabled(session, "known-bad", True)
    with database.session() as session:
        assert _matched(hashbanks.search_video(session, query)) == {"chair"}
        hashbanks.remove_entry(session, entry_id, bank="known-bad")
    with database.session() as session:
        assert hashbanks.search_video(session, query).matches == ()
        with pytest.raises(NotFoundError, match=entry_id):
            hashbanks.get_entry(session, entry_id)


def test_the_index_is_cached_until_the_banks_change(database: Database, database_url: str) -> None:
    with database.session() as session:
        hashbanks.create_bank(session, "known-bad")
        hashbanks.add_entry(session, "known-bad", pdq="ab" * 32, label="one")
    with database.session() as session:
        first = hashbanks.bank_index(session)
        assert hashbanks.bank_index(session) is first
        assert len(first.entries) == 1
    # A change through another engine (another process: the CLI, the API) is seen.
    other = Database(database_url)
    try:
        with other.session() as session:
            hashbanks.add_entry(session, "known-bad", pdq="cd" * 32, label="two")
    finally:
        other.dispose()
    with database.session() as session:
        second = hashbanks.bank_index(session)
        assert second is not first
        assert sorted(e.label for e in second.entries) == ["one", "two"]
        one = next(e.entry_id for e in second.entries if e.label == "one")
        hashbanks.update_entry(session, one, label="renamed")
    with database.session() as session:
        third = hashbanks.bank_index(session)
        assert third is not second
        assert sorted(e.label for e in third.entries) == ["renamed", "two"]
    # A change this process did not make (raw SQL standing in for another process's) is seen
    # once the index is older than max_age_seconds, not before: no query per search.
    with database.session() as session:
        session.execute(
            update(HashBankEntry)
            .where(HashBankEntry.label == "two")
            .values(enabled=False, updated_at=utcnow())
        )
    with database.session() as session:
        assert hashbanks.bank_index(session, max_age_seconds=3600) is third
        fourth = hashbanks.bank_index(session, max_age_seconds=0)
        assert [e.label for e in fourth.entries] == ["renamed"]


# --- images (PDQ) ----------------------------------------------------------------------------


def _reference_pdq() -> dict[str, str]:
    with (EVAL_DIR / "phash" / "pdq_expected_hashes.tsv").open() as file:
        return {
            row["path"]: row["expected_pdq_from_pdq_test.py"]
            for row in csv.DictReader(file, delimiter="\t")
        }


def test_image_edits_match_a_banked_image_and_other_images_do_not(session: Session) -> None:
    expected = _reference_pdq()
    hashbanks.create_bank(session, "known-bad")
    # The reference hash from ThreatExchange's test data, given as hex.
    entry = hashbanks.add_entry(
        session, "known-bad", pdq=expected["reg-test-input/dih/bridge-1-original.jpg"].upper()
    )
    assert entry.pdq == expected["reg-test-input/dih/bridge-1-original.jpg"]
    for edit in sorted((PDQ_IMAGES / "bridge-mods").glob("*.jpg")):
        (match,) = hashbanks.search_file(session, edit).matches
        assert match.kind == "pdq"
        assert match.distance < 31, edit.name
        (pair,) = match.frames
        assert pair.distance == match.distance
    others = [
        *(PDQ_IMAGES / "reg-test-input" / "labelme-subset").glob("*.jpg"),
        PDQ_IMAGES / "misc-images" / "c.png",
        PDQ_IMAGES / "misc-images" / "wee.jpg",
        PDQ_IMAGES / "reg-test-input" / "pen-and-coaster.png",
    ]
    for other in others:
        assert hashbanks.search_file(session, other, rotations=True).matches == (), other.name
    # From hex alone: the reference hash of an edit matches; quality below 50 is not matched.
    hexes = [expected[f"reg-test-input/dih/bridge-{i}.jpg"] for i in ("1-original",)]
    assert len(hashbanks.match_image(session, hexes[0])) == 1
    assert hashbanks.match_image(session, hexes[0], quality=10) == []


@pytest.mark.parametrize(
    ("name", "transform"),
    [
        ("bridge-2-rotate-90", "rotate270"),
        ("bridge-3-rotate-180", "rotate180"),
        ("bridge-4-rotate-270", "rotate90"),
        ("bridge-5-flipx", "flip_x"),
        ("bridge-6-flipy", "flip_y"),
        ("bridge-7-flip-plus-1", "flip_plus_1"),
        ("bridge-8-flip-minus-1", "flip_minus_1"),
    ],
)
def test_rotated_and_flipped_images_match_with_rotations(
    session: Session, name: str, transform: str
) -> None:
    hashbanks.create_bank(session, "known-bad")
    hashbanks.add_file(session, "known-bad", PDQ_IMAGES / "bridge-mods" / "aaa-orig.jpg")
    query = PDQ_IMAGES / "reg-test-input" / "dih" / f"{name}.jpg"
    assert hashbanks.search_file(session, query).matches == ()
    (match,) = hashbanks.search_file(session, query, rotations=True).matches
    assert match.transform == transform
    assert match.distance <= 16
    assert match.frames[0].query_frame == hashbanks.DIHEDRAL.index(transform)


def test_a_banked_image_matches_the_video_frames_it_appears_in(session: Session) -> None:
    video = reference("pattern-hd-no-bar")
    still = video[90]
    hashbanks.create_bank(session, "known-bad")
    hashbanks.add_entry(session, "known-bad", pdq=still.pdq_hex, label="still")
    (match,) = hashbanks.match_video(session, video)
    assert match.kind == "pdq"
    assert match.distance == 0
    assert 90 in {pair.query_frame for pair in match.frames}
    assert all(pair.distance < 31 and pair.target_frame == 0 for pair in match.frames)
    assert match.query_match_percent < 50  # one image matches however little of the video
    # And a still of a banked video matches that video's entry.
    hashbanks.create_bank(session, "videos")
    hashbanks.add_entry(session, "videos", frames=video, label="pattern")
    search = hashbanks.search_image(session, still.pdq_hex)
    assert {m.label for m in search.matches} == {"still", "pattern"}
    pattern = next(m for m in search.matches if m.label == "pattern")
    assert 90 in {pair.target_frame for pair in pattern.frames}


# --- adding entries: sources and validation ---------------------------------------------------


def test_an_entry_from_a_platform_video_uses_its_stored_frame_hashes(session: Session) -> None:
    creator, _ = auth.create_user(session, name="maker", role="creator")
    video = ingest.Video(creator_id=creator.id, state="ready")
    session.add(video)
    session.flush()
    frames = reference("chair-orig-22-sd-bar")[::30]  # one a second, as the worker stores them
    session.add_all(
        ingest.VideoFrameHash(
            video_id=video.id,
            frame_number=f.frame_number,
            timestamp_s=f.timestamp,
            quality=f.quality,
            pdq=f.pdq_hex,
        )
        for f in frames
    )
    session.flush()
    hashbanks.create_bank(session, "known-bad")
    entry = hashbanks.add_video(session, "known-bad", video.id, label="reported upload")
    assert entry.source == f"video:{video.id}"
    assert hashbanks.entry_frames(entry) == frames
    (match,) = hashbanks.match_video(session, reference("chair-22-sd-sepia-bar"))
    assert match.target_match_percent == 100.0
    with pytest.raises(ConflictError, match="already"):
        hashbanks.add_video(session, "known-bad", video.id)

    empty = ingest.Video(creator_id=creator.id)
    session.add(empty)
    session.flush()
    with pytest.raises(InvalidInputError, match="no frame hashes yet") as error:
        hashbanks.add_video(session, "known-bad", empty.id)
    assert error.value.details["field"] == "video_id"
    with pytest.raises(NotFoundError, match="no video 'nope'"):
        hashbanks.add_video(session, "known-bad", "nope")


def test_an_entry_from_a_video_file_is_hashed_like_an_upload(session: Session) -> None:
    clip = CLIPS_DIR / "pattern-sd-grey-bar.mp4"
    hashbanks.create_bank(session, "known-bad")
    entry = hashbanks.add_file(session, "known-bad", clip, label="pattern", interval_seconds=1.0)
    assert entry.kind == "vpdq"
    assert entry.source == "file:pattern-sd-grey-bar.mp4"
    assert [f.frame_number for f in hashbanks.entry_frames(entry)] == list(range(0, 206, 30))
    (match,) = hashbanks.match_video(session, reference("pattern-sd-with-small-logo-bar"))
    assert match.target_match_percent == 100.0
    assert hashbanks.search_file(session, clip).banks == ("known-bad",)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"pdq": "ab" * 31}, "pdq", "64 hexadecimal digits"),
        ({"pdq": "ab" * 31 + "zz"}, "pdq", "'z' at position 62"),
        ({}, "pdq", "exactly one of pdq"),
        ({"pdq": "ab" * 32, "frames": []}, "frames", "exactly one of pdq"),
        ({"frames": []}, "frames", "at least one frame"),
        ({"frames": [FrameHash(0, 10, "ab" * 32, 0.0)]}, "frames", "quality >= 50"),
        ({"frames": [FrameHash(0, 100, "ab", 0.0)]}, "frames[0].pdq", "got 2 characters"),
        ({"frames": [FrameHash(0, 101, "ab" * 32, 0.0)]}, "frames[0]", "outside 0..100"),
        ({"pdq": "ab" * 32, "label": "x" * 201}, "label", "longer than 200"),
    ],
)
def test_invalid_entries_say_which_field_and_what_is_wrong(
    session: Session, kwargs: dict[str, object], field: str, message: str
) -> None:
    hashbanks.create_bank(session, "known-bad")
    with pytest.raises(InvalidInputError, match=message) as error:
        hashbanks.add_entry(session, "known-bad", **kwargs)  # type: ignore[arg-type]
    assert error.value.details["field"] == field
    assert error.value.message.startswith(f"{field}: ")


def test_bank_and_vpdq_text_validation(session: Session) -> None:
    with pytest.raises(InvalidInputError, match="not a bank name"):
        hashbanks.create_bank(session, "Bad Name")
    hashbanks.create_bank(session, "known-bad")
    with pytest.raises(ConflictError, match="exists already"):
        hashbanks.create_bank(session, "known-bad")
    with pytest.raises(NotFoundError, match="banks: known-bad"):
        hashbanks.add_entry(session, "missing", pdq="ab" * 32)
    text = "0,100," + "ab" * 32 + ",0.000\n1,100,xyz,0.033\n"
    with pytest.raises(InvalidInputError, match="vpdq: not vPDQ text form: line 2") as error:
        hashbanks.add_vpdq_text(session, "known-bad", text)
    assert error.value.details["field"] == "vpdq"
    entry = hashbanks.add_entry(session, "known-bad", pdq="ab" * 32)
    with pytest.raises(ConflictError, match=entry.id):
        hashbanks.add_entry(session, "known-bad", pdq="AB" * 32)
    hashbanks.create_bank(session, "other")
    hashbanks.add_entry(session, "other", pdq="ab" * 32)  # the same hash in another bank is fine
    with pytest.raises(NotFoundError, match="in hash bank 'other'"):
        hashbanks.get_entry(session, entry.id, bank="other")
    with pytest.raises(NotFoundError, match=r"nope\.jpg does not exist"):
        hashbanks.add_file(session, "known-bad", PDQ_IMAGES / "nope.jpg")
    with pytest.raises(InvalidInputError, match="PDQ quality 0, below 50"):
        hashbanks.add_file(session, "known-bad", PDQ_IMAGES / "misc-images" / "small.jpg")


def test_banks_are_listed_renamed_and_removed(session: Session) -> None:
    hashbanks.create_bank(session, "known-bad")
    hashbanks.create_bank(session, "benign", negative=True)
    first = hashbanks.add_entry(session, "known-bad", pdq="ab" * 32)
    hashbanks.add_entry(session, "known-bad", pdq="cd" * 32)
    hashbanks.set_entry_enabled(session, first.id, False)
    listed = {
        s.bank.name: (s.bank.negative, s.entries, s.enabled_entries)
        for s in hashbanks.list_banks(session)
    }
    assert listed == {"benign": (True, 0, 0), "known-bad": (False, 2, 1)}
    hashbanks.update_bank(session, "known-bad", new_name="csam-hashes", description="from NCMEC")
    assert hashbanks.get_bank(session, "csam-hashes").description == "from NCMEC"
    with pytest.raises(ConflictError, match="exists already"):
        hashbanks.update_bank(session, "benign", new_name="csam-hashes")
    with pytest.raises(ConflictError, match="has 2 entries"):
        hashbanks.remove_bank(session, "csam-hashes")
    assert hashbanks.remove_bank(session, "csam-hashes", force=True) == 2
    assert [s.bank.name for s in hashbanks.list_banks(session)] == ["benign"]


def test_search_results_serialise_to_json(session: Session) -> None:
    hashbanks.create_bank(session, "known-bad")
    hashbanks.add_entry(session, "known-bad", frames=reference("chair-orig-22-sd-bar"), label="c")
    data = hashbanks.search_video(session, reference("chair-19-sd-bar")).to_json(max_frames=3)
    assert data["banks"] == ["known-bad"]
    (match,) = data["matches"]
    assert match["matching_frames"] == 564
    assert len(match["frames"]) == 3
    assert set(match["frames"][0]) == {
        "query_frame",
        "query_timestamp",
        "target_frame",
        "target_timestamp",
        "distance",
    }
    assert match["query_match_percent"] == 100.0
    assert data["query_frames"] == 564


# --- speed -----------------------------------------------------------------------------------


def test_one_video_against_ten_thousand_bank_frames_finds_its_entry(database: Database) -> None:
    """60 query frames against 10,000 banked frames (167 videos of 60 frames), index cached
    (its speed is measured by bench/hashbanks.py)."""
    rng = np.random.default_rng(5)

    def random_frames(count: int) -> list[FrameHash]:
        return [FrameHash(i, 100, rng.bytes(32).hex(), i / 30) for i in range(count)]

    with database.session() as session:
        hashbanks.create_bank(session, "known-bad")
        videos = [random_frames(60) for _ in range(167)]
        for frames in videos:
            hashbanks.add_entry(session, "known-bad", frames=frames)
    query = videos[42]
    with database.session() as session:
        index = hashbanks.bank_index(session)
        assert index.frames == 10_020
        (match,) = hashbanks.match_video(session, query)
    assert match.query_match_percent == 100.0
    assert match.distance == 0

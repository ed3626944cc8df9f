"""The hash bank routes through the real API app, on both metadata backends."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

import ingest
from core import auth
from core.db import Database
from ingest.media import parse_vpdq_lines
from tests.api.conftest import app, client, make_user, settings, token_for  # noqa: F401
from tests.conftest import SHARED_DIR

VPDQ_DIR = SHARED_DIR / "eval" / "phash" / "vpdq_expected"
BANKS = "/v1/moderation/banks"
Headers = dict[str, str]


@pytest.fixture(autouse=True)
def _need_eval_data() -> None:
    if not VPDQ_DIR.is_dir():
        pytest.skip(f"the shared eval set is missing: {VPDQ_DIR}")


def _vpdq(name: str) -> str:
    return (VPDQ_DIR / f"{name}.txt").read_text()


@pytest.fixture
def admin(token_for: Callable[[str], str]) -> Headers:  # noqa: F811
    return {"Authorization": f"Bearer {token_for('senior_moderator')}"}


@pytest.fixture
def moderator(token_for: Callable[[str], str]) -> Headers:  # noqa: F811
    return {"Authorization": f"Bearer {token_for('moderator')}"}


def test_banks_entries_and_matching(
    client: TestClient,  # noqa: F811
    admin: Headers,
    moderator: Headers,
) -> None:
    created = client.post(BANKS, json={"name": "known-bad", "description": "t"}, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["negative"] is False
    negative = client.post(BANKS, json={"name": "benign", "negative": True}, headers=admin)
    assert negative.status_code == 201

    entry = client.post(
        f"{BANKS}/known-bad/entries",
        json={"vpdq": _vpdq("chair-orig-22-sd-bar"), "label": "chair"},
        headers=admin,
    )
    assert entry.status_code == 201, entry.text
    chair = entry.json()
    assert (chair["kind"], chair["frames"], chair["label"]) == ("vpdq", 673, "chair")

    listed = client.get(BANKS, headers=moderator).json()
    assert [(b["name"], b["entries"], b["negative"]) for b in listed] == [
        ("benign", 0, True),
        ("known-bad", 1, False),
    ]

    found = client.post(
        f"{BANKS}:match",
        json={"vpdq": _vpdq("chair-19-sd-bar"), "max_frames": 2},
        headers=moderator,
    )
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["banks"] == ["known-bad"]
    (match,) = body["matches"]
    assert match["entry_id"] == chair["id"]
    assert match["query_match_percent"] == 100.0
    assert match["matching_frames"] == 564
    assert match["frames"][0] == {
        "query_frame": 0,
        "query_timestamp": 0.0,
        "target_frame": 111,
        "target_timestamp": 3.7,
        "distance": 0,
    }
    unrelated = client.post(
        f"{BANKS}:match", json={"vpdq": _vpdq("doorknob-hd-no-bar")}, headers=moderator
    )
    assert unrelated.json()["matches"] == []

    # A negative entry suppresses; disabling it lifts the suppression; removing it too.
    frames = [
        {
            "frame_number": f.frame_number,
            "quality": f.quality,
            "pdq": f.pdq_hex,
            "timestamp": f.timestamp,
        }
        for f in parse_vpdq_lines(_vpdq("chair-22-sd-grey-bar").splitlines())
    ]
    benign = client.post(
        f"{BANKS}/benign/entries", json={"frames": frames, "label": "licensed"}, headers=admin
    ).json()
    query = {"vpdq": _vpdq("chair-22-sd-sepia-bar"), "max_frames": 0}
    body = client.post(f"{BANKS}:match", json=query, headers=moderator).json()
    assert body["matches"] == []
    assert body["suppressed"][0]["suppressed_by"] == [benign["id"]]
    assert body["negative"][0]["entry_id"] == benign["id"]
    patched = client.patch(
        f"{BANKS}/benign/entries/{benign['id']}", json={"enabled": False}, headers=admin
    )
    assert patched.status_code == 200
    assert patched.json()["enabled"] is False
    assert client.post(f"{BANKS}:match", json=query, headers=moderator).json()["banks"] == [
        "known-bad"
    ]
    removed = client.delete(f"{BANKS}/benign/entries/{benign['id']}", headers=admin)
    assert removed.json() == {"removed": benign["id"]}
    missing = client.delete(f"{BANKS}/benign/entries/{benign['id']}", headers=admin)
    assert missing.status_code == 404

    # Disabling the bank stops its matches; renaming keeps its entries.
    renamed = client.patch(
        f"{BANKS}/known-bad", json={"name": "terror-footage", "enabled": False}, headers=admin
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["enabled"], renamed.json()["entries"]) == (
        "terror-footage",
        False,
        1,
    )
    assert client.post(f"{BANKS}:match", json=query, headers=moderator).json()["matches"] == []
    entries = client.get(f"{BANKS}/terror-footage/entries", headers=moderator).json()
    assert [e["id"] for e in entries] == [chair["id"]]
    refused = client.delete(f"{BANKS}/terror-footage", headers=admin)
    assert refused.status_code == 409
    deleted = client.delete(f"{BANKS}/terror-footage?force=true", headers=admin)
    assert deleted.json() == {"deleted": "terror-footage", "entries": 1}


def test_images_and_platform_videos(
    client: TestClient,  # noqa: F811
    admin: Headers,
    moderator: Headers,
    database_url: str,
) -> None:
    frames = parse_vpdq_lines(_vpdq("pattern-hd-no-bar").splitlines())
    db = Database(database_url)
    try:
        with db.session() as session:
            creator, _ = auth.create_user(session, name="maker", role="creator")
            video = ingest.Video(creator_id=creator.id, state="ready")
            session.add(video)
            session.flush()
            session.add_all(
                ingest.VideoFrameHash(
                    video_id=video.id,
                    frame_number=f.frame_number,
                    timestamp_s=f.timestamp,
                    quality=f.quality,
                    pdq=f.pdq_hex,
                )
                for f in frames[::30]
            )
            video_id = video.id
    finally:
        db.dispose()
    assert client.post(BANKS, json={"name": "known-bad"}, headers=admin).status_code == 201
    still = client.post(
        f"{BANKS}/known-bad/entries", json={"pdq": frames[90].pdq_hex.upper()}, headers=admin
    )
    assert still.status_code == 201, still.text
    assert still.json()["pdq"] == frames[90].pdq_hex
    by_id = client.post(
        f"{BANKS}/known-bad/entries", json={"video_id": video_id, "label": "upload"}, headers=admin
    )
    assert by_id.status_code == 201, by_id.text
    assert by_id.json()["source"] == f"video:{video_id}"

    body = client.post(f"{BANKS}:match", json={"video_id": video_id}, headers=moderator).json()
    assert {m["kind"] for m in body["matches"]} == {"pdq", "vpdq"}
    image = client.post(
        f"{BANKS}:match", json={"pdq": frames[90].pdq_hex, "quality": 100}, headers=moderator
    ).json()
    assert {m["kind"] for m in image["matches"]} == {"pdq", "vpdq"}
    low = client.post(
        f"{BANKS}:match", json={"pdq": frames[90].pdq_hex, "quality": 10}, headers=moderator
    ).json()
    assert low["matches"] == []
    assert low["skipped_frames"] == 1


def test_errors_name_the_field_and_scopes_are_enforced(
    client: TestClient,  # noqa: F811
    admin: Headers,
    moderator: Headers,
) -> None:
    assert client.post(BANKS, json={"name": "known-bad"}, headers=admin).status_code == 201
    cases = [
        ({"pdq": "ab" * 31}, "pdq", "got 62 characters"),
        ({}, "pdq", "give exactly one of pdq, vpdq, frames, video_id"),
        ({"pdq": "ab" * 32, "vpdq": "x"}, "vpdq", "got pdq, vpdq"),
        ({"vpdq": "0,100,zz,0.0"}, "vpdq", "line 1"),
        ({"frames": []}, "frames", "at least one frame"),
        ({"video_id": "nope"}, "video_id", "no video 'nope'"),
    ]
    for body, field, message in cases:
        response = client.post(f"{BANKS}/known-bad/entries", json=body, headers=admin)
        assert response.status_code in (404, 422), (body, response.text)
        error = response.json()["error"]
        assert error["details"]["field"] == field, (body, error)
        assert message in error["message"], (body, error)
    bad_frame = {"frames": [{"frame_number": 0, "quality": 100, "pdq": "xy" * 32}]}
    response = client.post(f"{BANKS}:match", json=bad_frame, headers=moderator)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "frames[0].pdq"
    response = client.post(f"{BANKS}/nope/entries", json={"pdq": "ab" * 32}, headers=admin)
    assert response.status_code == 404
    assert "banks: known-bad" in response.json()["error"]["message"]
    assert client.post(BANKS, json={"name": "known-bad"}, headers=admin).status_code == 409
    bad_name = client.post(BANKS, json={"name": "Known Bad"}, headers=admin)
    assert bad_name.status_code == 422
    assert bad_name.json()["error"]["details"]["field"] == "name"

    # Moderators read and match; changing banks takes policy:admin.
    assert client.get(BANKS, headers=moderator).status_code == 200
    denied = client.post(BANKS, json={"name": "mine"}, headers=moderator)
    assert denied.status_code == 403
    assert denied.json()["error"]["details"]["required_scope"] == "policy:admin"
    assert client.get(BANKS).status_code == 401

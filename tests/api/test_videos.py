"""Videos through the API: tus and one-shot uploads, refusals, the pipeline, signed playback with
ranges and cache headers, visibility per country, and idempotent reprocessing."""

from __future__ import annotations

import base64
import hashlib
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

import ingest
import moderation
from core import auth
from core.db import Database
from tests.conftest import SHARED_DIR

pytestmark = pytest.mark.slow

CLIP = SHARED_DIR / "eval" / "media" / "clips" / "in1_320x240.mp4"
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(autouse=True)
def _needs_ffmpeg() -> None:
    if not shutil.which("ffmpeg") or not CLIP.exists():
        pytest.skip("needs ffmpeg (apt-get install ffmpeg) and ../shared/eval")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def creator(
    make_user: Callable[..., auth.User], client: TestClient, settings: Any
) -> dict[str, str]:
    user = make_user("maker", "creator")
    db = Database(settings.effective_database_url)
    with db.session() as session:
        session.get(auth.User, user.id).country = "BR"  # type: ignore[union-attr]
    db.dispose()
    response = client.post(
        "/v1/auth/token", data={"username": "maker", "password": "correct-horse-battery-staple"}
    )
    return {**_bearer(response.json()["access_token"]), "id": user.id}


def _headers(creator: dict[str, str], **extra: str) -> dict[str, str]:
    return {"Authorization": creator["Authorization"], **TUS, **extra}


def _process(client: TestClient, video_id: str, *, reprocess: bool = False) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    ingest.process_video(
        db=services.db,
        store=services.store,
        settings=services.settings,
        video_id=video_id,
        attempt=1,
        reprocess=reprocess,
    )


def test_tus_upload_in_chunks_resumes_then_plays(client: TestClient, creator: dict[str, str]):
    data = CLIP.read_bytes()
    created = client.post(
        "/v1/videos",
        json={
            "caption": "first light #sunrise #Beach",
            "hashtags": ["travel"],
            "language": "pt-BR",
            "upload_length": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "filename": "in1.mp4",
        },
        headers=creator,
    )
    assert created.status_code == 201, created.text
    video = created.json()["video"]
    assert video["state"] == "awaiting_upload"
    assert video["hashtags"] == ["travel", "sunrise", "beach"]
    assert video["region"] == "BR"
    upload_path = created.json()["upload"]["url"].split("://", 1)[1].split("/", 1)[1]
    url = "/" + upload_path

    half = len(data) // 2
    first = client.patch(
        url,
        content=data[:half],
        headers=_headers(
            creator, **{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
        ),
    )
    assert first.status_code == 204, first.text
    assert first.headers["Upload-Offset"] == str(half)

    # A client that lost its place is told where to resume.
    wrong = client.patch(
        url,
        content=data[half:],
        headers=_headers(
            creator, **{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
        ),
    )
    assert wrong.status_code == 409
    assert wrong.json()["error"]["details"]["expected_offset"] == half
    head = client.head(url, headers=_headers(creator))
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == str(half)
    assert head.headers["Upload-Length"] == str(len(data))

    rest = client.patch(
        url,
        content=data[half:],
        headers=_headers(
            creator,
            **{"Upload-Offset": str(half), "Content-Type": "application/offset+octet-stream"},
        ),
    )
    assert rest.status_code == 204, rest.text
    assert rest.headers["Upload-Offset"] == str(len(data))
    got = client.get(f"/v1/videos/{video['id']}", headers=creator).json()
    assert got["state"] == "uploaded"
    services = client.app.state.services  # type: ignore[attr-defined]
    assert services.store.get_bytes(f"originals/{video['id']}") == data
    assert list(services.store.list(f"uploads/{created.json()['upload']['id']}")) == []

    _process(client, video["id"])
    ready = client.get(f"/v1/videos/{video['id']}", headers=creator).json()
    assert ready["state"] == "ready", ready
    assert (ready["width"], ready["height"]) == (320, 240)
    assert ready["duration_s"] == pytest.approx(7.0, abs=0.2)
    assert len(ready["thumbnail_urls"]) == 2
    assert ready["storyboard_vtt_url"]

    def path_of(absolute: str) -> str:
        return "/" + absolute.split("://", 1)[1].split("/", 1)[1]

    master = client.get(path_of(ready["playback_url"]))
    assert master.status_code == 200
    assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert "no-cache" in master.headers["cache-control"]
    token = ready["playback_url"].split("token=")[1]
    variants = [line for line in master.text.splitlines() if line and not line.startswith("#")]
    assert variants
    assert all(line.endswith(f"token={token}") for line in variants)
    for attribute in ("BANDWIDTH=", "RESOLUTION=", "CODECS="):
        assert attribute in master.text

    base = path_of(ready["playback_url"]).rsplit("/", 1)[0].split("?")[0]
    variant = client.get(f"{base}/{variants[0]}")
    assert variant.status_code == 200
    segments = [line for line in variant.text.splitlines() if line and not line.startswith("#")]
    segment_url = f"{base}/{variants[0].rsplit('/', 1)[0] + '/' if '/' in variants[0] else ''}"
    segment = client.get(segment_url + segments[0])
    assert segment.status_code == 200
    assert segment.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert segment.headers["content-type"] in ("video/mp2t", "video/iso.segment", "video/mp4")
    whole = segment.content
    part = client.get(segment_url + segments[0], headers={"Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.content == whole[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{len(whole)}"
    beyond = client.get(segment_url + segments[0], headers={"Range": f"bytes={len(whole)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(whole)}"
    assert client.get(segment_url + segments[0].split("?")[0]).status_code == 401
    thumb = client.get(path_of(next(iter(ready["thumbnail_urls"].values()))))
    assert thumb.status_code == 200
    assert thumb.content[:2] == b"\xff\xd8"
    vtt = client.get(path_of(ready["storyboard_vtt_url"]))
    assert vtt.text.startswith("WEBVTT")
    assert "#xywh=" in vtt.text


def test_removed_or_blocked_video_is_not_served(
    client: TestClient, creator: dict[str, str], token_for: Callable[[str], str], settings: Any
):
    response = client.post(
        "/v1/uploads/form",
        files={"file": ("clip.mp4", CLIP.read_bytes(), "video/mp4")},
        data={"caption": "hello", "hashtags": "a,b"},
        headers=creator,
    )
    assert response.status_code == 201, response.text
    video_id = response.json()["video"]["id"]
    _process(client, video_id)
    viewer = _bearer(token_for("viewer"))
    ready = client.get(f"/v1/videos/{video_id}", headers=viewer)
    assert ready.status_code == 200
    master = "/" + ready.json()["playback_url"].split("://", 1)[1].split("/", 1)[1]
    assert client.get(master).status_code == 200

    db = Database(settings.effective_database_url)
    with db.session() as session:
        moderation.set_visibility(
            session,
            subject_type="video",
            subject_id=video_id,
            visibility=moderation.Visibility.BLOCKED,
            country="DE",
            reason="court order",
        )
    app_key = client.post(
        "/v1/keys",
        json={"name": "app", "scopes": ["videos:read"]},
        headers=_bearer(token_for("admin")),
    ).json()["key"]
    as_app = _bearer(app_key)
    blocked = client.get(f"/v1/videos/{video_id}?country=DE", headers=as_app)
    assert blocked.status_code == 451
    assert blocked.json()["error"]["code"] == "video_blocked_in_region"
    elsewhere = client.get(f"/v1/videos/{video_id}?country=US", headers=as_app)
    assert elsewhere.status_code == 200

    with db.session() as session:
        moderation.set_visibility(
            session,
            subject_type="video",
            subject_id=video_id,
            visibility=moderation.Visibility.REMOVED,
            reason="policy",
        )
    db.dispose()
    # The link handed out before the removal stops working on the next request.
    assert client.get(master).status_code == 404
    assert client.get(f"/v1/videos/{video_id}", headers=viewer).status_code == 404
    # Its creator still sees it, to know what happened.
    assert client.get(f"/v1/videos/{video_id}", headers=creator).status_code == 200


@pytest.mark.parametrize(
    ("content", "filename", "status", "reason"),
    [
        (b"", "empty.mp4", 422, "empty_file"),
        (b"this is not a video, just text\n" * 20, "notes.mp4", 415, None),
        (
            CLIP.read_bytes()[: CLIP.stat().st_size * 6 // 10] if CLIP.exists() else b"",
            "cut.mp4",
            None,
            None,
        ),
    ],
)
def test_form_upload_refuses_bad_files_with_a_reason(
    client: TestClient,
    creator: dict[str, str],
    content: bytes,
    filename: str,
    status: int | None,
    reason: str | None,
):
    response = client.post(
        "/v1/uploads/form",
        files={"file": (filename, content, "video/mp4")},
        headers=creator,
    )
    if status is None:
        # A truncated clip is refused now or fails later, never crashes: either way a reason.
        if response.status_code == 201:
            video_id = response.json()["video"]["id"]
            _process(client, video_id)
            got = client.get(f"/v1/videos/{video_id}", headers=creator).json()
            assert got["state"] in ("ready", "failed")
            if got["state"] == "failed":
                assert got["failure_reason"]
            return
        assert response.status_code in (413, 415, 422)
    else:
        assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    if reason:
        assert error["details"]["reason"] == reason
    mine = client.get(f"/v1/videos?creator_id={creator['id']}", headers=creator).json()
    assert mine[0]["state"] == "failed"
    assert mine[0]["failure_reason"] == error["details"]["reason"]


def test_tus_creation_limits_checksums_termination(client: TestClient, creator: dict[str, str]):
    options = client.options("/v1/uploads")
    assert options.status_code == 204
    assert options.headers["Tus-Version"] == "1.0.0"
    assert "termination" in options.headers["Tus-Extension"]

    meta = "filename " + base64.b64encode(b"big.mp4").decode()
    too_big = client.post(
        "/v1/uploads",
        headers=_headers(creator, **{"Upload-Length": str(10**12), "Upload-Metadata": meta}),
    )
    assert too_big.status_code == 413
    assert "VIGIL_MEDIA__MAX_UPLOAD_BYTES" in too_big.json()["error"]["message"]
    no_version = client.post("/v1/uploads", headers={**creator, "Upload-Length": "10"})
    assert no_version.status_code == 412

    data = CLIP.read_bytes()
    declared = "sha256 " + base64.b64encode(hashlib.sha256(b"other").hexdigest().encode()).decode()
    created = client.post(
        "/v1/uploads",
        headers=_headers(
            creator, **{"Upload-Length": str(len(data)), "Upload-Metadata": f"{meta},{declared}"}
        ),
    )
    assert created.status_code == 201, created.text
    url = "/" + created.headers["Location"].split("://", 1)[1].split("/", 1)[1]
    patch = {"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
    wrong_sha1 = hashlib.sha1(b"x", usedforsecurity=False).digest()
    bad_chunk = client.patch(
        url,
        content=data[:100],
        headers=_headers(
            creator,
            **patch,
            **{"Upload-Checksum": f"sha1 {base64.b64encode(wrong_sha1).decode()}"},
        ),
    )
    assert bad_chunk.status_code == 460
    assert client.head(url, headers=_headers(creator)).headers["Upload-Offset"] == "0"
    whole = client.patch(url, content=data, headers=_headers(creator, **patch))
    assert whole.status_code == 460
    assert whole.json()["error"]["details"]["reason"] == "checksum_mismatch"
    assert client.head(url, headers=_headers(creator)).status_code == 410

    second = client.post(
        "/v1/uploads", headers=_headers(creator, **{"Upload-Length": str(len(data))})
    )
    url = "/" + second.headers["Location"].split("://", 1)[1].split("/", 1)[1]
    client.patch(url, content=data[:1000], headers=_headers(creator, **patch))
    assert client.delete(url, headers=_headers(creator)).status_code == 204
    assert client.head(url, headers=_headers(creator)).status_code == 410


def test_reprocessing_is_idempotent(client: TestClient, creator: dict[str, str]) -> None:
    response = client.post(
        "/v1/uploads/form",
        files={"file": ("clip.mp4", CLIP.read_bytes(), "video/mp4")},
        headers=creator,
    )
    video_id = response.json()["video"]["id"]
    services = client.app.state.services  # type: ignore[attr-defined]
    _process(client, video_id)
    first = {o.key: o.size for o in services.store.list(f"videos/{video_id}")}
    with services.db.session() as session:
        hashes = [(h.frame_number, h.pdq) for h in ingest.frame_hashes(session, video_id)]
    assert hashes
    _process(client, video_id)  # a redelivery: nothing to do
    _process(client, video_id, reprocess=True)
    again = {o.key: o.size for o in services.store.list(f"videos/{video_id}")}
    assert set(again) == set(first)
    with services.db.session() as session:
        assert [(h.frame_number, h.pdq) for h in ingest.frame_hashes(session, video_id)] == hashes
    assert client.get(f"/v1/videos/{video_id}", headers=creator).json()["state"] == "ready"

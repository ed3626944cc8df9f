"""Comments through the real API: post, list by viewer, hidden when held, deleted by the author."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

import ingest
import moderation
from core import auth
from core.db import Database


def _ready_video(database_url: str, creator_id: str) -> str:
    db = Database(database_url)
    try:
        with db.session() as session:
            video = ingest.Video(
                creator_id=creator_id, caption="a clip", state=ingest.VideoState.READY.value
            )
            session.add(video)
            session.flush()
            return video.id
    finally:
        db.dispose()


def _hold(database_url: str, comment_id: str) -> None:
    db = Database(database_url)
    try:
        with db.session() as session:
            moderation.set_visibility(
                session,
                subject_type="comment",
                subject_id=comment_id,
                visibility=moderation.Visibility.HELD,
                reason="waiting for review",
            )
    finally:
        db.dispose()


def _signed_in(
    client: TestClient, make_user: Callable[..., auth.User], name: str
) -> tuple[dict[str, str], str]:
    user = make_user(name, "creator")
    token = client.post(
        "/v1/auth/token", data={"username": name, "password": "correct-horse-battery-staple"}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}, user.id


def test_post_list_hold_and_delete(
    app: FastAPI, client: TestClient, make_user: Callable[..., auth.User], database_url: str
) -> None:
    alice, alice_id = _signed_in(client, make_user, "alice")
    bob, _bob_id = _signed_in(client, make_user, "bob")
    video_id = _ready_video(database_url, alice_id)

    posted = client.post(f"/v1/videos/{video_id}/comments", json={"text": "first!"}, headers=bob)
    assert posted.status_code == 201, posted.text
    comment = posted.json()
    assert comment["status"] == "visible"
    assert comment["author_id"]

    stats = asyncio.run(_stats(app))
    assert stats.messages == 1, "comment.created was published for the moderation worker"

    listed = client.get(f"/v1/videos/{video_id}/comments", headers=alice).json()
    assert [c["text"] for c in listed] == ["first!"]

    _hold(database_url, comment["id"])
    assert client.get(f"/v1/videos/{video_id}/comments", headers=alice).json() == []
    mine = client.get(f"/v1/videos/{video_id}/comments", headers=bob).json()
    assert [(c["id"], c["status"]) for c in mine] == [(comment["id"], "held")]

    refused = client.delete(f"/v1/comments/{comment['id']}", headers=alice)
    assert refused.status_code == 403
    assert client.delete(f"/v1/comments/{comment['id']}", headers=bob).status_code == 204
    assert client.get(f"/v1/videos/{video_id}/comments", headers=bob).json() == []


async def _stats(app: FastAPI) -> object:
    return await app.state.services.bus.stats("comment.created")


def test_bad_comments_name_the_field(
    client: TestClient, make_user: Callable[..., auth.User], database_url: str
) -> None:
    carol, carol_id = _signed_in(client, make_user, "carol")
    video_id = _ready_video(database_url, carol_id)
    blank = client.post(f"/v1/videos/{video_id}/comments", json={"text": "   "}, headers=carol)
    assert blank.status_code == 422
    assert "text" in blank.text
    long = client.post(f"/v1/videos/{video_id}/comments", json={"text": "x" * 1001}, headers=carol)
    assert long.status_code == 422
    assert "1000" in long.text
    missing = client.post("/v1/videos/nope/comments", json={"text": "hi"}, headers=carol)
    assert missing.status_code == 404
    assert "nope" in missing.text
    orphan = client.post(
        f"/v1/videos/{video_id}/comments", json={"text": "hi", "parent_id": "zz"}, headers=carol
    )
    assert orphan.status_code == 422
    assert "parent_id" in orphan.text

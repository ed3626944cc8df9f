"""Moderators watch held and removed videos; viewers' tokens never reach them."""

from __future__ import annotations

import pytest

import ingest
import moderation
from core import auth
from core.db import Database

SECRET = "s" * 32


def test_review_tokens_play_held_videos_and_viewer_tokens_do_not(database: Database) -> None:
    with database.session() as session:
        creator, _ = auth.create_user(session, name="maker", role="creator", country="ES")
        video = ingest.Video(creator_id=creator.id, caption="clip", state="ready", region="ES")
        session.add(video)
        session.flush()
        moderation.set_visibility(
            session,
            subject_type="video",
            subject_id=video.id,
            visibility=moderation.Visibility.HELD,
            reason="waiting for review",
        )
        video_id = video.id

    review, _ = ingest.playback.sign(
        secret=SECRET, video_id=video_id, country=ingest.playback.REVIEW
    )
    viewer, _ = ingest.playback.sign(secret=SECRET, video_id=video_id, country="ES")
    with database.session() as session:
        where = ingest.playback.verify(secret=SECRET, video_id=video_id, token=review)
        found = ingest.service.playable_file(
            session, video_id=video_id, path="master.m3u8", country=where
        )
        assert found.key.endswith("/master.m3u8")
        where = ingest.playback.verify(secret=SECRET, video_id=video_id, token=viewer)
        with pytest.raises(ingest.service.VideoUnavailableError):
            ingest.service.playable_file(
                session, video_id=video_id, path="master.m3u8", country=where
            )
    assert ingest.playback.valid_country(ingest.playback.REVIEW) is None, (
        "nobody can ask for a review token by naming it as their country"
    )

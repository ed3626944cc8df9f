"""Builders shared by the cases, decisions, reports, strikes and appeals tests (no tests here):
real users, a ready video and a comment in a migrated store on each backend."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

import ingest
from core import auth
from core.auth import Principal
from core.db import Database

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@dataclass
class World:
    db: Database
    creator: auth.User
    commenter: auth.User
    viewers: list[auth.User]
    moderator: Principal
    moderator2: Principal
    senior: Principal
    senior2: Principal
    video_id: str
    comment_id: str

    def session(self) -> Session:
        return self.db.sessionmaker()


def _user(session: Session, name: str, role: str) -> auth.User:
    user, _ = auth.create_user(session, name=name, role=role, generate=False, country="ES")
    return user


def build_world(db: Database, viewers: int = 5) -> World:
    with db.session() as session:
        creator = _user(session, "creator", "creator")
        commenter = _user(session, "commenter", "viewer")
        people = [_user(session, f"viewer-{i}", "viewer") for i in range(viewers)]
        staff = {
            name: auth.principal_for(_user(session, name, role))
            for name, role in (
                ("mod-a", "moderator"),
                ("mod-b", "moderator"),
                ("senior-a", "senior_moderator"),
                ("senior-b", "senior_moderator"),
            )
        }
        video = ingest.Video(
            creator_id=creator.id, caption="a caption", state="ready", region="ES", language="es"
        )
        session.add(video)
        session.flush()
        comment = ingest.Comment(
            video_id=video.id, author_id=commenter.id, text="eres un idiota", region="ES"
        )
        session.add(comment)
        session.flush()
        return World(
            db=db,
            creator=creator,
            commenter=commenter,
            viewers=people,
            moderator=staff["mod-a"],
            moderator2=staff["mod-b"],
            senior=staff["senior-a"],
            senior2=staff["senior-b"],
            video_id=video.id,
            comment_id=comment.id,
        )

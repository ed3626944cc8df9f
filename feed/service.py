"""Follow graph operations and its demo generator."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from core.db import utcnow

from .models import Follow


def follow(session: Session, *, follower_id: str, followee_id: str) -> None:
    """Idempotent: following twice keeps one edge."""
    if follower_id == followee_id:
        raise ValueError("a user cannot follow themselves")
    if session.get(Follow, (follower_id, followee_id)) is None:
        session.add(Follow(follower_id=follower_id, followee_id=followee_id))
        session.flush()


def count_followers(session: Session, *, user_id: str) -> int:
    query = select(func.count()).select_from(Follow).where(Follow.followee_id == user_id)
    return int(session.scalar(query) or 0)


def seed_follows(
    session: Session,
    *,
    rng: random.Random,
    followers: Sequence[str],
    followees: Sequence[str],
    mean_following: float = 12.0,
    zipf_exponent: float = 1.1,
) -> int:
    """Follow edges with a power-law in-degree: a few creators get most followers.

    Each follower follows a geometric-ish number of accounts (mean ``mean_following``); whom is
    drawn with probability proportional to ``1 / rank ** zipf_exponent``. Returns edges made.
    """
    if not followers or not followees:
        return 0
    weights = [1.0 / (rank**zipf_exponent) for rank in range(1, len(followees) + 1)]
    start = utcnow() - dt.timedelta(days=90)
    rows = []
    for follower in followers:
        count = min(len(followees) - 1, max(1, int(rng.expovariate(1.0 / mean_following))))
        chosen = set()
        for followee in rng.choices(followees, weights=weights, k=count * 2):
            if followee != follower:
                chosen.add(followee)
            if len(chosen) >= count:
                break
        for followee in sorted(chosen):
            rows.append(
                {
                    "follower_id": follower,
                    "followee_id": followee,
                    "created_at": start + dt.timedelta(seconds=rng.uniform(0, 90 * 86400)),
                }
            )
    if rows:
        session.execute(insert(Follow), rows)
    return len(rows)

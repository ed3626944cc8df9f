"""Video, creator, trending and region insights over three hand-built videos."""

from __future__ import annotations

import pytest

from analytics.insights import (
    creator_metrics,
    region_metrics,
    retention_curve,
    top_videos,
    trending,
    trust_safety,
    video_metrics,
)
from core.errors import InvalidInputError

from .conftest import Build, ev, span, user, video

VIDEOS = [
    video("v1", "c1", hashtags=["dance", "fun"], sound="beat", duration_ms=10_000),
    video("v2", "c1", hashtags=["fun"], sound="beat", duration_ms=20_000),
    video("v3", "c2", hashtags=["cats"], sound="meow", duration_ms=5_000),
]
USERS = [user("c1", "Ana"), user("c2", "Ben")]
EVENTS = [
    # v1, u1 session s1 on 03-02: watches 4 s + 6 s to the end (10 s), completes, likes
    ev("view_start", "2026-03-02 10:00:00", "u1", video="v1"),
    ev("watch", "2026-03-02 10:00:04", "u1", video="v1", watched_ms=4000, position_ms=4000),
    ev("watch", "2026-03-02 10:00:10", "u1", video="v1", watched_ms=6000, position_ms=10_000),
    ev("complete", "2026-03-02 10:00:10", "u1", video="v1"),
    ev("like", "2026-03-02 10:00:11", "u1", video="v1"),
    # v1, u1 again in session s2 on 03-03 (a rewatch): 2.5 s
    ev("view_start", "2026-03-03 10:00:00", "u1", video="v1", session="s2"),
    ev(
        "watch",
        "2026-03-03 10:00:03",
        "u1",
        video="v1",
        session="s2",
        watched_ms=2500,
        position_ms=2500,
    ),
    # v1, u2 on 03-03: starts and leaves at once
    ev("view_start", "2026-03-03 11:00:00", "u2", video="v1"),
    # v1, u3 on 03-04: 7 s, shares, comments, reports
    ev("view_start", "2026-03-04 10:00:00", "u3", video="v1"),
    ev("watch", "2026-03-04 10:00:07", "u3", video="v1", watched_ms=7000, position_ms=7000),
    ev("share", "2026-03-04 10:00:08", "u3", video="v1"),
    ev("comment", "2026-03-04 10:00:09", "u3", video="v1"),
    ev("report", "2026-03-04 10:00:10", "u3", video="v1", props={"reason": "spam"}),
    # v1, a bot watching it all on 03-02
    ev("view_start", "2026-03-02 10:00:00", "b1", video="v1", bot=True),
    ev(
        "watch",
        "2026-03-02 10:00:10",
        "b1",
        video="v1",
        watched_ms=10_000,
        position_ms=10_000,
        bot=True,
    ),
    ev("complete", "2026-03-02 10:00:10", "b1", video="v1", bot=True),
    # v2 on 03-04: u2 watches 5 s; u4 (DE) views
    ev("view_start", "2026-03-04 12:00:00", "u2", video="v2"),
    ev("watch", "2026-03-04 12:00:05", "u2", video="v2", watched_ms=5000, position_ms=5000),
    ev("view_start", "2026-03-04 12:00:00", "u4", video="v2", region="DE"),
    # v3: u1, u2 on 03-02; u3, u4 (DE) on 03-03; u1 on 03-04
    ev("view_start", "2026-03-02 13:00:00", "u1", video="v3"),
    ev("view_start", "2026-03-02 13:00:00", "u2", video="v3"),
    ev("view_start", "2026-03-03 13:00:00", "u3", video="v3"),
    ev("view_start", "2026-03-03 13:00:00", "u4", video="v3", region="DE"),
    ev("view_start", "2026-03-04 13:00:00", "u1", video="v3", session="s3"),
    # follows: c1 +2 -1, c2 +1
    ev("follow", "2026-03-02 14:00:00", "u1", target="c1"),
    ev("follow", "2026-03-03 14:00:00", "u2", target="c1"),
    ev("unfollow", "2026-03-04 14:00:00", "u2", target="c1"),
    ev("follow", "2026-03-04 14:00:00", "u3", target="c2"),
]
RANGE = span("2026-03-02", "2026-03-04")
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def cur(build: Build):
    return build(EVENTS, VIDEOS, USERS)


def test_video_metrics(cur) -> None:
    out = video_metrics(cur, RANGE, video_id="v1")
    # views: u1 s1, u1 s2, u2, u3 = 4 by 3 viewers (1 rewatch); watched 4000 + 6000 + 2500 +
    # 7000 = 19,500 ms -> 4.875 s per view; 1 complete in 4 views
    assert out.to_dicts() == [
        {
            "views": 4, "unique_viewers": 3, "watch_hours": 19_500 / HOUR_MS,
            "avg_watch_seconds": 4.875, "completion_rate": 0.25, "rewatches": 1, "likes": 1,
            "shares": 1, "comments": 1, "reports": 1,
        }
    ]  # fmt: skip


def test_video_metrics_bots_and_unknown_video(cur) -> None:
    with_bots = video_metrics(
        cur, span("2026-03-02", "2026-03-04", include_bots=True), video_id="v1"
    )
    assert with_bots.select("views", "unique_viewers", "completion_rate").row(0) == (5, 4, 0.4)
    nothing = video_metrics(cur, RANGE, video_id="v404")
    assert nothing.select("views", "avg_watch_seconds", "completion_rate").row(0) == (
        0, None, None,
    )  # fmt: skip


def test_retention_curve(cur) -> None:
    out = retention_curve(cur, RANGE, video_id="v1")
    assert out.columns == ["second", "viewers", "share"]
    # views reach: u1/s1 completed -> 10 s, u1/s2 2.5 s -> 2, u2 0 s, u3 7 s.
    # watching at s = views that reached s: 0 -> 4; 1-2 -> 3; 3-7 -> 2; 8-10 -> 1
    viewers = [4, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1]
    assert out["second"].to_list() == list(range(11))
    assert out["viewers"].to_list() == viewers
    assert out["share"].to_list() == [v / 4 for v in viewers]


def test_retention_curve_of_a_day_without_views(cur) -> None:
    out = retention_curve(cur, span("2026-03-05", "2026-03-05"), video_id="v1")
    assert out.height == 11
    assert set(out["viewers"].to_list()) == {0}
    assert out["share"].null_count() == 11


def test_top_videos(cur) -> None:
    out = top_videos(cur, RANGE, limit=2)
    # views: v3 5, v1 4, v2 2
    assert out.select("video_id", "creator_name", "views", "completion_rate", "likes").rows() == [
        ("v3", "Ben", 5, 0.0, 0),
        ("v1", "Ana", 4, 0.25, 1),
    ]
    assert out["watch_hours"].to_list() == [0.0, 19_500 / HOUR_MS]
    with_bots = top_videos(cur, span("2026-03-02", "2026-03-04", include_bots=True), limit=3)
    assert with_bots.select("video_id", "views").rows() == [("v1", 5), ("v3", 5), ("v2", 2)]


def test_creator_metrics(cur) -> None:
    out = creator_metrics(cur, RANGE, limit=10)
    # c1: v1 (4 views) + v2 (2) = 6 views by u1 u2 u3 u4; 19,500 + 5,000 ms; likes 1;
    # like + share + comment = 3 engagements / 6 views; follows 2 - 1 unfollow = 1.
    # c2: v3, 5 views by u1..u4, nothing else; 1 follow.
    assert out.to_dicts() == [
        {
            "creator_id": "c1", "creator_name": "Ana", "videos": 2, "views": 6,
            "unique_viewers": 4, "watch_hours": 24_500 / HOUR_MS, "likes": 1,
            "followers_gained": 1, "engagement_rate": 0.5,
        },
        {
            "creator_id": "c2", "creator_name": "Ben", "videos": 1, "views": 5,
            "unique_viewers": 4, "watch_hours": 0.0, "likes": 0, "followers_gained": 1,
            "engagement_rate": 0.0,
        },
    ]  # fmt: skip
    assert creator_metrics(cur, RANGE, limit=1)["creator_id"].to_list() == ["c1"]


def test_trending_hashtags(cur) -> None:
    out = trending(cur, RANGE, kind="hashtag", limit=10, by_region=False)
    # views on the last day (03-04) vs the daily average of 03-02..03-03:
    # fun (v1, v2): 1 + 2 = 3 vs (1 + 2) / 2 = 1.5 -> 2.0; dance (v1): 1 vs 1.5 -> 0.667;
    # cats (v3): 1 vs (2 + 2) / 2 = 2 -> 0.5
    assert out.rows() == [
        (None, "fun", 3, 1.5, 2.0),
        (None, "dance", 1, 1.5, 1 / 1.5),
        (None, "cats", 1, 2.0, 0.5),
    ]
    assert trending(cur, RANGE, kind="hashtag", limit=1)["name"].to_list() == ["fun"]


def test_trending_sounds_by_region(cur) -> None:
    out = trending(cur, RANGE, kind="sound", limit=2, by_region=True)
    # DE: beat has u4's v2 view on 03-04 and nothing before -> velocity unknown (null).
    # US: beat 03-04 v1 u3 + v2 u2 = 2 vs (1 + 2) / 2 -> 1.333; meow 1 vs (2 + 1) / 2 -> 0.667
    assert out.rows() == [
        ("DE", "beat", 1, 0.0, None),
        ("US", "beat", 2, 1.5, 2 / 1.5),
        ("US", "meow", 1, 1.5, 1 / 1.5),
    ]


def test_trending_single_day_has_no_baseline(cur) -> None:
    out = trending(cur, span("2026-03-04", "2026-03-04"), kind="sound", limit=5)
    assert out.rows() == [(None, "beat", 3, None, None), (None, "meow", 1, None, None)]


def test_region_metrics(cur) -> None:
    out = region_metrics(cur, RANGE)
    assert out.columns == ["region", "active_users", "views", "watch_hours", "avg_watch_seconds"]
    # US: u1 u2 u3 active; 11 views - u4's 2 = 9; 24,500 ms -> 2.722 s per view. DE: u4 only.
    assert out.rows() == [
        ("US", 3, 9, 24_500 / HOUR_MS, 24.5 / 9),
        ("DE", 1, 2, 0.0, 0.0),
    ]
    germany = region_metrics(cur, span("2026-03-02", "2026-03-04", regions=("DE",)))
    assert germany.rows() == [("DE", 1, 2, 0.0, 0.0)]


def test_trust_safety(cur) -> None:
    out = trust_safety(cur, RANGE)
    # US: 1 report in 9 views -> 111.1 per 1000; DE: none in 2
    assert out.rows() == [("US", 9, 1, 1000 / 9), ("DE", 2, 0, 0.0)]
    assert trust_safety(cur, span("2026-01-01", "2026-01-02")).height == 0


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: video_metrics(c, RANGE, video_id=""), "video_id"),
        (lambda c: top_videos(c, RANGE, limit=0), "limit"),
        (lambda c: creator_metrics(c, RANGE, limit=10**6), "limit"),
        (lambda c: trending(c, RANGE, kind="emoji", limit=5), "kind"),
    ],
)
def test_invalid_options(cur, call, field) -> None:
    with pytest.raises(InvalidInputError) as caught:
        call(cur)
    assert caught.value.details["field"] == field

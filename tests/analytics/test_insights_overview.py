"""overview: KPIs against the previous period, daily series, top videos and regions."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.insights import Overview, overview

from .conftest import Build, ev, span, user, video

HOUR_MS = 3_600_000
VIDEOS = [
    video("v1", "c1", created_at="2026-03-08 12:00:00", region="US"),  # uploaded this period
    video("v2", "c2", created_at="2026-03-05 00:00:00", region="DE"),  # before both periods
    video("v3", "c1", created_at="2026-03-07 23:59:59", region="US"),  # last second of previous
]
USERS = [user("c1", "Ana"), user("c2", "Ben")]
EVENTS = [
    # this period (03-08..03-09)
    ev("view_start", "2026-03-08 10:00:00", "u1", video="v1"),
    ev("watch", "2026-03-08 10:01:00", "u1", video="v1", watched_ms=60_000, position_ms=9000),
    ev("complete", "2026-03-08 10:01:00", "u1", video="v1"),
    ev("view_start", "2026-03-09 10:00:00", "u2", video="v1", region="DE", platform="android"),
    ev("view_start", "2026-03-09 11:00:00", "u2", video="v2", region="DE", platform="android"),
    ev(
        "watch",
        "2026-03-09 11:00:30",
        "u2",
        video="v2",
        watched_ms=30_000,
        position_ms=9000,
        region="DE",
        platform="android",
    ),
    ev("view_start", "2026-03-08 10:00:00", "b1", video="v1", bot=True),
    # previous period (03-06..03-07)
    ev("view_start", "2026-03-06 10:00:00", "u1", video="v1"),
    ev("watch", "2026-03-06 10:00:30", "u1", video="v1", watched_ms=30_000, position_ms=9000),
]
RANGE = span("2026-03-08", "2026-03-09")


@pytest.fixture(scope="module")
def cur(build: Build):
    return build(EVENTS, VIDEOS, USERS)


def test_kpis_against_previous_period(cur) -> None:
    out = overview(cur, RANGE)
    assert isinstance(out, Overview)
    assert out.kpis.columns == ["metric", "label", "value", "previous", "change_pct"]
    # now: u1, u2; 60 + 30 s watched; 3 views; 90 s / 3 views; v1 uploaded.
    # before: u1; 30 s; 1 view; 30 s per view; v3 uploaded (at 23:59:59 on 03-07).
    assert out.kpis.select("metric", "value", "previous").rows() == [
        ("active_users", 2.0, 1.0),
        ("watch_hours", 90_000 / HOUR_MS, 30_000 / HOUR_MS),
        ("views", 3.0, 1.0),
        ("avg_watch_seconds", 30.0, 30.0),
        ("uploads", 1.0, 1.0),
    ]
    assert out.kpis["change_pct"].to_list() == pytest.approx([100.0, 200.0, 200.0, 0.0, 0.0])


def test_daily_top_videos_and_regions(cur) -> None:
    out = overview(cur, RANGE)
    assert out.daily.rows() == [
        (date(2026, 3, 8), 1, 1, 60_000 / HOUR_MS),  # the bot's view is not counted
        (date(2026, 3, 9), 1, 2, 30_000 / HOUR_MS),
    ]
    assert out.top_videos.rows() == [
        ("v1", "caption of v1", "c1", "Ana", 2, 60_000 / HOUR_MS, 0.5),
        ("v2", "caption of v2", "c2", "Ben", 1, 30_000 / HOUR_MS, 0.0),
    ]
    assert out.top_regions.columns == ["region", "views", "active_users", "watch_hours"]
    assert out.top_regions.rows() == [
        ("DE", 2, 1, 30_000 / HOUR_MS),
        ("US", 1, 1, 60_000 / HOUR_MS),
    ]


def test_region_filter_applies_to_events_and_uploads(cur) -> None:
    out = overview(cur, span("2026-03-08", "2026-03-09", regions=("US",)))
    assert out.kpis.select("metric", "value", "previous").rows() == [
        ("active_users", 1.0, 1.0),
        ("watch_hours", 60_000 / HOUR_MS, 30_000 / HOUR_MS),
        ("views", 1.0, 1.0),
        ("avg_watch_seconds", 60.0, 30.0),
        ("uploads", 1.0, 1.0),  # v1 and v3 are US videos; v2 (DE) is not counted anyway
    ]


def test_overview_is_human_only_and_empty_previous_gives_no_change(cur) -> None:
    with_bots = overview(cur, span("2026-03-08", "2026-03-09", include_bots=True))
    assert with_bots.kpis.equals(overview(cur, RANGE).kpis)
    first = overview(cur, span("2026-03-06", "2026-03-07"))
    # 03-04..03-05 has no events: no percentage change rather than an infinite one; it has
    # one upload (v2 at 03-05 00:00), as does 03-06..03-07 (v3) -> 0 %
    assert first.kpis["change_pct"].to_list() == [None, None, None, None, 0.0]
    assert first.kpis["value"].to_list()[:3] == [1.0, 30_000 / HOUR_MS, 1.0]


def test_overview_of_an_empty_range(cur) -> None:
    out = overview(cur, span("2026-01-01", "2026-01-03"))
    assert out.kpis["value"].to_list() == [0.0, 0.0, 0.0, None, 0.0]
    assert out.daily["views"].to_list() == [0, 0, 0]
    assert out.top_videos.height == 0
    assert out.top_regions.height == 0

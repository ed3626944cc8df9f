"""funnel and retention over hand-built journeys."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.insights import funnel, retention
from core.errors import InvalidInputError

from .conftest import Build, ev, span

STEPS = ["view_start", "like", "share"]
FUNNEL_EVENTS = [
    # u1: every step; share exactly 60 s after the view -> inside a 60 s window
    ev("view_start", "2026-03-02 10:00:00.000", "u1"),
    ev("like", "2026-03-02 10:00:30.000", "u1"),
    ev("share", "2026-03-02 10:01:00.000", "u1"),
    # u2: share 60.001 s after the view -> one millisecond over, stops at like
    ev("view_start", "2026-03-02 10:00:00.000", "u2"),
    ev("like", "2026-03-02 10:00:10.000", "u2"),
    ev("share", "2026-03-02 10:01:00.001", "u2"),
    # u3: like before the view (out of order) and a share without a like -> step 1 only
    ev("like", "2026-03-02 09:59:00", "u3"),
    ev("view_start", "2026-03-02 10:00:00", "u3"),
    ev("share", "2026-03-02 10:00:20", "u3"),
    # u4: enters at the first view; like 55 s in; share 80 s in (too late) -> step 2
    ev("view_start", "2026-03-02 10:00:00", "u4"),
    ev("view_start", "2026-03-02 10:00:50", "u4"),
    ev("like", "2026-03-02 10:00:55", "u4"),
    ev("share", "2026-03-02 10:01:20", "u4"),
    # u6 (DE): views 10 s before midnight, likes 10 s after, the day after the range -> step 2
    ev("view_start", "2026-03-02 23:59:50", "u6", region="DE"),
    ev("like", "2026-03-03 00:00:10", "u6", region="DE"),
    # u7: never views -> not in the funnel
    ev("like", "2026-03-02 12:00:00", "u7"),
    # a bot going all the way, counted only with include_bots
    ev("view_start", "2026-03-02 10:00:00", "b1", bot=True),
    ev("like", "2026-03-02 10:00:01", "b1", bot=True),
    ev("share", "2026-03-02 10:00:02", "b1", bot=True),
]
DAY = span("2026-03-02", "2026-03-02")
COLUMNS = [
    "step_index", "step", "actors", "conversion_from_start", "conversion_from_previous",
    "median_seconds_to_convert",
]  # fmt: skip


@pytest.fixture(scope="module")
def cur(build: Build):
    return build(FUNNEL_EVENTS)


def test_funnel_counts_window_edges_and_order(cur) -> None:
    out = funnel(cur, DAY, steps=STEPS, window_seconds=60)
    assert out.columns == COLUMNS
    # step 1: u1 u2 u3 u4 u6 = 5. step 2: u1 (30 s), u2 (10 s), u4 (55 s), u6 (20 s) = 4,
    # median of 10, 20, 30, 55 = 25. step 3: u1 only (30 s after its like).
    assert out.rows() == [
        (1, "view_start", 5, 1.0, None, None),
        (2, "like", 4, 0.8, 0.8, 25.0),
        (3, "share", 1, 0.2, 0.25, 30.0),
    ]


def test_funnel_window_one_ms_longer_lets_u2_through(cur) -> None:
    # 61 s: u2's share (60.001 s) now fits; u4's (80 s) still does not
    out = funnel(cur, DAY, steps=STEPS, window_seconds=61)
    assert out["actors"].to_list() == [5, 4, 2]


def test_funnel_bots_on_request(cur) -> None:
    out = funnel(
        cur, span("2026-03-02", "2026-03-02", include_bots=True), steps=STEPS, window_seconds=60
    )
    assert out["actors"].to_list() == [6, 5, 2]


def test_funnel_breakdown_by_entry_region(cur) -> None:
    out = funnel(cur, DAY, steps=STEPS, window_seconds=60, breakdown="region")
    assert out.columns[:3] == ["step_index", "step", "region"]
    assert out.select("region", "step_index", "actors", "conversion_from_start").rows() == [
        ("DE", 1, 1, 1.0), ("DE", 2, 1, 1.0), ("DE", 3, 0, 0.0),
        ("US", 1, 4, 1.0), ("US", 2, 3, 0.75), ("US", 3, 1, 0.25),
    ]  # fmt: skip


def test_funnel_region_filter(cur) -> None:
    out = funnel(
        cur, span("2026-03-02", "2026-03-02", regions=("DE",)), steps=STEPS, window_seconds=60
    )
    assert out["actors"].to_list() == [1, 1, 0]


def test_funnel_repeated_step(cur) -> None:
    # view then view again within 60 s: only u4 (10:00:00 then 10:00:50)
    out = funnel(cur, DAY, steps=["view_start", "view_start"], window_seconds=60)
    assert out.select("actors", "median_seconds_to_convert").rows() == [(5, None), (1, 50.0)]


def test_funnel_entry_must_be_in_range(cur) -> None:
    # on 03-03 nobody views (u6's like that day has no view before it in the range)
    out = funnel(cur, span("2026-03-03", "2026-03-03"), steps=STEPS, window_seconds=60)
    assert out.rows() == [
        (1, "view_start", 0, None, None, None),
        (2, "like", 0, None, None, None),
        (3, "share", 0, None, None, None),
    ]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"steps": ["view_start"], "window_seconds": 60}, "steps"),
        ({"steps": ["view_start"] * 9, "window_seconds": 60}, "steps"),
        ({"steps": ["view_start", "teleport"], "window_seconds": 60}, "steps"),
        ({"steps": STEPS, "window_seconds": 0}, "window_seconds"),
        ({"steps": STEPS, "window_seconds": 60, "breakdown": "actor_id"}, "breakdown"),
    ],
)
def test_funnel_invalid_options(cur, options, field) -> None:
    with pytest.raises(InvalidInputError) as caught:
        funnel(cur, DAY, **options)
    assert caught.value.details["field"] == field


# -- retention -------------------------------------------------------------------------------

RETENTION_EVENTS = [
    # u1: views 03-02, likes 03-03, views again Monday 03-09 00:00 (first instant of week 2)
    ev("view_start", "2026-03-02 08:00:00", "u1"),
    ev("like", "2026-03-03 08:00:00", "u1"),
    ev("view_start", "2026-03-09 00:00:00", "u1"),
    # u2 (android): views and likes 03-02, views 03-04
    ev("view_start", "2026-03-02 09:00:00", "u2", platform="android"),
    ev("like", "2026-03-02 09:01:00", "u2", platform="android"),
    ev("view_start", "2026-03-04 09:00:00", "u2", platform="android"),
    # u3: views in the last ms of 03-03, likes in the first ms of 03-04 (next period)
    ev("view_start", "2026-03-03 23:59:59.999", "u3"),
    ev("like", "2026-03-04 00:00:00.000", "u3"),
    # u4: liked before the range, views 03-04: its cohort is its first event in the range
    ev("like", "2026-03-01 12:00:00", "u4"),
    ev("view_start", "2026-03-04 12:00:00", "u4"),
    # u5: last ms of Sunday 03-08 (week 1) and Sunday 03-15 (week 2)
    ev("view_start", "2026-03-08 23:59:59.999", "u5"),
    ev("view_start", "2026-03-15 23:59:59", "u5"),
    # a bot active 03-02 and 03-03
    ev("view_start", "2026-03-02 10:00:00", "b1", bot=True),
    ev("like", "2026-03-03 10:00:00", "b1", bot=True),
]
D2, D3, D4 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
THREE_DAYS = span("2026-03-02", "2026-03-04")


@pytest.fixture(scope="module")
def rcur(build: Build):
    return build(RETENTION_EVENTS)


def test_retention_any_event_daily(rcur) -> None:
    out = retention(rcur, THREE_DAYS, interval="day", periods=2)
    assert out.columns == ["cohort", "cohort_size", "period", "retained", "rate"]
    # active days in range: u1 {02, 03}, u2 {02, 04}, u3 {03, 04}, u4 {04}.
    # Cohort 02 = {u1, u2}: day 1 u1, day 2 u2. Cohort 03 = {u3}: day 1 (03-04) u3; its day 2
    # is after the range, so it is left out, as are cohort 04's days 1 and 2.
    assert out.rows() == [
        (D2, 2, 0, 2, 1.0), (D2, 2, 1, 1, 0.5), (D2, 2, 2, 1, 0.5),
        (D3, 1, 0, 1, 1.0), (D3, 1, 1, 1, 1.0),
        (D4, 1, 0, 1, 1.0),
    ]  # fmt: skip


def test_retention_cohort_and_return_events(rcur) -> None:
    out = retention(
        rcur, THREE_DAYS, cohort_event="view_start", return_event="like", interval="day", periods=2
    )
    # cohort 02 {u1, u2}: u2 likes on 02 (day 0), u1 on 03 (day 1). cohort 03 {u3}: likes on
    # 04 (day 1, the millisecond after its view). cohort 04 {u4}: no like after joining.
    assert out.rows() == [
        (D2, 2, 0, 1, 0.5), (D2, 2, 1, 1, 0.5), (D2, 2, 2, 0, 0.0),
        (D3, 1, 0, 0, 0.0), (D3, 1, 1, 1, 1.0),
        (D4, 1, 0, 0, 0.0),
    ]  # fmt: skip


def test_retention_bots_on_request(rcur) -> None:
    out = retention(rcur, span("2026-03-02", "2026-03-04", include_bots=True), periods=2)
    # the bot joins cohort 02 and returns on day 1
    assert out.filter(out["cohort"] == D2).rows() == [
        (D2, 3, 0, 3, 1.0), (D2, 3, 1, 2, 2 / 3), (D2, 3, 2, 1, 1 / 3),
    ]  # fmt: skip


def test_retention_breakdown_and_platform_filter(rcur) -> None:
    out = retention(rcur, THREE_DAYS, periods=2, breakdown="platform")
    assert out.columns == ["cohort", "platform", "cohort_size", "period", "retained", "rate"]
    assert out.filter(out["cohort"] == D2).rows() == [
        (D2, "android", 1, 0, 1, 1.0), (D2, "android", 1, 1, 0, 0.0),
        (D2, "android", 1, 2, 1, 1.0),
        (D2, "ios", 1, 0, 1, 1.0), (D2, "ios", 1, 1, 1, 1.0), (D2, "ios", 1, 2, 0, 0.0),
    ]  # fmt: skip
    android = retention(rcur, span("2026-03-02", "2026-03-04", platforms=("android",)), periods=2)
    assert android.rows() == [(D2, 1, 0, 1, 1.0), (D2, 1, 1, 0, 0.0), (D2, 1, 2, 1, 1.0)]


def test_retention_weekly_boundaries(rcur) -> None:
    out = retention(rcur, span("2026-03-02", "2026-03-15"), interval="week", periods=1)
    # week of 03-02: u1..u5 (u5 at 23:59:59.999 on Sunday 03-08). Week 1 (03-09..03-15): u1
    # at 00:00 Monday and u5 on Sunday 03-15 -> 2 of 5. Nobody is new in week 2.
    assert out.rows() == [(D2, 5, 0, 5, 1.0), (D2, 5, 1, 2, 0.4)]


def test_retention_empty_range(rcur) -> None:
    out = retention(rcur, span("2026-01-01", "2026-01-31"), periods=3)
    assert out.height == 0
    assert out.columns == ["cohort", "cohort_size", "period", "retained", "rate"]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"interval": "hour"}, "interval"),
        ({"periods": 0}, "periods"),
        ({"cohort_event": "x"}, "cohort_event"),
        ({"return_event": "x"}, "return_event"),
        ({"breakdown": "session_id"}, "breakdown"),
    ],
)
def test_retention_invalid_options(rcur, options, field) -> None:
    with pytest.raises(InvalidInputError) as caught:
        retention(rcur, THREE_DAYS, **options)
    assert caught.value.details["field"] == field

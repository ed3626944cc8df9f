"""trend and trend_formula over a hand-built week (2026-03-02 is a Monday)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from analytics.insights import TrendSeries, trend, trend_formula
from core.errors import InvalidInputError

from .conftest import Build, ev, span

EVENTS = [
    # u1: two views and half an hour of watching on 03-02 (US, ios, en)
    ev("view_start", "2026-03-02 10:00:00", "u1", video="v1"),
    ev("view_start", "2026-03-02 10:30:00", "u1", video="v1"),
    ev("watch", "2026-03-02 10:31:00", "u1", video="v1", watched_ms=1_800_000, position_ms=5000),
    # u2: one view on 03-02 (DE, android, de)
    ev(
        "view_start",
        "2026-03-02 11:00:00",
        "u2",
        video="v1",
        region="DE",
        platform="android",
        language="de",
    ),
    # u3: a view and a like on 03-03 (US, web)
    ev("view_start", "2026-03-03 09:00:00", "u3", video="v1", platform="web"),
    ev("like", "2026-03-03 09:01:00", "u3", video="v1", platform="web"),
    # an anonymous viewer in the last millisecond of 03-04 (FR, ios, fr)
    ev(
        "view_start",
        "2026-03-04 23:59:59.999",
        "d1",
        video="v1",
        region="FR",
        language="fr",
        anonymous=True,
    ),
    # a bot: two views on 03-02, excluded unless asked for
    ev("view_start", "2026-03-02 10:05:00", "b1", video="v1", bot=True),
    ev("view_start", "2026-03-02 10:06:00", "b1", video="v1", bot=True),
    # u4: outside every range used here (03-01 is before, 03-06 after)
    ev("view_start", "2026-03-01 12:00:00", "u4", video="v1"),
    ev("view_start", "2026-03-06 12:00:00", "u4", video="v1"),
]
RANGE = span("2026-03-02", "2026-03-04")


def day(d: int) -> datetime:
    return datetime(2026, 3, d, tzinfo=UTC)


def values(frame: pl.DataFrame) -> list[float | None]:
    return frame["value"].to_list()


@pytest.fixture(scope="module")
def cur(build: Build):
    return build(EVENTS)


def test_daily_events_count_humans_and_fill_empty_days(cur) -> None:
    # view_start per day: 03-02 u1 x2 + u2 = 3, 03-03 u3 = 1, 03-04 d1 = 1 (bot and u4 out)
    out = trend(cur, RANGE, event_types=["view_start"], measure="events", interval="day")
    assert out.columns == ["period", "value"]
    assert out["period"].to_list() == [day(2), day(3), day(4)]
    assert values(out) == [3.0, 1.0, 1.0]


def test_bots_counted_on_request(cur) -> None:
    # the bot's two views land on 03-02: 3 + 2
    out = trend(
        cur,
        span("2026-03-02", "2026-03-04", include_bots=True),
        event_types=["view_start"],
        interval="day",
    )
    assert values(out) == [5.0, 1.0, 1.0]


def test_actors_and_events_per_actor(cur) -> None:
    # 03-02: u1, u2 -> 2 actors, 3 views -> 1.5 per actor; other days 1 actor, 1 view
    actors = trend(cur, RANGE, event_types=["view_start"], measure="actors", interval="day")
    assert values(actors) == [2.0, 1.0, 1.0]
    ratio = trend(
        cur, RANGE, event_types=["view_start"], measure="events_per_actor", interval="day"
    )
    assert values(ratio) == [1.5, 1.0, 1.0]


def test_watch_hours(cur) -> None:
    # only u1's span of 1,800,000 ms = 0.5 h on 03-02
    out = trend(cur, RANGE, event_types=["watch"], measure="watch_hours", interval="day")
    assert values(out) == [0.5, 0.0, 0.0]


def test_hourly_series_has_every_hour_in_utc(cur) -> None:
    out = trend(cur, RANGE, event_types=["view_start"], interval="hour")
    assert out.height == 72  # 3 days x 24 hours, empty hours as 0
    nonzero = out.filter(pl.col("value") > 0)
    # 10:00 holds u1's 10:00 and 10:30 views; 23:00 on 03-04 holds the 23:59:59.999 view
    assert nonzero.rows() == [
        (datetime(2026, 3, 2, 10, tzinfo=UTC), 2.0),
        (datetime(2026, 3, 2, 11, tzinfo=UTC), 1.0),
        (datetime(2026, 3, 3, 9, tzinfo=UTC), 1.0),
        (datetime(2026, 3, 4, 23, tzinfo=UTC), 1.0),
    ]


@pytest.mark.parametrize(
    ("measure", "include_bots", "at_ten"),
    # at 10:00 UTC on 03-02: u1's two views (one actor), plus b1's two views with bots
    [("actors", False, 1.0), ("actors", True, 2.0), ("events", False, 2.0), ("events", True, 4.0)],
)
def test_hours_are_utc_hours_whatever_the_session_time_zone(
    cur, measure, include_bots, at_ten
) -> None:
    kolkata = cur.cursor()  # a new session on the same database
    kolkata.execute("SET TimeZone = 'Asia/Kolkata'")  # +05:30: local hours are not UTC hours
    filters = span("2026-03-02", "2026-03-04", include_bots=include_bots)
    out = trend(kolkata, filters, event_types=["view_start"], measure=measure, interval="hour")
    assert out.height == 72
    nonzero = out.filter(pl.col("value") > 0)
    assert nonzero["period"].to_list() == [
        datetime(2026, 3, 2, 10, tzinfo=UTC),
        datetime(2026, 3, 2, 11, tzinfo=UTC),
        datetime(2026, 3, 3, 9, tzinfo=UTC),
        datetime(2026, 3, 4, 23, tzinfo=UTC),
    ]
    assert nonzero["value"][0] == at_ten


def test_weekly_series_starts_on_monday(cur) -> None:
    # 03-02..03-04 is one ISO week starting Monday 03-02: 3 + 1 + 1 views
    out = trend(cur, RANGE, event_types=["view_start"], interval="week")
    assert out.rows() == [(day(2), 5.0)]


def test_breakdown_by_region_fills_each_region(cur) -> None:
    out = trend(cur, RANGE, event_types=["view_start"], interval="day", breakdown=["region"])
    assert out.columns == ["period", "region", "value"]
    assert out.rows() == [
        (day(2), "DE", 1.0), (day(2), "FR", 0.0), (day(2), "US", 2.0),
        (day(3), "DE", 0.0), (day(3), "FR", 0.0), (day(3), "US", 1.0),
        (day(4), "DE", 0.0), (day(4), "FR", 1.0), (day(4), "US", 0.0),
    ]  # fmt: skip


def test_breakdown_by_two_columns(cur) -> None:
    out = trend(
        cur,
        RANGE,
        event_types=["view_start", "like"],
        interval="week",
        breakdown=["platform", "event_type"],
    )
    assert out.rows() == [
        (day(2), "android", "view_start", 1.0),
        (day(2), "ios", "view_start", 3.0),  # u1 x2, d1
        (day(2), "web", "like", 1.0),
        (day(2), "web", "view_start", 1.0),
    ]


@pytest.mark.parametrize(
    ("dimension", "expected"),
    [
        ({"regions": ("US",)}, [2.0, 1.0, 0.0]),
        ({"platforms": ("android",)}, [1.0, 0.0, 0.0]),
        ({"languages": ("fr",)}, [0.0, 0.0, 1.0]),
        ({"regions": ("US", "DE"), "platforms": ("web",)}, [0.0, 1.0, 0.0]),
    ],
)
def test_dimension_filters(cur, dimension, expected) -> None:
    filters = span("2026-03-02", "2026-03-04", **dimension)
    assert values(trend(cur, filters, event_types=["view_start"], interval="day")) == expected
    # the raw-event path (actors) applies the same filters: one actor per nonzero day here
    actors = trend(cur, filters, event_types=["view_start"], measure="actors", interval="day")
    assert values(actors) == [min(v, 1.0) for v in expected]


def test_empty_range(cur) -> None:
    empty = span("2026-01-01", "2026-01-02")
    assert values(trend(cur, empty, event_types=["view_start"], interval="day")) == [0.0, 0.0]
    ratio = trend(cur, empty, event_types=["view_start"], measure="events_per_actor")
    assert values(ratio) == [None, None]  # no actors: no rate, rather than a made-up 0
    by_region = trend(cur, empty, event_types=["view_start"], breakdown=["region"])
    assert by_region.height == 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"event_types": ["view_start"], "breakdown": ["user_id"]}, "breakdown"),
        ({"event_types": ["view_start"], "breakdown": ["region; DROP TABLE x"]}, "breakdown"),
        (
            {"event_types": ["view_start"], "breakdown": ["region", "platform", "language"]},
            "breakdown",
        ),
        ({"event_types": ["view_start"], "measure": "sum"}, "measure"),
        ({"event_types": ["view_start"], "interval": "month"}, "interval"),
        ({"event_types": ["nope"]}, "event_types"),
        ({"event_types": []}, "event_types"),
    ],
)
def test_invalid_options_name_the_field(cur, options, field) -> None:
    with pytest.raises(InvalidInputError) as caught:
        trend(cur, RANGE, **options)
    assert caught.value.details["field"] == field


# -- formulas --------------------------------------------------------------------------------

SERIES = {"A": TrendSeries(("view_start",)), "B": TrendSeries(("like",))}
FOUR_DAYS = span("2026-03-02", "2026-03-05")


def test_formula_ratio_with_division_by_zero_as_null(cur) -> None:
    # A (views) = 3, 1, 1, 0 and B (likes) = 0, 1, 0, 0 on 03-02..03-05
    out = trend_formula(cur, FOUR_DAYS, series=SERIES, formula="B / A * 100", interval="day")
    assert out.columns == ["period", "value"]
    assert out.rows() == [(day(2), 0.0), (day(3), 100.0), (day(4), 0.0), (day(5), None)]


def test_formula_precedence_unary_and_parentheses(cur) -> None:
    # -(A - B) / 2 + 1: 03-02 -(3-0)/2+1 = -0.5; 03-03 -(1-1)/2+1 = 1; 03-04 -0.5+1 = 0.5
    out = trend_formula(cur, RANGE, series=SERIES, formula="-(A - B) / 2 + 1", interval="day")
    assert values(out) == [-0.5, 1.0, 0.5]


def test_formula_mixes_measures(cur) -> None:
    # views per actor by hand: A / C where C is view_start actors (2, 1, 1)
    series = {"A": TrendSeries(("view_start",)), "C": TrendSeries(("view_start",), "actors")}
    out = trend_formula(cur, RANGE, series=series, formula="A/C", interval="day")
    assert values(out) == [1.5, 1.0, 1.0]


@pytest.mark.parametrize(
    ("formula", "fragment"),
    [
        ("A $ B", "'$' at 2"),
        ("A +", "ends"),
        ("(A + B", "unclosed"),
        ("A B", "'B' at 2"),
        ("C / A", "'C'"),
        ("__import__(A)", "'__import__'"),
        ("A ** B", "'*' at 3"),
        ("", "empty"),
        ("A / ", "ends"),
    ],
)
def test_formula_errors_name_the_formula(cur, formula, fragment) -> None:
    with pytest.raises(InvalidInputError) as caught:
        trend_formula(cur, RANGE, series=SERIES, formula=formula, interval="day")
    assert caught.value.details["field"] == "formula"
    assert fragment in caught.value.message


def test_formula_series_names_are_single_letters(cur) -> None:
    with pytest.raises(InvalidInputError) as caught:
        trend_formula(cur, RANGE, series={"AB": TrendSeries(("like",))}, formula="AB")
    assert caught.value.details["field"] == "series"

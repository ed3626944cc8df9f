"""stickiness, lifecycle and paths over hand-built activity."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.insights import lifecycle, paths, stickiness
from core.errors import InvalidInputError

from .conftest import Build, ev, span

STICKY_EVENTS = [
    # u1 active all three days (likes on 02 and 03)
    ev("like", "2026-03-02 10:00:00", "u1"),
    ev("like", "2026-03-03 10:00:00", "u1"),
    ev("view_start", "2026-03-04 10:00:00", "u1"),
    # u2 twice on one day -> 1 day
    ev("view_start", "2026-03-02 10:00:00", "u2"),
    ev("view_start", "2026-03-02 11:00:00", "u2"),
    # u3 on 02 and 04 (a like on 04); u4 on 03 only
    ev("view_start", "2026-03-02 10:00:00", "u3", region="DE"),
    ev("like", "2026-03-04 10:00:00", "u3", region="DE"),
    ev("view_start", "2026-03-03 10:00:00", "u4"),
    # a bot on two days
    ev("view_start", "2026-03-02 10:00:00", "b1", bot=True),
    ev("view_start", "2026-03-03 10:00:00", "b1", bot=True),
]
THREE_DAYS = span("2026-03-02", "2026-03-04")


@pytest.fixture(scope="module")
def scur(build: Build):
    return build(STICKY_EVENTS)


def test_stickiness_any_event(scur) -> None:
    # days active: u1 3, u2 1, u3 2, u4 1 -> 1 day: 2, 2 days: 1, 3 days: 1 (of 4)
    out = stickiness(scur, THREE_DAYS)
    assert out.columns == ["days_active", "actors", "share"]
    assert out.rows() == [(1, 2, 0.5), (2, 1, 0.25), (3, 1, 0.25)]


def test_stickiness_of_one_event(scur) -> None:
    # likes: u1 on 2 days, u3 on 1 day
    out = stickiness(scur, THREE_DAYS, event_type="like")
    assert out.rows() == [(1, 1, 0.5), (2, 1, 0.5), (3, 0, 0.0)]


def test_stickiness_bots_and_region(scur) -> None:
    with_bots = stickiness(scur, span("2026-03-02", "2026-03-04", include_bots=True))
    assert with_bots.rows() == [(1, 2, 0.4), (2, 2, 0.4), (3, 1, 0.2)]
    germany = stickiness(scur, span("2026-03-02", "2026-03-04", regions=("DE",)))
    assert germany.rows() == [(1, 0, 0.0), (2, 1, 1.0), (3, 0, 0.0)]


def test_stickiness_empty_range(scur) -> None:
    out = stickiness(scur, span("2026-01-01", "2026-01-02"))
    assert out.rows() == [(1, 0, None), (2, 0, None)]


LIFECYCLE_EVENTS = [
    ev("view_start", "2026-03-01 10:00:00", "a"),
    ev("view_start", "2026-03-03 10:00:00", "a"),
    ev("view_start", "2026-03-04 10:00:00", "a"),
    ev("view_start", "2026-03-02 10:00:00", "b"),
    ev("view_start", "2026-03-04 10:00:00", "c"),
    ev("view_start", "2026-03-05 10:00:00", "c"),
    ev("view_start", "2026-03-02 10:00:00", "d"),
    ev("view_start", "2026-03-03 10:00:00", "d"),
    ev("view_start", "2026-03-05 10:00:00", "d"),
    ev("view_start", "2026-03-03 10:00:00", "e"),
    ev("view_start", "2026-03-04 10:00:00", "bot", bot=True),
]


@pytest.fixture(scope="module")
def lcur(build: Build):
    return build(LIFECYCLE_EVENTS)


def test_lifecycle_daily_statuses(lcur) -> None:
    out = lifecycle(lcur, span("2026-03-03", "2026-03-05"), interval="day")
    assert out.columns == ["period", "status", "actors"]
    d3, d4, d5 = date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5)
    # 03-03: e new; d returning (02 too); a resurrecting (01, not 02); b dormant (02, not 03)
    # 03-04: c new; a returning; d and e dormant
    # 03-05: c returning; d resurrecting (03, not 04); a dormant
    assert out.rows() == [
        (d3, "new", 1), (d3, "returning", 1), (d3, "resurrecting", 1), (d3, "dormant", -1),
        (d4, "new", 1), (d4, "returning", 1), (d4, "resurrecting", 0), (d4, "dormant", -2),
        (d5, "new", 0), (d5, "returning", 1), (d5, "resurrecting", 1), (d5, "dormant", -1),
    ]  # fmt: skip


def test_lifecycle_bots_on_request(lcur) -> None:
    out = lifecycle(lcur, span("2026-03-04", "2026-03-04", include_bots=True))
    # the bot's first ever activity is 03-04
    assert out.rows() == [
        (date(2026, 3, 4), "new", 2),
        (date(2026, 3, 4), "returning", 1),
        (date(2026, 3, 4), "resurrecting", 0),
        (date(2026, 3, 4), "dormant", -2),
    ]


def test_lifecycle_weekly(lcur) -> None:
    # week of 02-23 holds a's 03-01 (Sunday); week of 03-02 holds everyone else's activity:
    # a returning, b c d e new; nobody active the week before is missing -> no dormant
    out = lifecycle(lcur, span("2026-03-02", "2026-03-08"), interval="week")
    assert out.rows() == [
        (date(2026, 3, 2), "new", 4),
        (date(2026, 3, 2), "returning", 1),
        (date(2026, 3, 2), "resurrecting", 0),
        (date(2026, 3, 2), "dormant", 0),
    ]


def test_lifecycle_invalid_interval(lcur) -> None:
    with pytest.raises(InvalidInputError) as caught:
        lifecycle(lcur, span("2026-03-03", "2026-03-05"), interval="hour")
    assert caught.value.details["field"] == "interval"


PATH_EVENTS = [
    # u1 s1: view_start, watch, watch, like, view_start, skip (the two watches fold into one)
    ev("view_start", "2026-03-02 10:00:00", "u1"),
    ev("watch", "2026-03-02 10:00:05", "u1"),
    ev("watch", "2026-03-02 10:00:10", "u1"),
    ev("like", "2026-03-02 10:00:11", "u1"),
    ev("view_start", "2026-03-02 10:00:20", "u1"),
    ev("skip", "2026-03-02 10:00:21", "u1"),
    # u2 s1: view_start, like, share; u2 s2: view_start, watch, like
    ev("view_start", "2026-03-02 11:00:00", "u2", session="s1"),
    ev("like", "2026-03-02 11:00:01", "u2", session="s1"),
    ev("share", "2026-03-02 11:00:02", "u2", session="s1"),
    ev("view_start", "2026-03-02 12:00:00", "u2", session="s2"),
    ev("watch", "2026-03-02 12:00:01", "u2", session="s2"),
    ev("like", "2026-03-02 12:00:02", "u2", session="s2"),
    # u2 s3: view_start, watch: the same move as in s2, in another session
    ev("view_start", "2026-03-02 14:00:00", "u2", session="s3"),
    ev("watch", "2026-03-02 14:00:01", "u2", session="s3"),
    # u3: search, view_start, watch, like
    ev("search", "2026-03-02 13:00:00", "u3"),
    ev("view_start", "2026-03-02 13:00:01", "u3"),
    ev("watch", "2026-03-02 13:00:02", "u3"),
    ev("like", "2026-03-02 13:00:03", "u3"),
    # a bot: search then share
    ev("search", "2026-03-02 13:00:00", "b1", bot=True),
    ev("share", "2026-03-02 13:00:01", "b1", bot=True),
]
DAY = span("2026-03-02", "2026-03-02")


@pytest.fixture(scope="module")
def pcur(build: Build):
    return build(PATH_EVENTS)


def test_paths_from_session_start(pcur) -> None:
    out = paths(pcur, DAY, steps=2, top=10)
    assert out.columns == ["step", "from_event", "to_event", "actors", "transitions"]
    # step 1: u1, u2/s2, u2/s3 view->watch; u2/s1 view->like; u3 search->view
    # step 2: u1 and u2/s2 watch->like; u2/s1 like->share; u3 view->watch (u2/s3 has ended)
    assert out.rows() == [
        (1, "view_start", "watch", 2, 3),
        (1, "search", "view_start", 1, 1),
        (1, "view_start", "like", 1, 1),
        (2, "watch", "like", 2, 2),
        (2, "like", "share", 1, 1),
        (2, "view_start", "watch", 1, 1),
    ]


def test_paths_counts_transitions_and_actors_apart(pcur) -> None:
    # from the first view of each session: u1, u2/s2, u2/s3 and u3 go on to watch, u2/s1 to
    # like
    out = paths(pcur, DAY, start_event="view_start", steps=1, top=10)
    assert out.rows() == [(1, "view_start", "watch", 3, 4), (1, "view_start", "like", 1, 1)]
    # from each session's first like: u1 -> view_start, u2/s1 -> share; u2/s2 and u3 end there
    likes = paths(pcur, DAY, start_event="like", steps=1, top=10)
    assert likes.rows() == [(1, "like", "share", 1, 1), (1, "like", "view_start", 1, 1)]


def test_paths_top_keeps_the_commonest_move_per_step(pcur) -> None:
    # step 3 from the start: u1 like->view_start, u3 watch->like (a tie, broken by name);
    # u2's sessions have ended by then
    top = paths(pcur, DAY, steps=3, top=1)
    assert top.rows() == [
        (1, "view_start", "watch", 2, 3),
        (2, "watch", "like", 2, 2),
        (3, "like", "view_start", 1, 1),
    ]


def test_paths_two_sessions_of_one_actor(pcur) -> None:
    # u2's session s3 repeats s2's view_start->watch: step 1 from the start now has 3 such
    # moves (u1, u2/s2, u2/s3) by 2 actors
    out = paths(pcur, DAY, steps=1, top=1)
    assert out.rows() == [(1, "view_start", "watch", 2, 3)]


def test_paths_bots_on_request(pcur) -> None:
    out = paths(pcur, span("2026-03-02", "2026-03-02", include_bots=True), steps=1, top=10)
    assert (1, "search", "share", 1, 1) in out.rows()
    assert (1, "search", "share", 1, 1) not in paths(pcur, DAY, steps=1, top=10).rows()


@pytest.mark.parametrize(
    ("options", "field"),
    [({"steps": 0}, "steps"), ({"top": 0}, "top"), ({"start_event": "boom"}, "start_event")],
)
def test_paths_invalid_options(pcur, options, field) -> None:
    with pytest.raises(InvalidInputError) as caught:
        paths(pcur, DAY, **options)
    assert caught.value.details["field"] == field

"""How actors engage over time: stickiness, lifecycle (new, returning, resurrecting, dormant)
and the paths they take between events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import duckdb
import polars as pl

from ..filters import Filters
from ._common import (
    DATE_PERIOD_SQL,
    PERIOD_DAYS,
    actor_daily_source,
    check_choice,
    check_event_type,
    check_positive,
    fetch,
    since_beginning,
)

LIFECYCLE_STATUSES: tuple[str, ...] = ("new", "returning", "resurrecting", "dormant")
MAX_PATH_STEPS = 10
MAX_PATH_TOP = 100


def stickiness(
    cur: duckdb.DuckDBPyConnection, filters: Filters, *, event_type: str | None = None
) -> pl.DataFrame:
    """(days_active, actors, share) for 1..days in range: how many days each actor was active."""
    check_event_type("event_type", event_type, optional=True)
    if event_type is None:
        source, params = actor_daily_source(filters)
    else:
        where, params = filters.where()
        source = f"(SELECT event_date, actor_key FROM events WHERE {where} AND event_type = ?)"
        params = [*params, event_type]
    sql = f"""
        WITH per_actor AS (
            SELECT actor_key, count(DISTINCT event_date) AS days_active
            FROM {source} AS src WHERE actor_key IS NOT NULL GROUP BY actor_key
        ),
        counted AS (SELECT days_active, count(*) AS actors FROM per_actor GROUP BY days_active)
        SELECT d.range::INTEGER AS days_active, coalesce(c.actors, 0)::BIGINT AS actors,
               coalesce(c.actors, 0) / nullif(sum(c.actors) OVER (), 0) AS share
        FROM range(1, ? + 1) d LEFT JOIN counted c ON c.days_active = d.range
        ORDER BY days_active
    """
    return fetch(cur, sql, [*params, filters.days])


def lifecycle(
    cur: duckdb.DuckDBPyConnection, filters: Filters, *, interval: str = "day"
) -> pl.DataFrame:
    """(period, status, actors) per period; dormant actors are counted as negative numbers."""
    check_choice("interval", interval, tuple(PERIOD_DAYS))
    days = PERIOD_DAYS[interval]
    shift = (lambda d: d.weekday()) if interval == "week" else (lambda d: 0)
    first = filters.start - timedelta(days=shift(filters.start))
    last = filters.end - timedelta(days=shift(filters.end))
    # "New" means first activity ever, so the history before the range is read too (from the
    # actor rollup, which is one row per actor and day, not per event).
    source, params = actor_daily_source(since_beginning(filters))
    sql = f"""
        WITH act AS (
            SELECT DISTINCT actor_key, {DATE_PERIOD_SQL[interval]} AS p
            FROM {source} AS src WHERE actor_key IS NOT NULL
        ),
        marked AS (
            SELECT p, min(p) OVER (PARTITION BY actor_key) AS first_p,
                   lag(p) OVER w AS prev_p, lead(p) OVER w AS next_p
            FROM act WINDOW w AS (PARTITION BY actor_key ORDER BY p)
        ),
        statuses AS (
            SELECT p AS period,
                   CASE WHEN p = first_p THEN 'new'
                        WHEN prev_p = p - ? THEN 'returning'
                        ELSE 'resurrecting' END AS status
            FROM marked WHERE p >= ?
            UNION ALL
            SELECT p + ? AS period, 'dormant' AS status
            FROM marked
            WHERE (next_p IS NULL OR next_p > p + ?) AND p + ? BETWEEN ? AND ?
        ),
        counted AS (SELECT period, status, count(*) AS actors FROM statuses GROUP BY ALL),
        periods AS (
            SELECT CAST(generate_series AS DATE) AS period
            FROM generate_series(
                CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), to_days(CAST(? AS INTEGER))
            )
        ),
        names AS (SELECT * FROM (VALUES (1, 'new'), (2, 'returning'), (3, 'resurrecting'),
                                        (4, 'dormant')) AS n(position, status))
        SELECT g.period, n.status,
               (CASE WHEN n.status = 'dormant' THEN -1 ELSE 1 END
                * coalesce(c.actors, 0))::BIGINT AS actors
        FROM periods g CROSS JOIN names n
        LEFT JOIN counted c ON c.period = g.period AND c.status = n.status
        ORDER BY g.period, n.position
    """
    all_params: list[Any] = [*params, days, first, days, days, days, first, last, first, last, days]
    return fetch(cur, sql, all_params)


def paths(
    cur: duckdb.DuckDBPyConnection,
    filters: Filters,
    *,
    start_event: str | None = None,
    steps: int = 3,
    top: int = 10,
) -> pl.DataFrame:
    """(step, from_event, to_event, actors, transitions): the commonest moves in sessions."""
    # A path is one actor's session with repeats in a row folded into one (a viewer's many
    # watch spans are one thing done), from the session's first start_event (or first event).
    # Per session, not per actor, so transitions and actors differ when sessions repeat a move.
    check_event_type("start_event", start_event, optional=True)
    check_positive("steps", steps, most=MAX_PATH_STEPS)
    check_positive("top", top, most=MAX_PATH_TOP)
    where, params = filters.where()
    start_condition = "event_type = ?" if start_event else "TRUE"
    sql = f"""
        WITH ordered AS (
            SELECT actor_key, coalesce(session_id, '') AS session, event_type,
                   lag(event_type) OVER w AS previous_type, ts, event_id
            FROM events WHERE {where} AND actor_key IS NOT NULL
            WINDOW w AS (PARTITION BY actor_key, coalesce(session_id, '') ORDER BY ts, event_id)
        ),
        folded AS (
            SELECT actor_key, session, event_type,
                   row_number() OVER w AS position, lead(event_type) OVER w AS next_type
            FROM ordered WHERE previous_type IS DISTINCT FROM event_type
            WINDOW w AS (PARTITION BY actor_key, session ORDER BY ts, event_id)
        ),
        starts AS (
            SELECT actor_key, session, min(position) AS start
            FROM folded WHERE {start_condition} GROUP BY ALL
        ),
        moves AS (
            SELECT (f.position - s.start + 1)::INTEGER AS step, f.event_type AS from_event,
                   f.next_type AS to_event, count(DISTINCT f.actor_key)::BIGINT AS actors,
                   count(*)::BIGINT AS transitions
            FROM folded f JOIN starts s ON s.actor_key = f.actor_key AND s.session = f.session
            WHERE f.position >= s.start AND f.position < s.start + ? AND f.next_type IS NOT NULL
            GROUP BY ALL
        )
        SELECT * FROM moves
        QUALIFY row_number() OVER (
            PARTITION BY step ORDER BY transitions DESC, actors DESC, from_event, to_event
        ) <= ?
        ORDER BY step, transitions DESC, actors DESC, from_event, to_event
    """
    all_params: list[Any] = [*params, *([start_event] if start_event else []), steps, top]
    return fetch(cur, sql, all_params)

"""Retention: of the actors who first did something in a period, who came back N periods on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import duckdb
import polars as pl

from ..filters import Filters
from ._common import (
    DATE_PERIOD_SQL,
    PERIOD_DAYS,
    check_breakdown,
    check_choice,
    check_event_type,
    check_positive,
    fetch,
)

MAX_PERIODS = 90


def retention(
    cur: duckdb.DuckDBPyConnection,
    filters: Filters,
    *,
    cohort_event: str | None = None,
    return_event: str | None = None,
    interval: str = "day",
    periods: int = 7,
    breakdown: str | None = None,
) -> pl.DataFrame:
    """(cohort, [breakdown], cohort_size, period, retained, rate) for periods 0..``periods``."""
    check_event_type("cohort_event", cohort_event, optional=True)
    check_event_type("return_event", return_event, optional=True)
    check_choice("interval", interval, tuple(PERIOD_DAYS))
    check_positive("periods", periods, most=MAX_PERIODS)
    columns = check_breakdown("breakdown", [breakdown] if breakdown else [], most=1)
    days = PERIOD_DAYS[interval]
    period_sql = DATE_PERIOD_SQL[interval]
    last_period = filters.end - timedelta(days=filters.end.weekday() if interval == "week" else 0)
    where, params = filters.where()
    bd = f"{columns[0]}" if columns else "NULL::VARCHAR"
    cohort_only = "WHERE event_type = ?" if cohort_event else ""
    return_only = "WHERE event_type = ?" if return_event else ""
    bd_out = f"g.bd AS {columns[0]}, " if columns else ""
    # Return events count only inside the range: a period after the range's last one is left
    # out rather than reported as nobody coming back.
    sql = f"""
        WITH base AS (
            SELECT actor_key, event_type, ts, {period_sql} AS p, {bd} AS bd
            FROM events WHERE {where} AND actor_key IS NOT NULL
        ),
        cohorts AS (
            SELECT actor_key, min(p) AS cohort, arg_min(bd, ts) AS bd
            FROM base {cohort_only} GROUP BY actor_key
        ),
        returns AS (SELECT DISTINCT actor_key, p FROM base {return_only}),
        sizes AS (SELECT cohort, bd, count(*) AS cohort_size FROM cohorts GROUP BY ALL),
        hits AS (
            SELECT c.cohort, c.bd, (r.p - c.cohort) // CAST(? AS INTEGER) AS period,
                   count(*) AS retained
            FROM cohorts c JOIN returns r ON r.actor_key = c.actor_key
            WHERE r.p >= c.cohort AND r.p <= c.cohort + CAST(? AS INTEGER)
            GROUP BY ALL
        ),
        grid AS (
            SELECT s.cohort, s.bd, s.cohort_size, n.period
            FROM sizes s CROSS JOIN (SELECT range AS period FROM range(0, CAST(? AS INTEGER) + 1)) n
            WHERE s.cohort + CAST(n.period * ? AS INTEGER) <= CAST(? AS DATE)
        )
        SELECT g.cohort, {bd_out}g.cohort_size::BIGINT AS cohort_size,
               g.period::INTEGER AS period, coalesce(h.retained, 0)::BIGINT AS retained,
               coalesce(h.retained, 0) / g.cohort_size AS rate
        FROM grid g
        LEFT JOIN hits h
          ON h.cohort = g.cohort AND h.period = g.period AND h.bd IS NOT DISTINCT FROM g.bd
        ORDER BY g.cohort, g.bd, g.period
    """
    all_params: list[Any] = [*params]
    if cohort_event:
        all_params.append(cohort_event)
    if return_event:
        all_params.append(return_event)
    all_params += [days, periods * days, periods, days, last_period]
    return fetch(cur, sql, all_params)

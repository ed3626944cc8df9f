"""Funnels: how many actors go through ordered steps within a conversion window."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import duckdb
import polars as pl

from ..filters import Filters
from ._common import check_breakdown, check_event_types, check_positive, extended, fetch, invalid

MAX_STEPS = 8
#: A conversion window longer than this is not a funnel any more (and would widen every scan).
MAX_WINDOW_SECONDS = 90 * 86_400


def funnel(
    cur: duckdb.DuckDBPyConnection,
    filters: Filters,
    *,
    steps: Sequence[str],
    window_seconds: int,
    breakdown: str | None = None,
) -> pl.DataFrame:
    """Actors reaching each of ``steps`` in order within the window of their first step."""
    # median_seconds_to_convert is from the previous step to this one (null for step 1).
    types = check_event_types("steps", steps)
    if not 2 <= len(types) <= MAX_STEPS:
        raise invalid("steps", f"a funnel has 2 to {MAX_STEPS} steps, got {len(types)}")
    check_positive("window_seconds", window_seconds, most=MAX_WINDOW_SECONDS)
    columns = check_breakdown("breakdown", [breakdown] if breakdown else [], most=1)
    window_us = window_seconds * 1_000_000
    # An actor enters at their first step-1 event in the range; later steps may land after the
    # range ends, as long as they are inside the window (as Amplitude counts conversions).
    scan = extended(filters, math.ceil(window_seconds / 86_400))
    where, scan_params = scan.where()
    # Each step reads only its own event type straight from the lake (compacted files are
    # sorted by type, so the other types' row groups are skipped), actors by their 64-bit key.
    ctes = [
        f"""s1 AS (
            SELECT actor_key AS actor, min(epoch_us(ts)) AS us,
                   min(epoch_us(ts)) AS us1, NULL::BIGINT AS prev_us,
                   arg_min({columns[0] if columns else "NULL::VARCHAR"}, ts) AS bd
            FROM events
            WHERE {where} AND event_type = ? AND event_date <= ?
            GROUP BY actor
        )""",
    ]
    params: list[Any] = [*scan_params, types[0], filters.end]
    for k in range(2, len(types) + 1):
        # Greedy earliest match: for a fixed entry, the earliest step k leaves the most room
        # for step k+1, so the furthest step reached is exact. "After" means strictly later.
        # (A hash join with the window as a filter beats an ASOF join here: the latter sorts
        # every step-k event, the former only probes them.)
        ctes.append(
            f"""s{k} AS (
                SELECT p.actor, min(b.us) AS us, any_value(p.us1) AS us1,
                       any_value(p.us) AS prev_us, any_value(p.bd) AS bd
                FROM s{k - 1} p
                JOIN (
                    SELECT actor_key AS actor, epoch_us(ts) AS us FROM events
                    WHERE {where} AND event_type = ?
                ) b ON b.actor = p.actor AND b.us > p.us AND b.us <= p.us1 + ?
                GROUP BY p.actor
            )"""
        )
        params.extend([*scan_params, types[k - 1], window_us])
    reached = " UNION ALL ".join(
        f"SELECT {k} AS step_index, bd, count(*) AS actors, "
        f"median((us - prev_us) / 1e6) AS median_seconds_to_convert FROM s{k} GROUP BY bd"
        for k in range(1, len(types) + 1)
    )
    step_values = ", ".join(f"({k}, ?)" for k in range(1, len(types) + 1))
    params.extend(types)
    # Without a breakdown every step is listed even when nobody entered; with one, the values
    # are those of the actors who entered.
    groups = "(SELECT DISTINCT bd FROM s1)" if columns else "(SELECT NULL::VARCHAR AS bd)"
    bd_out = f"g.bd AS {columns[0]}, " if columns else ""
    sql = f"""
        WITH {", ".join(ctes)},
        reached AS ({reached}),
        names AS (SELECT * FROM (VALUES {step_values}) AS n(step_index, step)),
        grid AS (
            SELECT n.step_index, n.step, g.bd, coalesce(r.actors, 0)::BIGINT AS actors,
                   r.median_seconds_to_convert
            FROM names n CROSS JOIN {groups} g
            LEFT JOIN reached r ON r.step_index = n.step_index AND r.bd IS NOT DISTINCT FROM g.bd
        )
        SELECT step_index::INTEGER AS step_index, step, {bd_out}actors,
               actors / nullif(first_value(actors) OVER w, 0) AS conversion_from_start,
               actors / nullif(lag(actors) OVER w, 0) AS conversion_from_previous,
               median_seconds_to_convert::DOUBLE AS median_seconds_to_convert
        FROM grid g
        WINDOW w AS (PARTITION BY bd ORDER BY step_index)
        ORDER BY {"g.bd, " if columns else ""}step_index
    """
    return fetch(cur, sql, params)

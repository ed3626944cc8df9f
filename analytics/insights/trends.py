"""Trends over time: a measure of chosen events per hour, day or week, and formulas over them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import duckdb
import polars as pl

from ..filters import Filters
from ._common import (
    MS_PER_HOUR,
    check_breakdown,
    check_choice,
    check_event_types,
    fetch,
    invalid,
    placeholders,
)

MEASURES: tuple[str, ...] = ("events", "actors", "watch_hours", "events_per_actor")
INTERVALS: tuple[str, ...] = ("hour", "day", "week")
#: Measures the hourly rollup can answer; the others need distinct actors from raw events.
ROLLUP_MEASURES = frozenset({"events", "watch_hours"})
FORMULA_MAX_CHARS = 200


@dataclass(frozen=True)
class TrendSeries:
    """One lettered series of a formula: a measure over some event types."""

    event_types: tuple[str, ...]
    measure: str = "events"


def _period_sql(interval: str, *, rollup: bool) -> str:
    """The period start as a naive UTC TIMESTAMP."""
    if interval == "hour":
        # timezone('UTC', ...) gives the UTC wall clock whatever the session's TimeZone is.
        return "timezone('UTC', hour)" if rollup else "date_trunc('hour', timezone('UTC', ts))"
    if interval == "day":
        return "CAST(event_date AS TIMESTAMP)"
    return "CAST(date_trunc('week', event_date) AS TIMESTAMP)"


def _aggregate_sql(measure: str, *, rollup: bool) -> str:
    """The SQL aggregate of ``measure`` (over rows already narrowed to the series' events)."""
    if rollup:
        if measure == "events":
            return "CAST(sum(events) AS DOUBLE)"
        return f"sum(watched_ms) / {MS_PER_HOUR}"
    if measure == "events":
        return "CAST(count(*) AS DOUBLE)"
    if measure == "actors":
        return "CAST(count(DISTINCT actor_key) AS DOUBLE)"
    if measure == "watch_hours":
        return f"coalesce(sum(watched_ms), 0) / {MS_PER_HOUR}"
    return "count(*) / count(DISTINCT actor_key)"


def _period_bounds(filters: Filters, interval: str) -> tuple[Any, Any, str]:
    """First and last period start of the range, and the step between periods."""
    if interval == "hour":
        return filters.start, datetime.combine(filters.end, time(23)), "INTERVAL 1 HOUR"
    if interval == "day":
        return filters.start, filters.end, "INTERVAL 1 DAY"
    first = filters.start - timedelta(days=filters.start.weekday())
    last = filters.end - timedelta(days=filters.end.weekday())
    return first, last, "INTERVAL 7 DAY"


def _series_frame(
    cur: duckdb.DuckDBPyConnection,
    filters: Filters,
    specs: Mapping[str, tuple[Sequence[str], str]],
    interval: str,
    breakdown: Sequence[str],
) -> pl.DataFrame:
    """(period, [breakdown], one column per spec) for every period of the range, in one pass."""
    rollup = not filters.include_bots and all(m in ROLLUP_MEASURES for _, m in specs.values())
    if rollup:
        # The hourly rollup holds human traffic only, so it serves only when bots are left out.
        where, source_params = filters.where(bots=False)
        source = f"(SELECT * FROM rollup_hourly WHERE {where})"
    else:
        where, source_params = filters.where()
        source = f"(SELECT * FROM events WHERE {where})"
    keys = ", ".join(breakdown)
    key_list = f", {keys}" if breakdown else ""
    period = _period_sql(interval, rollup=rollup)
    # One aggregate per series, each over its own events: a FILTER clause on a DISTINCT
    # aggregate makes DuckDB fall back to a much slower plan.
    ctes: list[str] = []
    params: list[Any] = []
    for name, (event_types, measure) in specs.items():
        ctes.append(
            f"""agg_{name} AS (
                SELECT {period} AS period{key_list},
                       {_aggregate_sql(measure, rollup=rollup)} AS value
                FROM {source} AS src WHERE event_type IN ({placeholders(event_types)})
                GROUP BY ALL
            )"""
        )
        params.extend([*source_params, *event_types])
    first, last, step = _period_bounds(filters, interval)
    combos = (
        "(" + " UNION ".join(f"SELECT DISTINCT {keys} FROM agg_{name}" for name in specs) + ")"
        if breakdown
        else "(SELECT 1 AS one)"
    )
    joins = "\n".join(
        f"LEFT JOIN agg_{name} ON agg_{name}.period = g.period"
        + "".join(f" AND agg_{name}.{c} IS NOT DISTINCT FROM c.{c}" for c in breakdown)
        for name in specs
    )
    # No actors means no rate at all, not a rate of zero; the other measures are 0 when empty.
    filled = ", ".join(
        f"agg_{name}.value AS {name}"
        if measure == "events_per_actor"
        else f"coalesce(agg_{name}.value, 0.0) AS {name}"
        for name, (_, measure) in specs.items()
    )
    ordered = "".join(f", c.{c}" for c in breakdown)
    sql = f"""
        WITH {", ".join(ctes)},
        periods AS (
            SELECT generate_series AS period
            FROM generate_series(CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), {step})
        )
        SELECT g.period{ordered}, {filled}
        FROM periods g CROSS JOIN {combos} c
        {joins}
        ORDER BY g.period{ordered}
    """
    params.extend([first, last])
    frame = fetch(cur, sql, params)
    return frame.with_columns(pl.col("period").dt.replace_time_zone("UTC"))


def trend(
    cur: duckdb.DuckDBPyConnection,
    filters: Filters,
    *,
    event_types: Sequence[str],
    measure: str = "events",
    interval: str = "day",
    breakdown: Sequence[str] = (),
) -> pl.DataFrame:
    """(period, [breakdown], value): ``measure`` of ``event_types`` per period, zero-filled."""
    types = check_event_types("event_types", event_types)
    check_choice("measure", measure, MEASURES)
    check_choice("interval", interval, INTERVALS)
    columns = check_breakdown("breakdown", breakdown)
    return _series_frame(cur, filters, {"value": (types, measure)}, interval, columns)


# -- formulas ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?|\.\d+)|(?P<name>[A-Za-z_]\w*)|(?P<op>[-+*/()]))"
)


def _tokens(formula: str) -> list[tuple[str, str, int]]:
    """(kind, text, position) tokens of ``formula``; anything else is refused with its position."""
    tokens: list[tuple[str, str, int]] = []
    position = 0
    while position < len(formula):
        if formula[position:].strip() == "":
            break
        match = _TOKEN.match(formula, position)
        if match is None:
            bad = formula[position:].lstrip()[:1]
            at = len(formula) - len(formula[position:].lstrip())
            raise invalid("formula", f"formula has an unexpected {bad!r} at {at}", position=at)
        kind = match.lastgroup or "op"
        start = match.start(kind)
        tokens.append((kind, match.group(kind), start))
        position = match.end()
    return tokens


class _FormulaParser:
    """Recursive descent over + - * / and parentheses, building a polars expression."""

    def __init__(self, formula: str, names: Sequence[str]) -> None:
        self.formula = formula
        self.names = set(names)
        self.tokens = _tokens(formula)
        self.index = 0

    def parse(self) -> pl.Expr:
        """The expression of the whole formula."""
        if not self.tokens:
            raise invalid("formula", "formula is empty")
        expression = self._sum()
        if self.index < len(self.tokens):
            _, text, at = self.tokens[self.index]
            raise invalid("formula", f"formula has an unexpected {text!r} at {at}", position=at)
        return expression

    def _peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def _sum(self) -> pl.Expr:
        left = self._product()
        while self._peek() in ("+", "-"):
            op = self.tokens[self.index][1]
            self.index += 1
            right = self._product()
            left = left + right if op == "+" else left - right
        return left

    def _product(self) -> pl.Expr:
        left = self._unary()
        while self._peek() in ("*", "/"):
            op = self.tokens[self.index][1]
            self.index += 1
            right = self._unary()
            if op == "*":
                left = left * right
            else:
                # A period where the divisor is zero has no value, rather than inf or an error.
                left = pl.when(right == 0).then(None).otherwise(left / right)
        return left

    def _unary(self) -> pl.Expr:
        if self._peek() == "-":
            self.index += 1
            return -self._unary()
        if self._peek() == "+":
            self.index += 1
            return self._unary()
        return self._atom()

    def _atom(self) -> pl.Expr:
        if self.index >= len(self.tokens):
            raise invalid("formula", "formula ends where a value was expected")
        kind, text, at = self.tokens[self.index]
        self.index += 1
        if kind == "number":
            return pl.lit(float(text), dtype=pl.Float64)
        if kind == "name":
            if text not in self.names:
                raise invalid(
                    "formula",
                    f"formula uses {text!r} at {at}, which is not one of the series "
                    f"({', '.join(sorted(self.names))})",
                    position=at,
                )
            return pl.col(text).cast(pl.Float64)
        if text == "(":
            inner = self._sum()
            if self._peek() != ")":
                raise invalid("formula", f"formula has an unclosed '(' at {at}", position=at)
            self.index += 1
            return inner
        raise invalid("formula", f"formula has an unexpected {text!r} at {at}", position=at)


def parse_formula(formula: str, names: Sequence[str]) -> pl.Expr:
    """A polars expression for ``formula`` over columns ``names`` (no eval; errors name it)."""
    if not isinstance(formula, str):
        raise invalid("formula", "formula must be text")
    if len(formula) > FORMULA_MAX_CHARS:
        raise invalid(
            "formula",
            f"formula is longer than {FORMULA_MAX_CHARS} characters",
            limit=FORMULA_MAX_CHARS,
        )
    return _FormulaParser(formula, names).parse()


def trend_formula(
    cur: duckdb.DuckDBPyConnection,
    filters: Filters,
    *,
    series: Mapping[str, TrendSeries],
    formula: str,
    interval: str = "day",
) -> pl.DataFrame:
    """(period, value): ``formula`` over lettered series per period; x / 0 gives null."""
    check_choice("interval", interval, INTERVALS)
    if not series:
        raise invalid("series", "series must name at least one series")
    specs: dict[str, tuple[Sequence[str], str]] = {}
    for name, spec in series.items():
        if not re.fullmatch(r"[A-Z]", name):
            raise invalid("series", f"series names are single capital letters, got {name!r}")
        types = check_event_types(f"series.{name}.event_types", spec.event_types)
        check_choice(f"series.{name}.measure", spec.measure, MEASURES)
        specs[name] = (types, spec.measure)
    expression = parse_formula(formula, list(specs))
    frame = _series_frame(cur, filters, specs, interval, ())
    return frame.select("period", expression.alias("value"))

"""SQL console: one read-only statement over the analytics relations, with a time limit.

The relations are those of the analytics engine (``events``, ``videos``, ``users`` and the
rollups). The filter bar does not apply here: the statement says what it reads. The filters the
analyst came with stay in the navigation links, so going back to a chart keeps them.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import dash
import duckdb
import polars as pl
from dash import Input, Output, State, callback, dcc, html

import analytics
from core.errors import InvalidInputError
from dashboards import components

PATH = "/analytics/sql"
PREFIX = "analytics-sql"

dash.register_page(__name__, path=PATH, title="SQL · Vigil", name="SQL")

TIMEOUT_SECONDS = 10.0
MAX_ROWS = 10_000
SHOWN_ROWS = 500
EXAMPLE = (
    "SELECT event_date, event_type, sum(events) AS events\n"
    "FROM rollup_hourly\nGROUP BY ALL\nORDER BY event_date, event_type"
)


def layout(**query: Any) -> Any:
    carried = {k: v for k, v in query.items() if k in components.FILTER_KEYS and isinstance(v, str)}
    filter_query = "?" + urllib.parse.urlencode(carried, safe=",") if carried else ""
    text = query.get("q") if isinstance(query.get("q"), str) else ""
    return html.Div(
        [
            dcc.Location(id=f"{PREFIX}-url", refresh=False),
            dcc.Store(id=f"{PREFIX}-carry", data=carried),
            components.nav(PREFIX, PATH, filter_query),
            html.H1("SQL console"),
            html.P(
                [
                    "One read-only statement (SELECT, WITH, VALUES, EXPLAIN, DESCRIBE, SHOW) over ",
                    html.Code("events"),
                    ", ",
                    html.Code("videos"),
                    ", ",
                    html.Code("users"),
                    ", ",
                    html.Code("rollup_hourly"),
                    ", ",
                    html.Code("rollup_video_daily"),
                    " and ",
                    html.Code("rollup_actor_daily"),
                    f"; stopped after {TIMEOUT_SECONDS:g} s, at most {MAX_ROWS:,} rows.",
                ],
                className="summary",
            ),
            dcc.Textarea(
                id=f"{PREFIX}-query",
                value=text or "",
                placeholder=EXAMPLE,
                className="sql-input",
                spellCheck=False,
            ),
            html.Div(
                [
                    html.Button("Run", id=f"{PREFIX}-run", className="run-button", n_clicks=0),
                    html.Span(id=f"{PREFIX}-status", className="summary"),
                ],
                className="block-head",
            ),
            html.Div(id=f"{PREFIX}-error", className="alert-slot", role="alert"),
            components.block("Result", PREFIX, "result", html.Div(id=f"{PREFIX}-table"), wide=True),
            dcc.Download(id=f"{PREFIX}-download"),
        ],
        className="analytics-page",
        id=f"{PREFIX}-page",
    )


def frames(values: dict[str, Any]) -> dict[str, pl.DataFrame]:
    text = (values.get(f"{PREFIX}-query") or "").strip()
    if not text:
        raise InvalidInputError("write a statement to run", details={"field": "query"})
    with components.analyst_cursor(sandbox=True) as cursor:
        result = analytics.run_readonly_sql(
            cursor, text, timeout_seconds=TIMEOUT_SECONDS, max_rows=MAX_ROWS
        )
    return {"result": result}


@callback(
    Output(f"{PREFIX}-url", "search"),
    Input(f"{PREFIX}-run", "n_clicks"),
    State(f"{PREFIX}-query", "value"),
    State(f"{PREFIX}-carry", "data"),
    prevent_initial_call=True,
)
def remember(_clicks: int, text: str | None, carried: dict[str, str] | None) -> str:
    pairs = dict(carried or {})
    if text and text.strip():
        pairs["q"] = text.strip()
    return "?" + urllib.parse.urlencode(pairs, safe=",") if pairs else ""


components.register_downloads(PREFIX, (), frames, extra_states=(State(f"{PREFIX}-query", "value"),))


@callback(
    Output(f"{PREFIX}-error", "children"),
    Output(f"{PREFIX}-table", "children"),
    Output(f"{PREFIX}-status", "children"),
    Input(f"{PREFIX}-run", "n_clicks"),
    State(f"{PREFIX}-query", "value"),
)
def run(_clicks: int, text: str | None) -> tuple[Any, ...]:
    if not (text or "").strip():
        return None, html.P("Write a statement and press Run.", className="empty"), ""
    try:
        result = frames({f"{PREFIX}-query": text})["result"]
    except InvalidInputError as exc:
        return components.error_message(exc), components.table(None), "failed"
    except duckdb.Error as exc:  # the statement's own mistake (a typo, an unknown column)
        message = html.Span(f"{type(exc).__name__}: {exc}")
        return message, components.table(None), "failed"
    status = f"{result.height:,} rows" + (" (limit reached)" if result.height >= MAX_ROWS else "")
    return None, components.table(result, max_rows=SHOWN_ROWS), status

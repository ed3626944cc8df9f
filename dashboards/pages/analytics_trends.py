"""Trends: how often events happen over time, by up to two breakdowns, or a formula of series."""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Output, callback, dcc, html

import analytics
from analytics.schema import EVENT_TYPES
from core.errors import InvalidInputError
from dashboards import components, figures

PATH = "/analytics/trends"
PREFIX = "analytics-trends"

dash.register_page(__name__, path=PATH, title="Trends · Vigil", name="Trends")

MEASURES = (
    ("events", "Events"),
    ("actors", "Unique actors"),
    ("watch_hours", "Watch hours"),
    ("events_per_actor", "Events per actor"),
)
INTERVALS = ("hour", "day", "week")
BREAKDOWNS = ("region", "platform", "language", "event_type")
LETTERS = "ABCDEFGH"


def _fields() -> tuple[components.Field, ...]:
    return (
        *components.filter_fields(PREFIX),
        components.Field("events", f"{PREFIX}-events", kind="list", default=["view_start"]),
        components.Field("measure", f"{PREFIX}-measure", default="events"),
        components.Field("interval", f"{PREFIX}-interval", default="day"),
        components.Field("breakdown", f"{PREFIX}-breakdown", kind="list", default=[]),
        components.Field("formula", f"{PREFIX}-formula", default=""),
    )


FIELDS = _fields()


def layout(**query: Any) -> Any:
    fields = _fields()
    values = components.decode(fields, query)
    controls = html.Div(
        [
            components.select(
                f"{PREFIX}-events", "Event types", EVENT_TYPES, values["events"], multi=True
            ),
            components.select(f"{PREFIX}-measure", "Measure", MEASURES, values["measure"]),
            components.select(f"{PREFIX}-interval", "Interval", INTERVALS, values["interval"]),
            components.select(
                f"{PREFIX}-breakdown",
                "Break down by (up to 2)",
                BREAKDOWNS,
                values["breakdown"],
                multi=True,
                placeholder="No breakdown",
            ),
            html.Label(
                [
                    html.Span("Formula (series A, B, … in event order)", className="filter-label"),
                    dcc.Input(
                        id=f"{PREFIX}-formula",
                        value=values["formula"],
                        placeholder="e.g. B / A * 100",
                        debounce=True,
                        className="text-input",
                    ),
                ],
                className="filter",
            ),
        ],
        className="controls",
    )
    return components.page(
        PREFIX,
        path=PATH,
        title="Trends",
        fields=fields,
        values=values,
        body=[
            controls,
            html.P(id=f"{PREFIX}-legend", className="summary"),
            components.block(
                "Trend", PREFIX, "trend", components.graph(f"{PREFIX}-chart"), wide=True
            ),
            components.block("Data", PREFIX, "trend_table", html.Div(id=f"{PREFIX}-table")),
        ],
    )


def frames(values: dict[str, Any]) -> dict[str, pl.DataFrame]:
    filters = components.to_filters(values)
    events = list(values["events"] or [])
    breakdown = list(values["breakdown"] or [])
    formula = (values["formula"] or "").strip()
    with components.analyst_cursor() as cursor:
        if formula:
            series = {
                letter: analytics.TrendSeries(event_types=(event,), measure=values["measure"])
                for letter, event in zip(LETTERS, events, strict=False)
            }
            found = analytics.trend_formula(
                cursor, filters, series=series, formula=formula, interval=values["interval"]
            )
        else:
            found = analytics.trend(
                cursor,
                filters,
                event_types=events,
                measure=values["measure"],
                interval=values["interval"],
                breakdown=breakdown,
            )
    return {"trend": found, "trend_table": found}


def _legend(values: dict[str, Any]) -> str:
    events = list(values["events"] or [])
    if (values["formula"] or "").strip():
        return "Series: " + ", ".join(
            f"{letter} = {event}" for letter, event in zip(LETTERS, events, strict=False)
        )
    return ""


components.register_page_sync(PREFIX, FIELDS)
components.register_downloads(PREFIX, FIELDS, frames)


@callback(
    Output(f"{PREFIX}-error", "children"),
    Output(f"{PREFIX}-legend", "children"),
    Output(f"{PREFIX}-chart", "figure"),
    Output(f"{PREFIX}-table", "children"),
    *components.inputs(FIELDS),
)
def render(*received: Any) -> tuple[Any, ...]:
    values = components.state(FIELDS, received)
    measure = dict(MEASURES).get(values["measure"], values["measure"])
    try:
        found = frames(values)["trend"]
    except InvalidInputError as exc:
        empty = pl.DataFrame()
        title = "Trend"
        return (
            components.error_message(exc),
            "",
            figures.lines(empty, x="period", y="value", title=title),
            components.table(None),
        )
    by = [c for c in found.columns if c not in ("period", "value")]
    title = f"{measure} per {values['interval']}"
    if (values["formula"] or "").strip():
        title = f"{values['formula'].strip()} per {values['interval']}"
    figure = figures.lines(found, x="period", y="value", by=by, title=title, y_title=measure)
    return None, _legend(values), figure, components.table(found)

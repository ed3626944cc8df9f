"""Funnels: how many actors go through ordered steps within a time window, and how fast."""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Output, callback, html

import analytics
from analytics.schema import EVENT_TYPES
from core.errors import InvalidInputError
from dashboards import components, figures

PATH = "/analytics/funnels"
PREFIX = "analytics-funnels"

dash.register_page(__name__, path=PATH, title="Funnels · Vigil", name="Funnels")

WINDOWS = (
    ("300", "5 minutes"),
    ("3600", "1 hour"),
    ("86400", "1 day"),
    ("604800", "7 days"),
)
BREAKDOWNS = ("region", "platform", "language")


def _fields() -> tuple[components.Field, ...]:
    return (
        *components.filter_fields(PREFIX),
        components.Field(
            "steps", f"{PREFIX}-steps", kind="list", default=["view_start", "complete", "like"]
        ),
        components.Field("window", f"{PREFIX}-window", default="3600"),
        components.Field("breakdown", f"{PREFIX}-breakdown"),
    )


FIELDS = _fields()


def layout(**query: Any) -> Any:
    fields = _fields()
    values = components.decode(fields, query)
    controls = html.Div(
        [
            components.select(
                f"{PREFIX}-steps",
                "Steps (in the order chosen)",
                EVENT_TYPES,
                values["steps"],
                multi=True,
            ),
            components.select(f"{PREFIX}-window", "Within", WINDOWS, values["window"]),
            components.select(
                f"{PREFIX}-breakdown",
                "Break down by",
                BREAKDOWNS,
                values["breakdown"],
                clearable=True,
                placeholder="No breakdown",
            ),
        ],
        className="controls",
    )
    return components.page(
        PREFIX,
        path=PATH,
        title="Funnels",
        fields=fields,
        values=values,
        body=[
            controls,
            components.block(
                "Conversion", PREFIX, "funnel", components.graph(f"{PREFIX}-chart"), wide=True
            ),
            components.block("Steps", PREFIX, "funnel_table", html.Div(id=f"{PREFIX}-table")),
        ],
    )


def frames(values: dict[str, Any]) -> dict[str, pl.DataFrame]:
    filters = components.to_filters(values)
    with components.analyst_cursor() as cursor:
        found = analytics.funnel(
            cursor,
            filters,
            steps=list(values["steps"] or []),
            window_seconds=components.whole_number(
                values["window"], field="window", expected="the window must be a number of seconds"
            ),
            breakdown=values["breakdown"] or None,
        )
    return {"funnel": found, "funnel_table": found}


components.register_page_sync(PREFIX, FIELDS)
components.register_downloads(PREFIX, FIELDS, frames)


@callback(
    Output(f"{PREFIX}-error", "children"),
    Output(f"{PREFIX}-chart", "figure"),
    Output(f"{PREFIX}-table", "children"),
    *components.inputs(FIELDS),
)
def render(*received: Any) -> tuple[Any, ...]:
    values = components.state(FIELDS, received)
    try:
        found = frames(values)["funnel"]
    except InvalidInputError as exc:
        empty = figures.funnel(pl.DataFrame(), breakdown=None)
        return components.error_message(exc), empty, components.table(None)
    figure = figures.funnel(found, breakdown=values["breakdown"] or None)
    return None, figure, components.table(found)

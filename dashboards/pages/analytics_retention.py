"""Retention: of the actors who first did something in a period, how many came back later."""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Output, callback, html

import analytics
from analytics.schema import EVENT_TYPES
from core.errors import InvalidInputError
from dashboards import components, figures

PATH = "/analytics/retention"
PREFIX = "analytics-retention"

dash.register_page(__name__, path=PATH, title="Retention · Vigil", name="Retention")

INTERVALS = ("day", "week")
PERIODS = tuple(str(n) for n in (4, 7, 8, 12, 14, 28))


def _fields() -> tuple[components.Field, ...]:
    return (
        *components.filter_fields(PREFIX),
        components.Field("cohort_event", f"{PREFIX}-cohort-event"),
        components.Field("return_event", f"{PREFIX}-return-event"),
        components.Field("interval", f"{PREFIX}-interval", default="day"),
        components.Field("periods", f"{PREFIX}-periods", default="7"),
    )


FIELDS = _fields()


def layout(**query: Any) -> Any:
    fields = _fields()
    values = components.decode(fields, query)
    controls = html.Div(
        [
            components.select(
                f"{PREFIX}-cohort-event",
                "Cohort: first did",
                EVENT_TYPES,
                values["cohort_event"],
                clearable=True,
                placeholder="any event",
            ),
            components.select(
                f"{PREFIX}-return-event",
                "Came back and did",
                EVENT_TYPES,
                values["return_event"],
                clearable=True,
                placeholder="any event",
            ),
            components.select(f"{PREFIX}-interval", "Interval", INTERVALS, values["interval"]),
            components.select(f"{PREFIX}-periods", "Periods", PERIODS, values["periods"]),
        ],
        className="controls",
    )
    return components.page(
        PREFIX,
        path=PATH,
        title="Retention",
        fields=fields,
        values=values,
        body=[
            controls,
            components.block(
                "Cohorts", PREFIX, "retention", components.graph(f"{PREFIX}-chart"), wide=True
            ),
            components.block("Data", PREFIX, "retention_table", html.Div(id=f"{PREFIX}-table")),
        ],
    )


def frames(values: dict[str, Any]) -> dict[str, pl.DataFrame]:
    filters = components.to_filters(values)
    with components.analyst_cursor() as cursor:
        found = analytics.retention(
            cursor,
            filters,
            cohort_event=values["cohort_event"] or None,
            return_event=values["return_event"] or None,
            interval=values["interval"],
            periods=components.whole_number(
                values["periods"], field="periods", expected="periods must be a whole number"
            ),
            breakdown=None,
        )
    return {"retention": found, "retention_table": found}


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
        found = frames(values)["retention"]
    except InvalidInputError as exc:
        empty = figures.retention_heatmap(pl.DataFrame())
        return components.error_message(exc), empty, components.table(None)
    title = f"Share of each {values['interval']}ly cohort that came back"
    return None, figures.retention_heatmap(found, title=title), components.table(found)

"""Regions: where the audience is, on a world map, and trust-and-safety reports per 1,000 views."""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Output, callback, html

import analytics
from core.errors import InvalidInputError
from dashboards import components, figures

PATH = "/analytics/regions"
PREFIX = "analytics-regions"

dash.register_page(__name__, path=PATH, title="Regions · Vigil", name="Regions")

METRICS = (
    ("active_users", "Active users"),
    ("views", "Views"),
    ("watch_hours", "Watch hours"),
    ("avg_watch_seconds", "Avg watch seconds"),
    ("reports_per_1000_views", "Reports per 1,000 views"),
)


def _fields() -> tuple[components.Field, ...]:
    return (
        *components.filter_fields(PREFIX),
        components.Field("metric", f"{PREFIX}-metric", default="active_users"),
    )


FIELDS = _fields()


def layout(**query: Any) -> Any:
    fields = _fields()
    values = components.decode(fields, query)
    # The map outlines are served by this app (assets/topojson), never fetched from a CDN.
    topojson = dash.get_asset_url("topojson/")
    return components.page(
        PREFIX,
        path=PATH,
        title="Regions",
        fields=fields,
        values=values,
        body=[
            html.Div(
                [components.select(f"{PREFIX}-metric", "Map metric", METRICS, values["metric"])],
                className="controls",
            ),
            components.block(
                "Map",
                PREFIX,
                "map",
                components.graph(f"{PREFIX}-map", topojsonURL=topojson),
                wide=True,
            ),
            html.Div(
                [
                    components.block("Regions", PREFIX, "regions", html.Div(id=f"{PREFIX}-table")),
                    components.block(
                        "Trust and safety",
                        PREFIX,
                        "trust_safety",
                        html.Div(
                            [
                                components.graph(f"{PREFIX}-reports"),
                                html.Div(id=f"{PREFIX}-reports-table"),
                            ]
                        ),
                    ),
                ],
                className="grid",
            ),
        ],
    )


def frames(values: dict[str, Any]) -> dict[str, pl.DataFrame]:
    filters = components.to_filters(values)
    with components.analyst_cursor() as cursor:
        regions = analytics.region_metrics(cursor, filters)
        safety = analytics.trust_safety(cursor, filters)
    metric = values.get("metric") or "active_users"
    if metric in safety.columns and metric not in regions.columns:
        mapped = safety.select("region", metric)
    else:
        mapped = regions.select("region", metric) if metric in regions.columns else regions
    return {"map": mapped, "regions": regions, "trust_safety": safety}


components.register_page_sync(PREFIX, FIELDS)
components.register_downloads(PREFIX, FIELDS, frames)


@callback(
    Output(f"{PREFIX}-error", "children"),
    Output(f"{PREFIX}-map", "figure"),
    Output(f"{PREFIX}-table", "children"),
    Output(f"{PREFIX}-reports", "figure"),
    Output(f"{PREFIX}-reports-table", "children"),
    *components.inputs(FIELDS),
)
def render(*received: Any) -> tuple[Any, ...]:
    values = components.state(FIELDS, received)
    metric = values.get("metric") or "active_users"
    label = dict(METRICS).get(metric, metric)
    reports_title = "Reports per 1,000 views"
    try:
        found = frames(values)
    except InvalidInputError as exc:
        empty = pl.DataFrame()
        return (
            components.error_message(exc),
            figures.choropleth(empty, metric=metric, title=label),
            components.table(None),
            figures.ranked_bars(
                empty, label="region", value="reports_per_1000_views", title=reports_title
            ),
            components.table(None),
        )
    if metric not in found["map"].columns:
        exc = InvalidInputError(f"unknown map metric {metric!r}", details={"field": "metric"})
        return components.error_message(exc), *[dash.no_update] * 4
    safety = found["trust_safety"]
    return (
        None,
        figures.choropleth(found["map"], metric=metric, title=f"{label} by region"),
        components.table(found["regions"]),
        figures.ranked_bars(
            safety, label="region", value="reports_per_1000_views", title=reports_title
        ),
        components.table(safety),
    )

"""Analytics overview: the headline numbers against the previous period, days, videos, regions."""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Output, callback, html

import analytics
from core.errors import InvalidInputError
from dashboards import components, figures

PATH = "/analytics"
PREFIX = "analytics-overview"

dash.register_page(__name__, path=PATH, title="Analytics · Vigil", name="Analytics")

FIELDS = components.filter_fields(PREFIX)

#: How each headline number reads: (decimals, unit suffix).
_KPI_FORMAT = {
    "active_users": (0, ""),
    "watch_hours": (1, " h"),
    "views": (0, ""),
    "avg_watch_seconds": (1, " s"),
    "uploads": (0, ""),
}


def layout(**query: Any) -> Any:
    fields = components.filter_fields(PREFIX)  # "today" is read per page load
    values = components.decode(fields, query)
    return components.page(
        PREFIX,
        path=PATH,
        title="Analytics overview",
        fields=fields,
        values=values,
        body=[
            html.Section(
                [
                    html.Div(
                        [html.H2("Headline numbers"), components.csv_button(PREFIX, "kpis")],
                        className="block-head",
                    ),
                    html.Div(id=f"{PREFIX}-kpis", className="kpis"),
                ],
                className="block block-wide",
                id=f"{PREFIX}-block-kpis",
            ),
            components.block(
                "Daily activity",
                PREFIX,
                "daily",
                components.graph(f"{PREFIX}-daily"),
                wide=True,
            ),
            html.Div(
                [
                    components.block(
                        "Top videos", PREFIX, "top_videos", html.Div(id=f"{PREFIX}-top-videos")
                    ),
                    components.block(
                        "Top regions", PREFIX, "top_regions", html.Div(id=f"{PREFIX}-top-regions")
                    ),
                ],
                className="grid",
            ),
        ],
    )


def frames(values: dict[str, Any]) -> dict[str, pl.DataFrame]:
    """The overview's frames by name, for the page and its CSV downloads."""
    filters = components.to_filters(values)
    with components.analyst_cursor() as cursor:
        found = analytics.overview(cursor, filters)
    return {
        "kpis": found.kpis,
        "daily": found.daily,
        "top_videos": found.top_videos,
        "top_regions": found.top_regions,
    }


def kpi_cards(kpis: pl.DataFrame, *, days: int) -> list[Any]:
    """One card per headline number with its change against the previous period."""
    cards = []
    for row in kpis.iter_rows(named=True):
        digits, unit = _KPI_FORMAT.get(row["metric"], (2, ""))
        change = row["change_pct"]
        if change is None:
            trend, css = "no previous data", "change flat"
        else:
            arrow = "▲" if change > 0 else "▼" if change < 0 else "■"
            trend = f"{arrow} {abs(change):.1f}% vs previous {days} days"
            css = "change up" if change > 0 else "change down" if change < 0 else "change flat"
        cards.append(
            html.Div(
                [
                    html.Div(row["label"], className="kpi-label"),
                    html.Div(
                        _number(row["value"], digits) + unit,
                        className="kpi-value",
                        id=f"{PREFIX}-kpi-{row['metric']}",
                    ),
                    html.Div(trend, className=css),
                    html.Div(
                        f"previous: {_number(row['previous'], digits)}{unit}",
                        className="kpi-previous",
                    ),
                ],
                className="kpi",
                **{"data-metric": row["metric"]},
            )
        )
    return cards


def _number(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


components.register_page_sync(PREFIX, FIELDS)
components.register_downloads(PREFIX, FIELDS, frames)


@callback(
    Output(f"{PREFIX}-error", "children"),
    Output(f"{PREFIX}-kpis", "children"),
    Output(f"{PREFIX}-daily", "figure"),
    Output(f"{PREFIX}-top-videos", "children"),
    Output(f"{PREFIX}-top-regions", "children"),
    *components.inputs(FIELDS),
)
def render(*received: Any) -> tuple[Any, ...]:
    values = components.state(FIELDS, received)
    try:
        found = frames(values)
        days = components.to_filters(values).days
    except InvalidInputError as exc:
        return (
            components.error_message(exc),
            [],
            figures.daily_overview(pl.DataFrame()),
            *[components.table(None)] * 2,
        )
    return (
        None,
        kpi_cards(found["kpis"], days=days),
        figures.daily_overview(found["daily"]),
        components.table(found["top_videos"]),
        components.table(found["top_regions"]),
    )

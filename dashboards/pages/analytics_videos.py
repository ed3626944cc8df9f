"""One video: its numbers for the period, and how long its audience keeps watching."""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Output, callback, html

import analytics
from core.errors import InvalidInputError, VigilError
from dashboards import components, figures

PATH = "/analytics/videos"
PREFIX = "analytics-videos"

dash.register_page(__name__, path=PATH, title="Videos · Vigil", name="Videos")

#: How many of the period's top videos the picker offers.
PICKER_LIMIT = 100

_METRICS = (
    ("views", "Views", 0),
    ("unique_viewers", "Unique viewers", 0),
    ("watch_hours", "Watch hours", 1),
    ("avg_watch_seconds", "Avg watch (s)", 1),
    ("completion_rate", "Completion rate", None),
    ("rewatches", "Rewatches", 0),
    ("likes", "Likes", 0),
    ("shares", "Shares", 0),
    ("comments", "Comments", 0),
    ("reports", "Reports", 0),
)


def _fields() -> tuple[components.Field, ...]:
    return (
        *components.filter_fields(PREFIX),
        components.Field("video", f"{PREFIX}-video"),
    )


FIELDS = _fields()


def _video_options(values: dict[str, Any]) -> list[tuple[str, str]]:
    """The period's most viewed videos, for the picker (the URL's video kept even if absent)."""
    try:
        filters = components.to_filters(values)
        with components.analyst_cursor() as cursor:
            top = analytics.top_videos(cursor, filters, limit=PICKER_LIMIT)
    except VigilError:
        top = pl.DataFrame()
    options = [
        (
            row["video_id"],
            f"{(row.get('caption') or row['video_id'])[:60]} ({row['views']:,} views)",
        )
        for row in top.iter_rows(named=True)
    ]
    chosen = values.get("video")
    if chosen and chosen not in {value for value, _ in options}:
        options.insert(0, (chosen, chosen))
    return options


def layout(**query: Any) -> Any:
    fields = _fields()
    values = components.decode(fields, query)
    options = _video_options(values)
    if not values["video"] and options:
        values["video"] = options[0][0]
    controls = html.Div(
        [
            html.Div(
                components.select(
                    f"{PREFIX}-video", "Video", options, values["video"], placeholder="Pick a video"
                ),
                className="wide-control",
            )
        ],
        className="controls",
    )
    return components.page(
        PREFIX,
        path=PATH,
        title="Video",
        fields=fields,
        values=values,
        body=[
            controls,
            components.block(
                "Metrics",
                PREFIX,
                "metrics",
                html.Div(id=f"{PREFIX}-metrics", className="kpis"),
                wide=True,
            ),
            components.block(
                "Audience retention",
                PREFIX,
                "retention_curve",
                components.graph(f"{PREFIX}-curve"),
                wide=True,
            ),
        ],
    )


def frames(values: dict[str, Any]) -> dict[str, pl.DataFrame]:
    if not values.get("video"):
        raise InvalidInputError("pick a video", details={"field": "video"})
    filters = components.to_filters(values)
    with components.analyst_cursor() as cursor:
        metrics = analytics.video_metrics(cursor, filters, video_id=values["video"])
        curve = analytics.retention_curve(cursor, filters, video_id=values["video"])
    return {"metrics": metrics, "retention_curve": curve}


def metric_cards(metrics: pl.DataFrame) -> list[Any]:
    if metrics.is_empty() or not metrics["views"][0]:
        return [html.P("No views of this video in the period.", className="empty")]
    row = metrics.row(0, named=True)
    cards = []
    for column, label, digits in _METRICS:
        value = row.get(column)
        if value is None:
            text = "-"
        elif digits is None:
            text = f"{100 * value:.1f}%"
        else:
            text = f"{value:,.{digits}f}"
        cards.append(
            html.Div(
                [
                    html.Div(label, className="kpi-label"),
                    html.Div(text, className="kpi-value", id=f"{PREFIX}-metric-{column}"),
                ],
                className="kpi",
            )
        )
    return cards


components.register_page_sync(PREFIX, FIELDS)
components.register_downloads(PREFIX, FIELDS, frames)


@callback(
    Output(f"{PREFIX}-error", "children"),
    Output(f"{PREFIX}-metrics", "children"),
    Output(f"{PREFIX}-curve", "figure"),
    Output(f"{PREFIX}-video", "options"),
    *components.inputs(FIELDS),
)
def render(*received: Any) -> tuple[Any, ...]:
    values = components.state(FIELDS, received)
    options = [{"label": label, "value": value} for value, label in _video_options(values)]
    try:
        found = frames(values)
    except InvalidInputError as exc:
        empty = figures.retention_curve(pl.DataFrame())
        return components.error_message(exc), [], empty, options
    return (
        None,
        metric_cards(found["metrics"]),
        figures.retention_curve(found["retention_curve"]),
        options,
    )

"""Creators: who draws the views and the engagement, and what is trending."""

from __future__ import annotations

from typing import Any

import dash
import polars as pl
from dash import Output, callback, html

import analytics
from core.errors import InvalidInputError
from dashboards import components, figures

PATH = "/analytics/creators"
PREFIX = "analytics-creators"

dash.register_page(__name__, path=PATH, title="Creators · Vigil", name="Creators")

LIMITS = ("10", "25", "50", "100")
SORTS = (
    ("views", "Views"),
    ("watch_hours", "Watch hours"),
    ("unique_viewers", "Unique viewers"),
    ("followers_gained", "Followers gained"),
    ("engagement_rate", "Engagement rate"),
)
TRENDING = (("hashtag", "Hashtags"), ("sound", "Sounds"))


def _fields() -> tuple[components.Field, ...]:
    return (
        *components.filter_fields(PREFIX),
        components.Field("limit", f"{PREFIX}-limit", default="25"),
        components.Field("sort", f"{PREFIX}-sort", default="views"),
        components.Field("trending", f"{PREFIX}-trending", default="hashtag"),
    )


FIELDS = _fields()


def layout(**query: Any) -> Any:
    fields = _fields()
    values = components.decode(fields, query)
    controls = html.Div(
        [
            components.select(f"{PREFIX}-limit", "Creators", LIMITS, values["limit"]),
            components.select(f"{PREFIX}-sort", "Chart by", SORTS, values["sort"]),
            components.select(f"{PREFIX}-trending", "Trending", TRENDING, values["trending"]),
        ],
        className="controls",
    )
    return components.page(
        PREFIX,
        path=PATH,
        title="Creators",
        fields=fields,
        values=values,
        body=[
            controls,
            html.Div(
                [
                    components.block(
                        "Top creators", PREFIX, "creators", components.graph(f"{PREFIX}-chart")
                    ),
                    components.block(
                        "Trending", PREFIX, "trending", html.Div(id=f"{PREFIX}-trending-table")
                    ),
                ],
                className="grid",
            ),
            components.block(
                "Creators", PREFIX, "creators_table", html.Div(id=f"{PREFIX}-table"), wide=True
            ),
        ],
    )


def frames(values: dict[str, Any]) -> dict[str, pl.DataFrame]:
    filters = components.to_filters(values)
    with components.analyst_cursor() as cursor:
        creators = analytics.creator_metrics(
            cursor,
            filters,
            limit=components.whole_number(
                values["limit"], field="limit", expected="limit must be a whole number"
            ),
        )
        trending = analytics.trending(
            cursor, filters, kind=values["trending"] or "hashtag", limit=20, by_region=False
        )
    return {"creators": creators, "creators_table": creators, "trending": trending}


components.register_page_sync(PREFIX, FIELDS)
components.register_downloads(PREFIX, FIELDS, frames)


@callback(
    Output(f"{PREFIX}-error", "children"),
    Output(f"{PREFIX}-chart", "figure"),
    Output(f"{PREFIX}-table", "children"),
    Output(f"{PREFIX}-trending-table", "children"),
    *components.inputs(FIELDS),
)
def render(*received: Any) -> tuple[Any, ...]:
    values = components.state(FIELDS, received)
    sort = values["sort"] or "views"
    title = f"Top creators by {dict(SORTS).get(sort, sort).lower()}"
    try:
        found = frames(values)
    except InvalidInputError as exc:
        empty = figures.ranked_bars(pl.DataFrame(), label="creator_name", value=sort, title=title)
        return components.error_message(exc), empty, components.table(None), components.table(None)
    creators = found["creators"]
    figure = figures.ranked_bars(creators, label="creator_name", value=sort, title=title)
    return None, figure, components.table(creators), components.table(found["trending"])

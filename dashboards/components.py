"""Building blocks the analytics pages share: URL state, the filter bar, tables, CSV downloads.

Every analytics page keeps all of its state in the URL query string, so a view can be shared and
reloaded identically. A page declares its state as :class:`Field` values (query key, component,
property); :func:`decode` reads the query into initial component values for ``layout(**query)``,
:func:`encode` turns the current values back into a query string, and :func:`register_page_sync`
writes it to the page's ``dcc.Location`` (``refresh=False``: the URL changes, nothing reloads).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dash
import duckdb
import polars as pl
from dash import ALL, Input, Output, State, callback, ctx, dcc, html

import analytics
from core.auth import Scope
from core.errors import InvalidInputError, VigilError
from dashboards.app import analytics_engine, principal

#: The analytics pages, in navigation order: (path, title).
ANALYTICS_PAGES: tuple[tuple[str, str], ...] = (
    ("/analytics", "Overview"),
    ("/analytics/trends", "Trends"),
    ("/analytics/funnels", "Funnels"),
    ("/analytics/retention", "Retention"),
    ("/analytics/videos", "Videos"),
    ("/analytics/creators", "Creators"),
    ("/analytics/regions", "Regions"),
    ("/analytics/sql", "SQL"),
)

DEFAULT_DAYS = 28

Kind = Literal["str", "list", "int", "flag", "date"]


@dataclass(frozen=True)
class Field:
    """One piece of page state: its query-string key and the component property holding it."""

    key: str
    component: str
    prop: str = "value"
    kind: Kind = "str"
    default: Any = None

    def decode(self, raw: str | list[str] | None) -> Any:
        """The component value for a query-string value (the default when absent or unreadable)."""
        if isinstance(raw, list):  # a key repeated by hand: the last one wins
            raw = raw[-1]
        if raw is None or raw == "":
            return self.default
        if self.kind == "list":
            return [part for part in raw.split(",") if part]
        if self.kind == "flag":
            return ["on"] if raw in ("1", "true", "on", "yes") else []
        if self.kind == "int":
            try:
                return int(raw)
            except ValueError:
                return self.default
        if self.kind == "date":
            try:
                return dt.date.fromisoformat(raw).isoformat()
            except ValueError:
                return self.default
        return raw

    def encode(self, value: Any) -> str | None:
        """The query-string value for a component value; None leaves the key out."""
        if value is None or value == "" or value == []:
            return None
        if self.kind == "list":
            return ",".join(str(v) for v in value)
        if self.kind == "flag":
            return "1" if value else None
        if self.kind == "date":
            return str(value)[:10]
        return str(value)


def filter_fields(prefix: str, *, today: dt.date | None = None) -> tuple[Field, ...]:
    """The shared filter bar's state; the default range is the last 28 days, today included."""
    end = today or dt.datetime.now(dt.UTC).date()
    start = end - dt.timedelta(days=DEFAULT_DAYS - 1)
    return (
        Field("start", f"{prefix}-dates", "start_date", "date", start.isoformat()),
        Field("end", f"{prefix}-dates", "end_date", "date", end.isoformat()),
        Field("region", f"{prefix}-region", kind="list", default=[]),
        Field("platform", f"{prefix}-platform", kind="list", default=[]),
        Field("language", f"{prefix}-language", kind="list", default=[]),
        Field("bots", f"{prefix}-bots", kind="flag", default=[]),
    )


FILTER_KEYS = ("start", "end", "region", "platform", "language", "bots")


def decode(fields: Sequence[Field], query: Mapping[str, Any]) -> dict[str, Any]:
    """Initial component values by query key, from ``layout(**query)``'s arguments."""
    return {f.key: f.decode(query.get(f.key)) for f in fields}


def encode(fields: Sequence[Field], values: Sequence[Any], *, keys: Sequence[str] = ()) -> str:
    """``?key=value&...`` for the current values (only ``keys`` when given); "" when empty."""
    pairs = []
    for f, value in zip(fields, values, strict=True):
        text = f.encode(value)
        if text is not None and (not keys or f.key in keys):
            pairs.append((f.key, text))
    return "?" + urllib.parse.urlencode(pairs, safe=",") if pairs else ""


def state(fields: Sequence[Field], values: Sequence[Any]) -> dict[str, Any]:
    """Callback argument values by query key."""
    return {f.key: value for f, value in zip(fields, values, strict=True)}


def inputs(fields: Sequence[Field]) -> list[Input]:
    return [Input(f.component, f.prop) for f in fields]


def states(fields: Sequence[Field]) -> list[State]:
    return [State(f.component, f.prop) for f in fields]


def whole_number(raw: Any, *, field: str, expected: str) -> int:
    """A page option as an int; InvalidInputError naming ``field`` and ``expected`` otherwise."""
    try:
        return int(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{expected} (got {raw!r})", details={"field": field}) from exc


def to_filters(values: Mapping[str, Any]) -> analytics.Filters:
    """The analytics filters from the filter bar's values; a bad date names its field."""
    dates = {}
    for key in ("start", "end"):
        raw = values.get(key)
        try:
            dates[key] = dt.date.fromisoformat(str(raw)[:10])
        except ValueError as exc:
            raise InvalidInputError(
                f"choose a {key} date (got {raw!r})", details={"field": key}
            ) from exc
    return analytics.Filters(
        start=dates["start"],
        end=dates["end"],
        regions=tuple(values.get("region") or ()),
        platforms=tuple(values.get("platform") or ()),
        languages=tuple(values.get("language") or ()),
        include_bots=bool(values.get("bots")),
    )


@contextlib.contextmanager
def analyst_cursor(*, sandbox: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB cursor on the analytics relations, for a caller holding analytics:read.

    ``sandbox`` is for the analyst's own SQL: the same relations without file or network access.
    """
    principal().require(Scope.ANALYTICS_READ)
    engine = analytics_engine()
    cursor = engine.sandbox_cursor() if sandbox else engine.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


# -- dimension values for the filter bar ---------------------------------------------------------


def dimension_options() -> dict[str, list[str]]:
    """The regions, platforms and languages present in the data, for the filter bar's options."""
    found: dict[str, list[str]] = {}
    with analyst_cursor() as cursor:
        for column in ("region", "platform", "language"):
            rows = cursor.execute(
                f"SELECT DISTINCT {column} FROM rollup_hourly "  # noqa: S608 - fixed names
                f"WHERE {column} IS NOT NULL ORDER BY 1"
            ).fetchall()
            found[column] = [str(row[0]) for row in rows]
    return found


def _options(values: Sequence[str], chosen: Sequence[str]) -> list[dict[str, str]]:
    # A value from a shared URL stays selectable even when the data no longer holds it.
    return [{"label": v, "value": v} for v in sorted({*values, *chosen})]


# -- layout pieces -------------------------------------------------------------------------------


def nav(prefix: str, current: str, query: str) -> html.Nav:
    """Links between the analytics pages; they carry the filter bar's query string."""
    return html.Nav(
        [
            dcc.Link(
                title,
                href=path + query,
                id=f"{prefix}-nav-{index}",
                className="subnav-link active" if path == current else "subnav-link",
            )
            for index, (path, title) in enumerate(ANALYTICS_PAGES)
        ],
        className="subnav",
        **{"aria-label": "Analytics pages"},
    )


def filter_bar(prefix: str, values: Mapping[str, Any]) -> html.Div:
    """Date range, region, platform and language multi-selects, and the include-bots toggle."""
    try:
        options = dimension_options()
        problem = None
    except VigilError as exc:
        options = {"region": [], "platform": [], "language": []}
        problem = html.P(exc.message, className="alert", role="alert")
    pickers = [
        html.Label(
            [
                html.Span(title, className="filter-label"),
                dcc.Dropdown(
                    id=f"{prefix}-{key}",
                    options=_options(options[column], values[key]),
                    value=values[key],
                    multi=True,
                    placeholder="All",
                    className="filter-dropdown",
                ),
            ],
            className="filter",
        )
        for key, column, title in (
            ("region", "region", "Region"),
            ("platform", "platform", "Platform"),
            ("language", "language", "Language"),
        )
    ]
    return html.Div(
        [
            html.Label(
                [
                    html.Span("Dates (UTC)", className="filter-label"),
                    dcc.DatePickerRange(
                        id=f"{prefix}-dates",
                        start_date=values["start"],
                        end_date=values["end"],
                        display_format="YYYY-MM-DD",
                        first_day_of_week=1,
                    ),
                ],
                className="filter",
            ),
            *pickers,
            dcc.Checklist(
                id=f"{prefix}-bots",
                options=[{"label": " Include bots", "value": "on"}],
                value=values["bots"],
                className="filter filter-toggle",
            ),
            *([problem] if problem else []),
        ],
        className="filter-bar",
    )


def page(
    prefix: str,
    *,
    path: str,
    title: str,
    fields: Sequence[Field],
    values: Mapping[str, Any],
    body: Sequence[Any],
) -> html.Div:
    """An analytics page: location, navigation, filter bar, error line, body and download."""
    filter_query = encode(fields, [values[f.key] for f in fields], keys=FILTER_KEYS)
    return html.Div(
        [
            dcc.Location(id=f"{prefix}-url", refresh=False),
            nav(prefix, path, filter_query),
            html.H1(title),
            filter_bar(prefix, values),
            html.Div(id=f"{prefix}-error", className="alert-slot", role="alert"),
            *body,
            dcc.Download(id=f"{prefix}-download"),
        ],
        className="analytics-page",
        id=f"{prefix}-page",
    )


def register_page_sync(
    prefix: str, fields: Sequence[Field], *, triggers: Sequence[Any] = ()
) -> None:
    """The callback that writes the page's state to its URL and its navigation links.

    With ``triggers`` (e.g. a Run button) the URL is written when they fire, from the fields'
    current values; otherwise whenever a field changes.
    """
    outputs = [Output(f"{prefix}-url", "search")] + [
        Output(f"{prefix}-nav-{index}", "href") for index in range(len(ANALYTICS_PAGES))
    ]
    args = [*triggers, *states(fields)] if triggers else inputs(fields)

    def sync(*received: Any) -> list[str]:
        values = received[len(triggers) :]
        filter_query = encode(fields, values, keys=FILTER_KEYS)
        return [encode(fields, values)] + [path + filter_query for path, _ in ANALYTICS_PAGES]

    callback(*outputs, *args)(sync)


def csv_button(prefix: str, frame: str, label: str = "Download CSV") -> html.Button:
    return html.Button(
        label,
        id={"type": f"{prefix}-csv", "frame": frame},
        className="csv-button",
        n_clicks=0,
    )


def register_downloads(
    prefix: str,
    fields: Sequence[Field],
    compute: Callable[[dict[str, Any]], Mapping[str, pl.DataFrame]],
    *,
    extra_states: Sequence[State] = (),
) -> None:
    """One callback per page: a "Download CSV" click sends the tidy frame behind that block.

    ``compute`` receives the page state by query key (extra states under their component id) and
    returns the page's frames by name; the button's ``frame`` picks one.
    """

    def download(_clicks: list[int | None], *received: Any) -> Any:
        trigger = ctx.triggered_id
        if not isinstance(trigger, Mapping) or not any(_clicks):
            return dash.no_update
        values = state(fields, received[: len(fields)])
        for extra, value in zip(extra_states, received[len(fields) :], strict=True):
            values[str(extra.component_id)] = value
        try:
            frames = compute(values)
        except InvalidInputError:
            return dash.no_update  # the page already shows the message next to the controls
        name = str(trigger["frame"])
        return dcc.send_string(frames[name].write_csv(), f"vigil-{prefix}-{name}.csv")

    callback(
        Output(f"{prefix}-download", "data"),
        Input({"type": f"{prefix}-csv", "frame": ALL}, "n_clicks"),
        *states(fields),
        *extra_states,
        prevent_initial_call=True,
    )(download)


def block(title: str, prefix: str, frame: str, content: Any, *, wide: bool = False) -> html.Section:
    """A titled card around a chart or table, with its CSV download."""
    return html.Section(
        [
            html.Div([html.H2(title), csv_button(prefix, frame)], className="block-head"),
            content,
        ],
        className="block block-wide" if wide else "block",
        id=f"{prefix}-block-{frame}",
    )


def graph(component_id: str, **config: Any) -> dcc.Graph:
    """A chart that needs nothing from outside the app (no logo link, no cloud buttons)."""
    return dcc.Graph(
        id=component_id,
        config={"displaylogo": False, "showLink": False, "showSendToCloud": False, **config},
    )


def table(frame: pl.DataFrame | None, *, max_rows: int = 200) -> html.Div | html.P:
    """An HTML table of a frame's first rows, numbers right-aligned and rounded for reading."""
    if frame is None or frame.is_empty():
        return html.P("No data for these filters.", className="empty")
    header = html.Tr([html.Th(column) for column in frame.columns])
    rows = [html.Tr([_cell(value) for value in row]) for row in frame.head(max_rows).iter_rows()]
    caption = (
        [html.Caption(f"first {max_rows:,} of {frame.height:,} rows")]
        if frame.height > max_rows
        else []
    )
    return html.Div(
        html.Table([*caption, html.Thead(header), html.Tbody(rows)], className="table"),
        className="table-scroll",
    )


def _cell(value: Any) -> html.Td:
    if isinstance(value, bool) or value is None:
        return html.Td("" if value is None else str(value))
    if isinstance(value, int):
        return html.Td(f"{value:,}", className="num")
    if isinstance(value, float):
        return html.Td(format_number(value), className="num")
    if isinstance(value, dt.datetime):  # every time is UTC
        return html.Td(value.strftime("%Y-%m-%d %H:%M"))
    if isinstance(value, dt.date):
        return html.Td(value.isoformat())
    if isinstance(value, list | tuple):
        return html.Td(", ".join(str(v) for v in value))
    return html.Td(str(value))


def format_number(value: float | int | None, *, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def error_message(exc: VigilError) -> html.Span:
    field = exc.details.get("field")
    prefix = f"{field}: " if field and str(field) not in exc.message else ""
    return html.Span(prefix + exc.message)


def select(
    component_id: str,
    label: str,
    options: Sequence[str] | Sequence[tuple[str, str]],
    value: Any,
    *,
    multi: bool = False,
    clearable: bool = False,
    placeholder: str | None = None,
) -> html.Label:
    """A labelled dropdown for a page option."""
    choices = [
        {"label": o[1], "value": o[0]} if isinstance(o, tuple) else {"label": o, "value": o}
        for o in options
    ]
    return html.Label(
        [
            html.Span(label, className="filter-label"),
            dcc.Dropdown(
                id=component_id,
                options=choices,
                value=value,
                multi=multi,
                clearable=clearable or multi,
                placeholder=placeholder,
                className="filter-dropdown",
            ),
        ],
        className="filter",
    )

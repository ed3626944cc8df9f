"""Pure functions from query results to Plotly figures, shared by the pages."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 40, "r": 20, "t": 40, "b": 40},
    "height": 320,
}


def bar(labels: Sequence[str], values: Sequence[float], *, title: str) -> go.Figure:
    figure = go.Figure(go.Bar(x=list(labels), y=list(values), marker_color="#0ea5e9"))
    figure.update_layout(title=title, **_LAYOUT)
    return figure


def degree_distribution(degrees: Sequence[int], *, title: str) -> go.Figure:
    """How many accounts have each follower count, on log-log axes (power laws are lines)."""
    counts: dict[int, int] = {}
    for degree in degrees:
        if degree > 0:
            counts[degree] = counts.get(degree, 0) + 1
    xs = sorted(counts)
    figure = go.Figure(
        go.Scatter(x=xs, y=[counts[x] for x in xs], mode="markers", marker_color="#6366f1")
    )
    figure.update_layout(title=title, **_LAYOUT)
    figure.update_xaxes(type="log", title="followers")
    figure.update_yaxes(type="log", title="accounts")
    return figure

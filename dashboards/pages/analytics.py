"""Analytics overview: who is on the platform, where, and how the follow graph is shaped."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html
from sqlalchemy import func, select

from core.auth import Scope, User
from dashboards import figures
from dashboards.app import principal, services
from feed import Follow

dash.register_page(__name__, path="/analytics", title="Analytics · Vigil", name="Analytics")


def layout(**_query: Any) -> Any:
    return html.Div(
        [
            html.H1("Analytics"),
            html.P(id="analytics-summary", className="summary"),
            html.Div(
                [
                    dcc.Graph(id="analytics-users-by-country"),
                    dcc.Graph(id="analytics-followers"),
                ],
                className="grid",
            ),
            dcc.Location(id="analytics-url"),
        ]
    )


@callback(
    Output("analytics-summary", "children"),
    Output("analytics-users-by-country", "figure"),
    Output("analytics-followers", "figure"),
    Input("analytics-url", "pathname"),
)
def load_overview(_pathname: str | None) -> tuple[str, Any, Any]:
    principal().require(Scope.ANALYTICS_READ)
    with services().db.session() as session:
        by_country = session.execute(
            select(func.coalesce(User.country, "none"), func.count())
            .group_by(User.country)
            .order_by(func.count().desc())
        ).all()
        degrees = session.scalars(
            select(func.count()).select_from(Follow).group_by(Follow.followee_id)
        ).all()
        edges = session.scalar(select(func.count()).select_from(Follow)) or 0
    accounts = sum(count for _, count in by_country)
    summary = f"{accounts:,} accounts in {len(by_country)} countries; {edges:,} follows."
    return (
        summary,
        figures.bar(
            [c for c, _ in by_country], [n for _, n in by_country], title="Accounts by country"
        ),
        figures.degree_distribution(list(degrees), title="Followers per account (log-log)"),
    )

"""Review console home: the moderator, their review language, and the team on duty."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html
from sqlalchemy import select

from core.auth import Role, Scope, User
from dashboards.app import principal, services

dash.register_page(__name__, path="/review", title="Review · Vigil", name="Review console")

_REVIEW_ROLES = (Role.MODERATOR.value, Role.SENIOR_MODERATOR.value, Role.ADMIN.value)


def layout(**_query: Any) -> Any:
    return html.Div(
        [
            html.H1("Review console"),
            html.P(id="review-whoami", className="summary"),
            html.H2("Review team"),
            html.Table(id="review-team", className="table"),
            dcc.Location(id="review-url"),
        ]
    )


@callback(
    Output("review-whoami", "children"),
    Output("review-team", "children"),
    Input("review-url", "pathname"),
)
def load_home(_pathname: str | None) -> tuple[str, Any]:
    me = principal()
    me.require(Scope.MODERATION_REVIEW)
    with services().db.session() as session:
        team = session.scalars(
            select(User)
            .where(User.role.in_(_REVIEW_ROLES), User.is_active.is_(True))
            .order_by(User.role, User.name)
        ).all()
        rows = [
            html.Tr([html.Td(u.name), html.Td(u.role), html.Td(u.review_language or "en")])
            for u in team
        ]
    header = html.Tr([html.Th("Name"), html.Th("Role"), html.Th("Review language")])
    return f"Signed in as {me.name} ({me.role}).", [header, *rows]

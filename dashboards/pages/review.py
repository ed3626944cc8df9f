"""Review console home: the moderator and their review language, the queues with their open,
overdue and oldest cases (each a link to the queue), and the team on duty."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html
from sqlalchemy import select

from core.auth import Role, User
from core.db import utcnow
from core.errors import VigilError
from dashboards.app import services
from dashboards.pages import review_support as support
from moderation import cases

dash.register_page(__name__, path="/review", title="Review · Vigil", name="Review console")

PREFIX = "review-home"
_REVIEW_ROLES = (Role.MODERATOR.value, Role.SENIOR_MODERATOR.value, Role.ADMIN.value)
#: How often the overview re-reads the queues (milliseconds).
REFRESH_MS = 30_000


def layout(**_query: Any) -> Any:
    return html.Div(
        [
            dcc.Location(id="review-url"),
            dcc.Interval(id=f"{PREFIX}-tick", interval=REFRESH_MS),
            html.H1("Review console"),
            html.P(id="review-whoami", className="summary"),
            html.Div(id=f"{PREFIX}-error", className="alert-slot", role="alert"),
            html.Section(
                [
                    html.Div(html.H2("Queues"), className="block-head"),
                    html.Div(id=f"{PREFIX}-queues"),
                ],
                className="block block-wide",
            ),
            html.Section(
                [html.H2("Review team"), html.Table(id="review-team", className="table")],
                className="block",
            ),
        ],
        className="review-page",
    )


def queue_table(stats: list[cases.QueueStats]) -> html.Table:
    """One row per queue; overdue queues stand out, empty ones are dimmed."""
    header = html.Tr(
        [
            html.Th("Queue"),
            html.Th("Open", className="num"),
            html.Th("Overdue", className="num"),
            html.Th("Claimed", className="num"),
            html.Th("Oldest open"),
            html.Th("Next due"),
        ]
    )
    now = utcnow()
    rows = []
    for row in stats:
        due = support.countdown(row.next_due_at, now)[0] if row.next_due_at else "-"
        css = "overdue" if row.overdue else "empty-queue" if not row.open else ""
        rows.append(
            html.Tr(
                [
                    html.Td(support.queue_link(row.queue, id=f"{PREFIX}-queue-{row.queue}")),
                    html.Td(f"{row.open:,}", className="num"),
                    html.Td(f"{row.overdue:,}", className="num"),
                    html.Td(f"{row.claimed:,}", className="num"),
                    html.Td(
                        support.duration(row.oldest_age_seconds)
                        if row.oldest_age_seconds is not None
                        else "-"
                    ),
                    html.Td(due),
                ],
                className=css,
                **{"data-queue": row.queue},
            )
        )
    return html.Table([html.Thead(header), html.Tbody(rows)], className="table queue-table")


@callback(
    Output("review-whoami", "children"),
    Output(f"{PREFIX}-queues", "children"),
    Output("review-team", "children"),
    Output(f"{PREFIX}-error", "children"),
    Input("review-url", "pathname"),
    Input(f"{PREFIX}-tick", "n_intervals"),
)
def load_home(_pathname: str | None, _tick: int | None) -> tuple[Any, ...]:
    try:
        me = support.moderator()
        opened = services()
        with opened.db.session() as session:
            language = support.review_language(session, me, opened.settings)
            stats = cases.queue_stats(session)
            team = session.scalars(
                select(User)
                .where(User.role.in_(_REVIEW_ROLES), User.is_active.is_(True))
                .order_by(User.role, User.name)
            ).all()
            rows = [
                html.Tr(
                    [
                        html.Td(u.name),
                        html.Td(u.role),
                        html.Td(
                            u.review_language
                            or opened.settings.localization.default_review_language
                        ),
                    ]
                )
                for u in team
            ]
    except VigilError as exc:
        return "", None, [], support.error_alert(exc)
    whoami = [
        f"Signed in as {me.name} ({me.role}). Review language: ",
        html.Strong(language, id=f"{PREFIX}-language"),
        ".",
    ]
    header = html.Tr([html.Th("Name"), html.Th("Role"), html.Th("Review language")])
    return whoami, queue_table(stats), [header, *rows], None

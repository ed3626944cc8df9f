"""One review queue: its open cases by priority then deadline, with the SLA countdown (overdue
ones highlighted), what the subject is, its language and region, the top score and the rule
that opened the case; "Claim next" takes the first case nobody holds and opens it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html
from sqlalchemy import select

from core.db import utcnow
from core.errors import VigilError
from dashboards.app import services
from dashboards.pages import review_support as support
from moderation import cases
from moderation.models import Case, ModerationCheck

PREFIX = "review-queue"

dash.register_page(
    __name__,
    path_template="/review/queue/<name>",
    title="Review queue · Vigil",
    name="Review queue",
)

#: Cases shown (the queue's first, in working order).
SHOWN = 200
REFRESH_MS = 30_000


def layout(
    name: str | None = None,
    done: str | None = None,
    unsent: str | None = None,
    **_query: Any,
) -> Any:
    return html.Div(
        [
            dcc.Store(id=f"{PREFIX}-name", data=name or ""),
            dcc.Store(id=f"{PREFIX}-done", data=support.done_state(done, unsent)),
            dcc.Location(id=f"{PREFIX}-nav", refresh="callback-nav"),
            dcc.Interval(id=f"{PREFIX}-tick", interval=REFRESH_MS),
            support.review_nav(name or ""),
            html.Div(
                [
                    html.H1(f"Queue {name}", id=f"{PREFIX}-title"),
                    html.Button(
                        "Claim next",
                        id=f"{PREFIX}-claim",
                        className="run-button",
                        n_clicks=0,
                    ),
                ],
                className="block-head",
            ),
            html.P(id=f"{PREFIX}-summary", className="summary"),
            html.Div(id=f"{PREFIX}-flash", className="flash-slot", role="status"),
            html.Div(id=f"{PREFIX}-error", className="alert-slot", role="alert"),
            html.Section(html.Div(id=f"{PREFIX}-cases"), className="block block-wide"),
        ],
        className="review-page",
    )


def top_score(scores: Mapping[str, Any] | None) -> tuple[str, float] | None:
    """The highest-scoring attribute of a check."""
    numeric = {k: float(v) for k, v in (scores or {}).items() if isinstance(v, int | float)}
    if not numeric:
        return None
    attribute = max(numeric, key=lambda k: numeric[k])
    return attribute, numeric[attribute]


def case_table(
    rows: list[Case], checks: Mapping[str, ModerationCheck], names: Mapping[str, str]
) -> html.Table | html.P:
    """The queue's cases as a table; each row links to its case."""
    now = utcnow()
    header = html.Tr(
        [
            html.Th("Priority", className="num"),
            html.Th("SLA"),
            html.Th("Subject"),
            html.Th("Language"),
            html.Th("Region"),
            html.Th("Top score"),
            html.Th("Rule"),
            html.Th("Claimed by"),
        ]
    )
    body = []
    for case in rows:
        text, overdue = support.countdown(case.due_at, now)
        check = checks.get(case.check_id or "")
        top = top_score(check.scores if check else None)
        held = case.claimed_until is not None and case.claimed_until > now
        body.append(
            html.Tr(
                [
                    html.Td(str(case.priority), className="num"),
                    html.Td(text, className="sla overdue" if overdue else "sla"),
                    html.Td(
                        dcc.Link(
                            f"{case.subject_type} {case.subject_id}",
                            href=f"/review/case/{case.id}",
                            id=f"{PREFIX}-case-{case.id}",
                        )
                    ),
                    html.Td(case.language or "-"),
                    html.Td(case.region or "-"),
                    html.Td(f"{top[0]} {top[1]:.2f}" if top else "-", className="num"),
                    html.Td(", ".join(case.rule_ids or []) or case.reason),
                    html.Td(names.get(case.assigned_to or "", case.assigned_to) if held else ""),
                ],
                className="case-row overdue" if overdue else "case-row",
                **{"data-case": case.id},
            )
        )
    if not body:
        return html.P("No open cases in this queue.", className="empty")
    return html.Table([html.Thead(header), html.Tbody(body)], className="table case-table")


@callback(
    Output(f"{PREFIX}-cases", "children"),
    Output(f"{PREFIX}-summary", "children"),
    Output(f"{PREFIX}-flash", "children"),
    Output(f"{PREFIX}-error", "children", allow_duplicate=True),
    Input(f"{PREFIX}-name", "data"),
    Input(f"{PREFIX}-tick", "n_intervals"),
    State(f"{PREFIX}-done", "data"),
    prevent_initial_call="initial_duplicate",
)
def load_queue(name: str, _tick: int | None, done: dict[str, Any] | None) -> tuple[Any, ...]:
    try:
        support.moderator()
        with services().db.session() as session:
            rows = cases.list_queue(session, name, limit=SHOWN, include_overdue_first=False)
            ids = [c.check_id for c in rows if c.check_id]
            checks = {
                c.id: c
                for c in session.scalars(select(ModerationCheck).where(ModerationCheck.id.in_(ids)))
            }
            names = support.user_names(session, (c.assigned_to for c in rows))
            flash = support.decision_flash(
                session, done, "This queue has no other open case you can take."
            )
            stats = next((s for s in cases.queue_stats(session) if s.queue == name), None)
            table = case_table(rows, checks, names)
    except VigilError as exc:
        return None, "", None, support.error_alert(exc)
    summary = (
        f"{stats.open:,} open, {stats.overdue:,} overdue, {stats.claimed:,} claimed"
        if stats
        else "no open cases"
    )
    return table, summary, flash, None


@callback(
    Output(f"{PREFIX}-nav", "href"),
    Output(f"{PREFIX}-error", "children"),
    Input(f"{PREFIX}-claim", "n_clicks"),
    State(f"{PREFIX}-name", "data"),
    prevent_initial_call=True,
)
def claim_next(_clicks: int, name: str) -> tuple[Any, Any]:
    try:
        me = support.moderator()
        with services().db.session() as session:
            case = support.claim_next(session, name, me)
            case_id = case.id if case is not None else None
    except VigilError as exc:
        return dash.no_update, support.error_alert(exc)
    if case_id is None:
        return dash.no_update, f"No case in {name} is free to claim."
    return f"/review/case/{case_id}", None

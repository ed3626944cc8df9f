"""One review case: the subject (comment text, or video caption with its thumbnail and playback
link), its language and the translation into the moderator's review language, why it was flagged
(live and shadow rule hits, scores with the model that gave them, watched terms, hash-bank
matches), its reports and earlier decisions; and the decision form.

A decision goes through the cases service (``decide_case``, or ``escalate_case``), which records
it in the chain, closes the case and rewrites the subject's visibility; once committed it is
published on ``moderation.decided`` and the moderator moves on to the next case of the queue.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import dash
import flask
from dash import Input, Output, State, callback, clientside_callback, dcc, html

import ingest
from core.auth import Principal
from core.db import utcnow
from core.errors import VigilError
from core.settings import Settings
from dashboards.app import services
from dashboards.pages import review_support as support
from localization import country_names
from moderation import cases, decisions
from moderation.taxonomy import REPORT_REASONS

log = logging.getLogger(__name__)

PREFIX = "review-case"

dash.register_page(
    __name__,
    path_template="/review/case/<case_id>",
    title="Review case · Vigil",
    name="Review case",
)

#: Hash-match frames shown per match (the count is always shown).
SHOWN_FRAMES = 8


def _reason_options() -> list[dict[str, str]]:
    options = [
        {"label": f"{label} ({code})", "value": code} for code, label in REPORT_REASONS.items()
    ]
    return [
        {"label": f"No violation ({cases.NO_VIOLATION})", "value": cases.NO_VIOLATION},
        *options,
    ]


def _country_options() -> list[dict[str, str]]:
    return [
        {"label": f"{code} · {name}", "value": code}
        for code, name in sorted(country_names().items())
    ]


def decision_form() -> html.Section:
    return html.Section(
        [
            html.H2("Decision"),
            dcc.RadioItems(
                id=f"{PREFIX}-action",
                options=[
                    {"label": label, "value": value} for value, label in support.DECISION_ACTIONS
                ],
                value=None,
                className="decision-actions",
                inputClassName="decision-radio",
            ),
            html.Label(
                [
                    html.Span(
                        "Countries (required for a block; none: everywhere)",
                        className="filter-label",
                    ),
                    dcc.Dropdown(
                        id=f"{PREFIX}-countries",
                        options=_country_options(),
                        value=[],
                        multi=True,
                        placeholder="Everywhere",
                        className="filter-dropdown",
                    ),
                ],
                id=f"{PREFIX}-countries-field",
                className="filter",
                style={"display": "none"},
            ),
            html.Label(
                [
                    html.Span("Reason (required)", className="filter-label"),
                    dcc.Dropdown(
                        id=f"{PREFIX}-reason",
                        options=_reason_options(),
                        value=None,
                        placeholder="Choose a reason code",
                        className="filter-dropdown",
                    ),
                ],
                className="filter",
            ),
            html.Label(
                [
                    html.Span("Note", className="filter-label"),
                    dcc.Textarea(
                        id=f"{PREFIX}-note",
                        value="",
                        className="decision-note",
                        placeholder="What you saw; kept with the decision",
                    ),
                ],
                className="filter",
            ),
            html.Button("Decide", id=f"{PREFIX}-submit", className="run-button", n_clicks=0),
            html.P(id=f"{PREFIX}-form-note", className="summary"),
        ],
        className="block decision-form",
        id=f"{PREFIX}-form",
    )


def layout(
    case_id: str | None = None,
    done: str | None = None,
    unsent: str | None = None,
    **_query: Any,
) -> Any:
    return html.Div(
        [
            dcc.Store(id=f"{PREFIX}-id", data=case_id or ""),
            dcc.Store(id=f"{PREFIX}-done", data=support.done_state(done, unsent)),
            dcc.Location(id=f"{PREFIX}-nav", refresh="callback-nav"),
            html.Div(id=f"{PREFIX}-links"),
            html.H1(f"Case {case_id}", id=f"{PREFIX}-title"),
            html.P(id=f"{PREFIX}-meta", className="summary"),
            html.Div(id=f"{PREFIX}-flash", className="flash-slot", role="status"),
            html.Div(id=f"{PREFIX}-error", className="alert-slot", role="alert"),
            html.Div(
                [
                    html.Div(
                        [
                            html.Section(
                                [html.H2("Subject"), html.Div(id=f"{PREFIX}-subject")],
                                className="block",
                            ),
                            html.Section(
                                [
                                    html.H2("Translation"),
                                    dcc.Loading(html.Div(id=f"{PREFIX}-translation")),
                                ],
                                className="block",
                            ),
                            html.Section(
                                [html.H2("Why it was flagged"), html.Div(id=f"{PREFIX}-why")],
                                className="block",
                            ),
                            html.Section(
                                [html.H2("Reports"), html.Div(id=f"{PREFIX}-reports")],
                                className="block",
                            ),
                            html.Section(
                                [html.H2("Earlier decisions"), html.Div(id=f"{PREFIX}-history")],
                                className="block",
                            ),
                        ],
                        className="case-main",
                    ),
                    html.Div(decision_form(), className="case-side"),
                ],
                className="case-layout",
            ),
        ],
        className="review-page",
    )


# --- what the page shows ------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], **props: Any) -> html.Table:
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in header])),
            html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows]),
        ],
        className="table",
        **props,
    )


def _base_url(settings: Settings) -> str:
    return (settings.http.public_url or flask.request.host_url).rstrip("/")


def subject_view(
    session: Any, detail: cases.CaseDetail, me: Principal, settings: Settings
) -> list[Any]:
    """The comment's text (with the video it is on), or the video's caption with its thumbnail
    and a playback link signed for the moderator."""
    subject = detail.subject
    case = detail.case
    if subject is None:
        return [
            html.P(
                f"The {case.subject_type} {case.subject_id} no longer exists.", className="empty"
            )
        ]
    facts = [
        f"{case.subject_type} {case.subject_id}",
        f"declared language {subject.get('language') or '-'}",
        f"region {subject.get('region') or '-'}",
        f"posted {support.utc(subject.get('created_at'))}",
    ]
    shown: list[Any] = [html.P(" · ".join(facts), className="summary")]
    if case.subject_type == "comment":
        shown.append(
            html.Blockquote(subject["text"], id=f"{PREFIX}-text", className="subject-text")
        )
        video = session.get(ingest.Video, subject["video_id"])
        if video is not None:
            shown.append(
                html.P(
                    f"On video {video.id}: {video.caption or '(no caption)'}", className="summary"
                )
            )
        if subject.get("deleted_at"):
            shown.append(html.P("The author has deleted this comment.", className="empty"))
        return shown
    caption = subject.get("caption") or ""
    tags = " ".join(f"#{tag}" for tag in subject.get("hashtags") or [])
    shown.append(
        html.Blockquote(
            (caption + (" " + tags if tags else "")).strip() or "(no caption)",
            id=f"{PREFIX}-text",
            className="subject-text",
        )
    )
    video = session.get(ingest.Video, case.subject_id)
    out = ingest.service.describe(
        session,
        video=video,
        principal=me,
        country=None,
        secret=settings.auth.secret_key.get_secret_value(),
        base_url=_base_url(settings),
    )
    if out.thumbnail_urls:
        size = min(out.thumbnail_urls, key=lambda s: abs(int(s.split("x")[0] or 0) - 360))
        shown.append(html.Img(src=out.thumbnail_urls[size], className="thumbnail", alt="thumbnail"))
    if out.playback_url:
        shown.append(
            html.P(
                [
                    html.A("Watch (HLS)", href=out.playback_url, target="_blank"),
                    f" · {out.duration_s or 0:.1f} s · link valid until "
                    f"{support.utc(out.playback_expires_at)}",
                ]
            )
        )
    else:
        shown.append(html.P(f"No playback: the video is {out.state}.", className="empty"))
    return shown


def _mode(mode: str) -> html.Span:
    return html.Span(mode, className=f"badge badge-{mode}")


def why_view(detail: cases.CaseDetail) -> list[Any]:
    """The check's evidence: language, rule hits, scores, watched terms, hash matches."""
    check = detail.check
    if check is None:
        return [html.P("No automatic check: the case came from reports.", className="empty")]
    versions = check.model_versions or {}
    signals = check.signals or {}
    confidence = f" ({check.language_confidence:.2f})" if check.language_confidence else ""
    shown: list[Any] = [
        html.P(
            [
                "Detected language ",
                html.Strong(f"{check.language or '-'}", id=f"{PREFIX}-language"),
                f"{confidence} by {versions.get('langid', '?')} · policy {check.policy_version} · "
                f"outcome {check.outcome} · checked {support.utc(check.created_at)}",
            ],
            className="summary",
        )
    ]
    hits = sorted(check.rule_hits, key=lambda h: (h.mode != "live", h.rule_id))
    shown.append(html.H3("Rule hits"))
    shown.append(
        _table(
            ["Rule", "Mode", "Action", "Queue", "Priority", "Countries", "Reason", "Policy"],
            [
                [
                    html.Code(hit.rule_id),
                    _mode(hit.mode),
                    hit.action,
                    hit.queue or "-",
                    "-" if hit.priority is None else str(hit.priority),
                    ", ".join(hit.countries) or "*",
                    hit.reason_code or "-",
                    hit.policy_version,
                ]
                for hit in hits
            ],
            id=f"{PREFIX}-rules",
        )
        if hits
        else html.P("No rule hit.", className="empty")
    )
    model = versions.get("toxicity", "?")
    scores = sorted(
        ((k, float(v)) for k, v in (check.scores or {}).items() if isinstance(v, int | float)),
        key=lambda kv: -kv[1],
    )
    shown.append(html.H3("Scores"))
    shown.append(
        _table(
            ["Attribute", "Score", "Model"],
            [
                [k, html.Span(f"{v:.3f}", className="score", style={"--score": f"{v:.3f}"}), model]
                for k, v in scores
            ],
            id=f"{PREFIX}-scores",
        )
        if scores
        else html.P("No scores.", className="empty")
    )
    terms = signals.get("terms_hit") or []
    if terms:
        shown.append(html.H3("Watched terms"))
        shown.append(
            _table(
                ["List", "Term", "Region", "Where"],
                [
                    [
                        t.get("list"),
                        html.Code(str(t.get("term"))),
                        t.get("region") or "*",
                        "-".join(str(i) for i in t.get("span") or []),
                    ]
                    for t in terms
                ],
                id=f"{PREFIX}-terms",
            )
        )
    elif signals.get("terms"):
        shown.append(html.P("Watched-term lists hit: " + ", ".join(signals["terms"])))
    matches = signals.get("hash_matches") or []
    if matches:
        shown.append(html.H3("Hash-bank matches"))
        shown.append(html.Div([_hash_match(m) for m in matches], id=f"{PREFIX}-hashes"))
    changes = signals.get("normalization") or []
    if changes:
        shown.append(
            html.P("Evasion undone before scoring: " + ", ".join(changes), className="summary")
        )
    return shown


def _hash_match(match: Mapping[str, Any]) -> html.Div:
    frames = match.get("frames") or []
    rows = [
        [
            f"{f.get('query_frame')} @ {float(f.get('query_timestamp') or 0):.1f} s",
            f"{f.get('target_frame')} @ {float(f.get('target_timestamp') or 0):.1f} s",
            str(f.get("distance")),
        ]
        for f in frames[:SHOWN_FRAMES]
    ]
    more = f" (first {SHOWN_FRAMES} of {len(frames)})" if len(frames) > SHOWN_FRAMES else ""
    return html.Div(
        [
            html.P(
                f"bank {match.get('bank')} · entry {match.get('label') or match.get('entry_id')} · "
                f"distance {match.get('distance')} · {match.get('query_match_percent')}% of the "
                f"video's frames match · {len(frames)} frames{more}"
            ),
            _table(["Video frame", "Bank frame", "Distance"], rows) if rows else None,
        ],
        className="hash-match",
    )


def reports_view(detail: cases.CaseDetail) -> Any:
    if not detail.reports:
        return html.P("No user reports.", className="empty")
    return _table(
        ["When", "Reason", "Region", "Details"],
        [
            [
                support.utc(r.created_at),
                REPORT_REASONS.get(r.reason, r.reason),
                r.region or "-",
                r.details or "",
            ]
            for r in detail.reports
        ],
        id=f"{PREFIX}-report-table",
    )


def history_view(detail: cases.CaseDetail, names: Mapping[str, str]) -> Any:
    if not detail.decisions:
        return html.P("No decision yet.", className="empty")
    return _table(
        ["#", "When", "Action", "Where", "Reason", "By", "Rules", "Note"],
        [
            [
                str(d.seq),
                support.utc(d.at),
                d.action,
                ", ".join(d.regions),
                d.reason_code,
                names.get(d.actor, d.actor),
                ", ".join(d.rule_ids),
                d.note,
            ]
            for d in detail.decisions
        ],
        id=f"{PREFIX}-decisions",
    )


def meta_line(detail: cases.CaseDetail, me: Principal, names: Mapping[str, str]) -> list[Any]:
    case = detail.case
    now = utcnow()
    sla, overdue = support.countdown(case.due_at, now)
    held = case.claimed_until is not None and case.claimed_until > now
    if case.status != "open":
        claim = f"closed {support.utc(case.closed_at)}"
    elif held and case.assigned_to == me.id:
        claim = f"claimed by you until {support.utc(case.claimed_until)}"
    elif held:
        who = names.get(case.assigned_to or "", case.assigned_to)
        claim = f"claimed by {who} until {support.utc(case.claimed_until)}"
    else:
        claim = "not claimed"
    return [
        f"{case.kind} case in {case.queue} · priority {case.priority} · ",
        html.Span(case.status, id=f"{PREFIX}-status", className=f"status status-{case.status}"),
        " · ",
        html.Span(
            sla if case.status == "open" else f"was due {support.utc(case.due_at)}",
            className="sla overdue" if overdue and case.status == "open" else "sla",
        ),
        f" · region {case.region or '-'} · language {case.language or '-'} · {claim} · "
        f"opened for: {case.reason}",
    ]


# --- callbacks ----------------------------------------------------------------------------------


@callback(
    Output(f"{PREFIX}-links", "children"),
    Output(f"{PREFIX}-meta", "children"),
    Output(f"{PREFIX}-subject", "children"),
    Output(f"{PREFIX}-why", "children"),
    Output(f"{PREFIX}-reports", "children"),
    Output(f"{PREFIX}-history", "children"),
    Output(f"{PREFIX}-flash", "children"),
    Output(f"{PREFIX}-submit", "disabled"),
    Output(f"{PREFIX}-form-note", "children"),
    Output(f"{PREFIX}-error", "children", allow_duplicate=True),
    Input(f"{PREFIX}-id", "data"),
    State(f"{PREFIX}-done", "data"),
    prevent_initial_call="initial_duplicate",
)
def load_case(case_id: str, done: dict[str, Any] | None) -> tuple[Any, ...]:
    try:
        me = support.moderator()
        opened = services()
        with opened.db.session() as session:
            detail = cases.case_detail(session, case_id)
            names = support.user_names(
                session, [detail.case.assigned_to, *(d.actor for d in detail.decisions)]
            )
            subject = subject_view(session, detail, me, opened.settings)
            flash = support.decision_flash(session, done, "This is the next case of the queue.")
    except VigilError as exc:
        return (
            support.review_nav(""),
            "",
            None,
            None,
            None,
            None,
            None,
            True,
            "",
            support.error_alert(exc),
        )
    closed = detail.case.status != "open"
    return (
        support.review_nav(detail.case.queue),
        meta_line(detail, me, names),
        subject,
        why_view(detail),
        reports_view(detail),
        history_view(detail, names),
        flash,
        closed,
        f"This case is closed ({detail.case.status}); it takes no more decisions."
        if closed
        else "",
        None,
    )


@callback(
    Output(f"{PREFIX}-translation", "children"),
    Input(f"{PREFIX}-id", "data"),
)
def load_translation(case_id: str) -> Any:
    """The subject's text in the moderator's review language (a separate callback: translating
    on demand may take a moment; the rest of the case shows meanwhile)."""
    try:
        me = support.moderator()
        opened = services()
        with opened.db.session() as session:
            target = support.review_language(session, me, opened.settings)
            detail = cases.case_detail(session, case_id)
    except VigilError as exc:
        return support.error_alert(exc)
    subject = detail.subject or {}
    if detail.case.subject_type == "comment":
        text = str(subject.get("text") or "")
    else:
        text = str(subject.get("caption") or "")
    check = detail.check
    source = (check.language if check else None) or detail.case.language
    shown = support.translation_for(
        text,
        source=source,
        target=target,
        stored=check.translation if check else None,
        translate=support.translator().translate,
    )
    heading = html.P(f"{source or '?'} → {target} (your review language)", className="summary")
    if shown.text is None:
        return [
            heading,
            html.P(shown.error, id=f"{PREFIX}-translation-error", className="alert"),
        ]
    origin = {
        "check": f"by {shown.model}, when the item was checked",
        "on demand": f"by {shown.model}, just now",
        "same language": "no translation needed: it is in your review language",
    }.get(shown.origin, shown.origin)
    return [
        heading,
        html.Blockquote(shown.text, id=f"{PREFIX}-translated", className="subject-text"),
        html.P(
            f"Machine translation {origin}.", id=f"{PREFIX}-translation-model", className="summary"
        ),
    ]


# The country picker shows for the actions that can be regional. In the browser: it reads
# nothing from the server, so it needs no round trip (and no scope check).
_REGIONAL_JS = json.dumps(sorted(support.REGIONAL_ACTIONS))
clientside_callback(
    f"function (action) {{ return {_REGIONAL_JS}.includes(action) ? {{}} : {{display: 'none'}}; }}",
    Output(f"{PREFIX}-countries-field", "style"),
    Input(f"{PREFIX}-action", "value"),
)


@callback(
    Output(f"{PREFIX}-nav", "href"),
    Output(f"{PREFIX}-error", "children"),
    Input(f"{PREFIX}-submit", "n_clicks"),
    State(f"{PREFIX}-id", "data"),
    State(f"{PREFIX}-action", "value"),
    State(f"{PREFIX}-countries", "value"),
    State(f"{PREFIX}-reason", "value"),
    State(f"{PREFIX}-note", "value"),
    prevent_initial_call=True,
)
def decide(
    _clicks: int,
    case_id: str,
    action: str | None,
    countries: list[str] | None,
    reason: str | None,
    note: str | None,
) -> tuple[Any, Any]:
    """Record the decision, publish it once committed, and open the queue's next case."""
    try:
        me = support.moderator()
        action, regions, reason, note = support.parse_decision(action, countries, reason, note)
        opened = services()
        config = opened.settings.moderation
        with opened.db.session() as session:
            queue = cases.get_case_or_raise(session, case_id).queue
            if action == "escalate":
                text = f"{reason}: {note}" if note else reason
                outcome = cases.escalate_case(session, case_id, me, text, config=config).outcome
            else:
                outcome = cases.decide_case(
                    session, case_id, me, action, regions, reason, note, config=config
                )
            event = decisions.decision_event(outcome)
    except VigilError as exc:
        return dash.no_update, support.error_alert(exc)
    done = f"?done={event['decision_id']}"
    try:
        unsent = support.publish_decided([event])
    except Exception:  # the decision stands, its event is in the outbox; the next page says so
        log.exception(
            "decision %s recorded but not yet sent on %s",
            event["decision_id"],
            decisions.DECIDED_TOPIC,
        )
        unsent = [event["decision_id"]]
    if unsent:
        done += "&unsent=1"
    try:
        with opened.db.session() as session:
            following = support.claim_next(session, queue, me)
            next_id = following.id if following is not None else None
    except VigilError:
        log.exception("no next case after decision %s", event["decision_id"])
        next_id = None
    if next_id is None:
        return f"/review/queue/{queue}{done}", None
    return f"/review/case/{next_id}{done}", None

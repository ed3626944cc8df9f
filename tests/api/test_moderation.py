"""Reports, queues, cases, decisions, appeals and the chain through the real API, with the
``moderation.decided`` events read back from the bus."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

import ingest
from core import auth
from core.bus import Message, open_bus_from_settings
from core.db import Database
from core.settings import Settings

PASSWORD = "correct-horse-battery-staple"
Headers = dict[str, str]


def _sign_in(
    client: TestClient, make_user: Callable[..., auth.User], name: str, role: str
) -> tuple[Headers, str]:
    user = make_user(name, role)
    token = client.post("/v1/auth/token", data={"username": name, "password": PASSWORD})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}, user.id


def _ready_video(database_url: str, creator_id: str) -> str:
    db = Database(database_url)
    try:
        with db.session() as session:
            video = ingest.Video(creator_id=creator_id, caption="a clip", state="ready")
            session.add(video)
            session.flush()
            return video.id
    finally:
        db.dispose()


def _decided_events(settings: Settings, n: int) -> list[dict[str, Any]]:
    async def consume() -> list[dict[str, Any]]:
        bus = await open_bus_from_settings(settings)
        got: list[dict[str, Any]] = []
        stop = asyncio.Event()

        async def handle(message: Message) -> None:
            got.append(message.payload)
            if len(got) == n:
                stop.set()

        try:
            await asyncio.wait_for(bus.consume("moderation.decided", "test", handle, stop=stop), 10)
        finally:
            await bus.close()
        return got

    return asyncio.run(consume())


def test_report_review_decide_appeal_and_verify(
    client: TestClient,
    make_user: Callable[..., auth.User],
    database_url: str,
    settings: Settings,
) -> None:
    creator, creator_id = _sign_in(client, make_user, "maker", "creator")
    viewer, _ = _sign_in(client, make_user, "watcher", "viewer")
    viewer2, _ = _sign_in(client, make_user, "watcher2", "viewer")
    mod, mod_id = _sign_in(client, make_user, "mod", "moderator")
    mod2, _ = _sign_in(client, make_user, "mod2", "moderator")
    senior, senior_id = _sign_in(client, make_user, "senior", "senior_moderator")
    video_id = _ready_video(database_url, creator_id)

    reasons = client.get("/v1/reports/reasons", headers=viewer).json()
    assert len(reasons) == 18
    assert reasons[0]["code"] == "hate"

    body = {"subject_type": "video", "subject_id": video_id, "reason": "hate", "details": "slur"}
    first = client.post("/v1/reports", json=body, headers=viewer)
    assert first.status_code == 201, first.text
    again = client.post("/v1/reports", json=body, headers=viewer)
    assert again.json()["id"] == first.json()["id"]
    assert client.post("/v1/reports", json=body, headers=viewer2).status_code == 201
    case_id = first.json()["case_id"]
    unknown = client.post("/v1/reports", json={**body, "reason": "rude"}, headers=viewer)
    assert unknown.status_code == 422
    assert "valid reasons: hate, harassment" in unknown.json()["error"]["message"]
    missing = client.post("/v1/reports", json={**body, "subject_id": "nope"}, headers=viewer)
    assert missing.status_code == 404

    queues = {q["queue"]: q for q in client.get("/v1/moderation/queues", headers=mod).json()}
    assert queues["hate_harassment"]["open"] == 1
    assert queues["appeals"]["open"] == 0
    listed = client.get("/v1/moderation/queues/hate_harassment/cases", headers=mod).json()
    assert [(c["id"], c["priority"]) for c in listed] == [(case_id, 70)]  # two reporters
    detail = client.get(f"/v1/moderation/cases/{case_id}", headers=mod).json()
    assert detail["subject"]["caption"] == "a clip"
    assert detail["check"] is None
    assert len(detail["reports"]) == 2
    assert detail["decisions"] == []

    claimed = client.post(f"/v1/moderation/cases/{case_id}:claim", headers=mod)
    assert claimed.status_code == 200
    assert claimed.json()["assigned_to"] == mod_id
    taken = client.post(f"/v1/moderation/cases/{case_id}:claim", headers=mod2)
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "case_claimed"
    bad = client.post(
        f"/v1/moderation/cases/{case_id}:decide", json={"action": "block"}, headers=mod
    )
    assert bad.status_code == 422
    assert "a block needs the countries" in bad.text
    decided = client.post(
        f"/v1/moderation/cases/{case_id}:decide",
        json={"action": "remove", "reason_code": "hate", "note": "slur in caption"},
        headers=mod,
    )
    assert decided.status_code == 200, decided.text
    result = decided.json()
    removal_id = result["decision"]["id"]
    assert result["visibility"] == {"*": "removed"}
    assert result["closed_case_ids"] == [case_id]
    assert result["author"] == {
        "user_id": creator_id,
        "active_strikes": 1,
        "account_restricted": False,
    }
    gone = client.get(f"/v1/videos/{video_id}", headers=viewer)
    assert gone.status_code in (404, 410), gone.text

    stranger = client.post(
        "/v1/appeals", json={"decision_id": removal_id, "text": "mine?"}, headers=viewer
    )
    assert stranger.status_code == 403
    appeal = client.post(
        "/v1/appeals",
        json={"decision_id": removal_id, "text": "a quote, not a slur"},
        headers=creator,
    )
    assert appeal.status_code == 201, appeal.text
    appeal_id = appeal.json()["id"]
    not_senior = client.post(
        f"/v1/appeals/{appeal_id}:resolve", json={"uphold": False}, headers=mod
    )
    assert not_senior.status_code == 403
    overturned = client.post(
        f"/v1/appeals/{appeal_id}:resolve",
        json={"uphold": False, "note": "counter-speech"},
        headers=senior,
    )
    assert overturned.status_code == 200, overturned.text
    resolved = overturned.json()
    assert resolved["appeal"]["status"] == "overturned"
    assert resolved["decision"]["decision"]["action"] == "approve"
    assert resolved["decision"]["revoked_strikes"] == 1
    assert resolved["decision"]["visibility"] == {}
    assert client.get(f"/v1/videos/{video_id}", headers=viewer).status_code == 200

    history = client.get(f"/v1/moderation/decisions?subject=video:{video_id}", headers=mod)
    assert [(d["seq"], d["action"], d["actor"]) for d in history.json()] == [
        (2, "approve", senior_id),
        (1, "remove", mod_id),
    ]
    bad_subject = client.get("/v1/moderation/decisions?subject=video", headers=mod)
    assert bad_subject.status_code == 422
    verified = client.get("/v1/moderation/decisions:verify", headers=mod).json()
    assert verified["ok"]
    assert verified["checked"] == 2
    assert verified["head_seq"] == 2

    events = _decided_events(settings, 2)
    assert [(e["seq"], e["action"], e["subject_id"]) for e in events] == [
        (1, "remove", video_id),
        (2, "approve", video_id),
    ]
    assert events[0]["author"]["active_strikes"] == 1
    assert events[0]["visibility"] == {"*": "removed"}
    assert events[1]["reason_code"] == "appeal_overturned"


def test_escalation_goes_to_seniors(
    client: TestClient, make_user: Callable[..., auth.User], database_url: str
) -> None:
    _, creator_id = _sign_in(client, make_user, "maker", "creator")
    viewer, _ = _sign_in(client, make_user, "watcher", "viewer")
    mod, _ = _sign_in(client, make_user, "mod", "moderator")
    senior, _ = _sign_in(client, make_user, "senior", "senior_moderator")
    video_id = _ready_video(database_url, creator_id)
    report = client.post(
        "/v1/reports",
        json={"subject_type": "video", "subject_id": video_id, "reason": "minor_safety"},
        headers=viewer,
    ).json()
    escalated = client.post(
        f"/v1/moderation/cases/{report['case_id']}:escalate",
        json={"note": "needs a specialist"},
        headers=mod,
    )
    assert escalated.status_code == 200, escalated.text
    senior_case = escalated.json()["case"]
    assert senior_case["queue"] == "escalations"
    assert senior_case["escalated_from"] == report["case_id"]
    assert escalated.json()["decision"]["decision"]["action"] == "escalate"
    denied = client.post(
        f"/v1/moderation/cases/{senior_case['id']}:decide",
        json={"action": "remove", "reason_code": "minor_safety"},
        headers=mod,
    )
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "missing_scope"
    decided = client.post(
        f"/v1/moderation/cases/{senior_case['id']}:decide",
        json={"action": "block", "regions": ["de"], "reason_code": "minor_safety"},
        headers=senior,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["visibility"] == {"DE": "blocked"}
    closed = client.post(
        f"/v1/moderation/cases/{senior_case['id']}:decide",
        json={"action": "approve"},
        headers=senior,
    )
    assert closed.status_code == 409
    assert closed.json()["error"]["code"] == "case_closed"


def test_apps_cannot_report(client: TestClient, token_for: Callable[[str], str]) -> None:
    admin = {"Authorization": f"Bearer {token_for('admin')}"}
    key = client.post(
        "/v1/keys", json={"name": "app", "scopes": ["videos:read"]}, headers=admin
    ).json()["key"]
    refused = client.post(
        "/v1/reports",
        json={"subject_type": "video", "subject_id": "x", "reason": "spam"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert refused.status_code == 403
    assert "a signed-in user does" in refused.text

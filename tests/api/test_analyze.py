"""``POST /v1/comments:analyze`` answers Perspective API clients in Perspective's own shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core import auth
from core.auth import Scope
from core.db import Database
from tests.conftest import make_settings
from tests.localization.model_cache import fasttext_models_dir

ALL = ("TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> object:
    """The API's settings with the fastText language-ID model installed."""
    return make_settings(tmp_path, database_url=database_url, models_dir=fasttext_models_dir())


@pytest.fixture
def api_key(client: TestClient) -> str:
    services = client.app.state.services  # type: ignore[attr-defined]
    db: Database = services.db
    with db.session() as session:
        _row, key = auth.create_api_key(
            session, name="perspective-app", scopes=frozenset({Scope.COMMENTS_WRITE})
        )
    return key


def _analyze(client: TestClient, key: str, body: object) -> object:
    return client.post(f"/v1/comments:analyze?key={key}", json=body)


def test_perspective_request_and_response_shapes(client: TestClient, api_key: str) -> None:
    body = {
        "comment": {"text": "What a lovely cat. You are a stupid idiot and I hate you!"},
        "languages": ["en"],
        "requestedAttributes": {name: {} for name in ("TOXICITY", "INSULT")},
        "clientToken": "abc",
    }
    response = _analyze(client, api_key, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["clientToken"] == "abc"
    assert answer["languages"] == ["en"]
    assert answer["detectedLanguages"] == ["en"]
    assert answer["vigilModel"]["name"]
    assert set(answer["attributeScores"]) == {"TOXICITY", "INSULT"}
    toxicity = answer["attributeScores"]["TOXICITY"]
    assert toxicity["summaryScore"]["type"] == "PROBABILITY"
    spans = toxicity["spanScores"]
    text = body["comment"]["text"]  # type: ignore[index]
    assert [text[s["begin"] : s["end"]] for s in spans] == [
        "What a lovely cat.",
        "You are a stupid idiot and I hate you!",
    ]
    friendly, abusive = (s["score"]["value"] for s in spans)
    assert abusive > friendly + 0.3, spans


def test_threshold_and_bearer_token(client: TestClient, api_key: str) -> None:
    body = {
        "comment": {"text": "have a nice day"},
        "requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.9}},
        "spanAnnotations": False,
    }
    response = client.post(
        "/v1/comments:analyze", json=body, headers={"Authorization": f"Bearer {api_key}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["attributeScores"] == {}, "below the threshold: left out"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"comment": {"text": ""}, "requestedAttributes": {"TOXICITY": {}}}, "non-empty"),
        ({"comment": {"text": "hi"}, "requestedAttributes": {}}, "at least one"),
        ({"comment": {"text": "hi"}, "requestedAttributes": {"SPAM": {}}}, "SPAM"),
        ({"requestedAttributes": {"TOXICITY": {}}}, "comment"),
        (
            {"comment": {"text": "x" * 20481}, "requestedAttributes": {"TOXICITY": {}}},
            "20480",
        ),
        (
            {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {"scoreType": "X"}}},
            "PROBABILITY",
        ),
    ],
)
def test_bad_requests_get_perspective_errors(
    client: TestClient, api_key: str, body: object, needle: str
) -> None:
    response = _analyze(client, api_key, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert needle in error["message"]


def test_needs_a_key_with_comments_write(client: TestClient) -> None:
    body = {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}}
    assert client.post("/v1/comments:analyze", json=body).status_code == 401
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.db.session() as session:
        _row, key = auth.create_api_key(
            session, name="events-only", scopes=frozenset({Scope.EVENTS_WRITE})
        )
    assert _analyze(client, key, body).status_code == 403

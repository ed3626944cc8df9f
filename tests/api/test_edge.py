"""The HTTP edge: one error shape, request ids, body limit, readiness and route-template metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from api import create_app
from tests.conftest import make_settings


def test_unknown_route_has_the_error_shape(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "no route GET /v1/nothing-here", "details": {}}
    }


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "trace-abc.123"})
    assert given.headers["x-request-id"] == "trace-abc.123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 16


def test_oversized_body_gets_413_naming_the_limit(client: TestClient) -> None:
    body = "x" * (1_048_576 + 1)
    response = client.post(
        "/v1/auth/refresh", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert error["details"] == {"limit_bytes": 1_048_576, "setting": "VIGIL_HTTP__MAX_BODY_BYTES"}


def test_streamed_oversized_body_without_length_gets_413(client: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"y" * 65536

    response = client.post(
        "/v1/auth/refresh", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_readyz_reports_each_store(client: TestClient) -> None:
    body = client.get("/readyz").json()
    assert body == {"status": "ready", "checks": {"database": "ok", "bus": "ok", "storage": "ok"}}


def test_readyz_is_503_while_the_bus_is_unreachable(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, bus_url="nats://127.0.0.1:1")
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 5
        body = client.get("/readyz").json()
        while "nats://127.0.0.1:1" not in str(body) and time.monotonic() < deadline:
            time.sleep(0.05)
            body = client.get("/readyz").json()
        response = client.get("/readyz")
        assert response.status_code == 503
        assert "nats://127.0.0.1:1" in response.json()["checks"]["startup"]
        # Protected routes say why too, rather than failing obscurely.
        token = client.post("/v1/auth/token", data={"username": "a", "password": "b"})
        assert token.status_code == 503
        assert token.json()["error"]["code"] == "unavailable"
        assert client.get("/healthz").status_code == 200  # alive all the same


def test_metrics_are_labelled_by_route_template(
    client: TestClient, token_for: Callable[[str], str]
) -> None:
    headers = {"Authorization": f"Bearer {token_for('admin')}"}
    for user_id in ("aaa", "bbb", "ccc"):
        assert client.get(f"/v1/users/{user_id}", headers=headers).status_code == 404
    text = client.get("/metrics", headers=headers).text
    assert (
        'vigil_http_requests_total{method="GET",route="/v1/users/{user_id}",status="404"}' in text
    )
    assert "/v1/users/aaa" not in text
    assert 'route="<unmatched>"' not in text or "/v1/nothing" not in text


def test_prometheus_scrape_token_opens_metrics_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, metrics={"scrape_token": "scrape-token-for-prometheus"})
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        scrape = {"Authorization": "Bearer scrape-token-for-prometheus"}
        assert client.get("/metrics", headers=scrape).status_code == 200
        assert client.get("/v1/ops/config", headers=scrape).status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-wrong"})
        assert wrong.status_code == 401

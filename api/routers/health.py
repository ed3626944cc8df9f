"""Liveness, readiness and metrics of the API process."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from api.deps import RequireMetricsAccess
from core.metrics import render_latest
from core.runtime import Services

public = APIRouter(tags=["health"])
protected = APIRouter(tags=["health"])


@public.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@public.get("/readyz", summary="The stores and the bus answer (503 until they do)")
async def readyz(request: Request) -> JSONResponse:
    services: Services | None = request.app.state.services
    if services is None:
        reason = request.app.state.startup_error or "starting up"
        return JSONResponse({"status": "not_ready", "checks": {"startup": reason}}, 503)
    checks = await services.readiness()
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not_ready", "checks": checks}
    if services.info:
        body["info"] = services.info
    return JSONResponse(body, 200 if ready else 503)


@protected.get(
    "/metrics",
    summary="Prometheus metrics of every process of this host",
    dependencies=[Depends(RequireMetricsAccess())],
    response_class=Response,
)
def metrics() -> Response:
    body, content_type = render_latest()
    return Response(body, media_type=content_type)

"""``POST /v1/comments:analyze``: Perspective API's request and response, served by Vigil's
classifiers. Like Perspective, it takes the API key as ``?key=`` (or a bearer token)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

import moderation
from api.deps import (
    DbSession,
    RequireScope,
    ServicesDep,
    SettingsDep,
    _bearer,
    resolve_principal,
)
from core.auth import Principal, Scope

router = APIRouter(tags=["moderation"])


class RequireAnalyzeAccess(RequireScope):
    """comments:write, from a bearer token or Perspective's ``?key=`` query parameter."""

    def __init__(self) -> None:
        super().__init__(Scope.COMMENTS_WRITE)

    def __call__(  # type: ignore[override]
        self,
        db: DbSession,
        settings: SettingsDep,
        token: Annotated[str | None, Depends(_bearer)],
        key: Annotated[str | None, Query(description="API key, as Perspective takes it")] = None,
    ) -> Principal:
        principal = resolve_principal(db, settings, token or key)
        principal.require(Scope.COMMENTS_WRITE)
        return principal


async def _checker(services: ServicesDep) -> moderation.Checker:
    """The process's models (shared with its consumers), loaded on first use off the loop."""
    return await run_in_threadpool(moderation.shared_checker, services.settings)


@router.post(
    "/v1/comments:analyze",
    summary="Score a comment (Perspective API compatible)",
    dependencies=[Depends(RequireAnalyzeAccess())],
    response_class=Response,
)
async def analyze_comment(
    checker: Annotated[moderation.Checker, Depends(_checker)],
    body: Annotated[Any, Body(description="Perspective AnalyzeCommentRequest")],
) -> Response:
    try:
        parsed = moderation.perspective.parse_request(body)
        answer = await run_in_threadpool(moderation.perspective.analyze, checker, parsed)
    except moderation.perspective.PerspectiveError as exc:
        return Response(orjson.dumps(exc.body()), status_code=400, media_type="application/json")
    return Response(orjson.dumps(answer), media_type="application/json")

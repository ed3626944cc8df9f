"""Pure ASGI middleware of the HTTP edge: request ids and the request body limit."""

from __future__ import annotations

import contextlib
import json
import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import error_body
from core.logging import request_id

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Takes a sane ``X-Request-ID`` from the caller or makes one; echoes it and logs with it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _VALID_REQUEST_ID.match(incoming) else secrets.token_hex(8)
        token = request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


class BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    """Answers 413 for bodies over ``max_bytes``: by Content-Length up front, else while reading.

    Routes under ``exempt_prefixes`` (uploads) enforce their own, larger limits.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, exempt_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        received = 0
        exceeded = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            # Frameworks turn a failed body read into their own 400; the 413 replaces it.
            if exceeded:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, limited_receive, tracking_send)
        if exceeded and not response_started:
            await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            error_body(
                "too_large",
                f"request body is over the limit of {self.max_bytes} bytes",
                {"limit_bytes": self.max_bytes, "setting": "VIGIL_HTTP__MAX_BODY_BYTES"},
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

"""Dashboard sign-in: a login page, a signed session cookie, and the guard in front of Dash.

The cookie holds a short JWT (audience "session") signed with the same key as API tokens; the
user store is the API's. Every Dash request passes the guard; page paths also need their scope.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from core import auth
from core.auth import Principal
from core.auth import Scope as AuthScope
from core.errors import AuthenticationError, UnavailableError, error_body
from core.runtime import Services

log = logging.getLogger(__name__)

COOKIE_NAME = "vigil_session"

#: Which scope each console needs; the first that the user holds is their landing page.
CONSOLES: tuple[tuple[str, AuthScope, str], ...] = (
    ("/review", AuthScope.MODERATION_REVIEW, "Review console"),
    ("/analytics", AuthScope.ANALYTICS_READ, "Analytics"),
)

ServicesGetter = Callable[[], Services | None]


def _services_or_raise(get_services: ServicesGetter) -> Services:
    services = get_services()
    if services is None:
        raise UnavailableError("Vigil is starting: the stores are not connected yet")
    return services


def principal_from_cookie(services: Services, cookie: str | None) -> Principal | None:
    """The signed-in user of a session cookie, or None if absent, expired or disabled."""
    if not cookie:
        return None
    try:
        claims = auth.tokens.decode(
            cookie,
            secret=services.settings.auth.secret_key.get_secret_value(),
            audience="session",
        )
    except AuthenticationError:
        return None
    with services.db.session() as session:
        user = auth.get_user(session, user_id=claims.subject)
        if user is None or not user.is_active:
            return None
        return auth.principal_for(user)


def landing_path(principal: Principal) -> str | None:
    for path, scope, _title in CONSOLES:
        if principal.has(scope):
            return path
    return None


def _safe_next(target: str | None) -> str | None:
    # Only same-site absolute paths, so the login page cannot be used as an open redirect.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Vigil</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" type="image/x-icon" href="/_favicon.ico">
<style>
body{{
  font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;
  background:#0f172a;
  color:#e2e8f0;
  display:flex;
  align-items:center;
  justify-content:center;
  min-height:100vh;
  margin:0;
}}
form{{
  background:#1e293b;
  padding:2rem 2.5rem;
  border-radius:12px;
  width:320px;
  box-shadow:0 10px 30px #0006;
}}
h1{{
  margin:0 0 1.25rem;
  font-size:1.4rem;
}}
label{{
  display:block;
  margin:.75rem 0 .25rem;
  font-size:.9rem;
}}
input{{
  width:100%;
  box-sizing:border-box;
  padding:.55rem;
  border-radius:6px;
  border:1px solid #475569;
  background:#0f172a;
  color:#e2e8f0;
}}
button{{
  margin-top:1.25rem;
  width:100%;
  padding:.6rem;
  border:0;
  border-radius:6px;
  background:#38bdf8;
  color:#0f172a;
  font-weight:600;
  cursor:pointer;
}}
.error{{
  background:#7f1d1d;
  padding:.5rem .75rem;
  border-radius:6px;
  font-size:.9rem;
}}
</style></head><body>
<form method="post" action="/login">
<h1>Vigil</h1>{error}
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" required value="{username}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="{next}">
<button type="submit">Sign in</button>
</form></body></html>"""


def login_page(*, error: str | None = None, username: str = "", next_path: str = "") -> str:
    return _PAGE.format(
        error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "",
        username=html.escape(username),
        next=html.escape(next_path),
    )


def make_login_endpoints(
    get_services: ServicesGetter,
) -> tuple[Callable[[Request], Any], Callable[[Request], Any], Callable[[Request], Any]]:
    """Starlette endpoints for GET /login, POST /login and /logout."""

    async def show(request: Request) -> Response:
        return HTMLResponse(login_page(next_path=request.query_params.get("next", "")))

    async def submit(request: Request) -> Response:
        services = _services_or_raise(get_services)
        form = await request.form()
        name = str(form.get("username", ""))
        password = str(form.get("password", ""))
        next_path = _safe_next(str(form.get("next", "")))
        try:
            with services.db.session() as session:
                user = auth.authenticate(session, name=name, password=password)
                principal = auth.principal_for(user)
        except auth.InvalidCredentialsError as exc:
            return HTMLResponse(
                login_page(error=exc.message, username=name, next_path=next_path or ""), 401
            )
        target = next_path or landing_path(principal)
        if target is None:
            return HTMLResponse(
                login_page(
                    error=f"the role {principal.role} has no dashboard; "
                    "dashboards are for moderators, analysts and admins",
                    username=name,
                ),
                403,
            )
        settings = services.settings
        hours = settings.auth.session_hours
        cookie, _ = auth.tokens.encode(
            secret=settings.auth.secret_key.get_secret_value(),
            subject=principal.id,
            name=principal.name,
            role=str(principal.role),
            audience="session",
            lifetime=dt.timedelta(hours=hours),
        )
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            cookie,
            max_age=hours * 3600,
            httponly=True,
            samesite="lax",
            secure=settings.auth.cookie_secure,
            path="/",
        )
        log.info("dashboard sign-in: %s", principal.name)
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    return show, submit, logout


class SessionGuard:
    """ASGI guard in front of the Dash app: a valid session, and the page's scope for pages.

    Page loads without a session are redirected to /login?next=...; Dash's XHRs get 401 JSON.
    """

    def __init__(self, app: ASGIApp, *, get_services: ServicesGetter) -> None:
        self.app = app
        self.get_services = get_services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == "/_favicon.ico":  # the login page shows it before anyone signs in
            await self.app(scope, receive, send)
            return
        services = self.get_services()
        if services is None:
            await JSONResponse(error_body("unavailable", "starting up"), 503)(scope, receive, send)
            return
        request = Request(scope)
        principal = await _run_sync(
            principal_from_cookie, services, request.cookies.get(COOKIE_NAME)
        )
        is_page = not path.startswith(("/_dash", "/assets", "/_favicon", "/_reload"))
        if principal is None:
            if is_page:
                target = "/login?" + urllib.parse.urlencode({"next": path})
                await RedirectResponse(target, status_code=303)(scope, receive, send)
            else:
                await JSONResponse(
                    error_body("unauthenticated", "sign in at /login"),
                    401,
                )(scope, receive, send)
            return
        if is_page:
            for prefix, needed, title in CONSOLES:
                if (path == prefix or path.startswith(prefix + "/")) and not principal.has(needed):
                    await HTMLResponse(
                        f"<h1>403</h1><p>{html.escape(title)} needs the scope "
                        f"{needed.value}; {html.escape(principal.describe())} does not have it. "
                        '<a href="/logout">Sign in as someone else</a></p>',
                        403,
                    )(scope, receive, send)
                    return
        state = scope.setdefault("state", {})
        state["principal"] = principal
        # Callbacks run on a worker thread; they hand bus work (async) to this loop.
        state["loop"] = asyncio.get_running_loop()
        await self.app(scope, receive, send)


async def _run_sync(func: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(func, *args)

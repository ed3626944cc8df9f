"""The dashboards in Chromium: sign in on the login page, see the console, no console errors."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import auth
from core.db import Database
from tests.conftest import make_settings
from tests.dashboards.browser import chromium, serving

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[str, Database]]:
    shutil.copyfile(sqlite_template, tmp_path / "vigil.db")
    settings = make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'vigil.db'}")
    database = Database(settings.effective_database_url)
    with serving(settings) as url:
        yield url, database
    database.dispose()


@pytest.fixture
def browser() -> Iterator[object]:
    with chromium() as instance:
        yield instance


def _create(database: Database, name: str, role: str) -> str:
    with database.session() as session:
        _, password = auth.create_user(session, name=name, role=role)
    assert password
    return password


def test_moderator_signs_in_and_sees_the_review_console(server, browser) -> None:  # type: ignore[no-untyped-def]
    url, database = server
    password = _create(database, "mod-lu", "moderator")
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(url + "/review")
    assert page.url.startswith(url + "/login?next=")
    page.fill("#username", "mod-lu")
    page.fill("#password", "wrong password!")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text() == "user name or password is wrong"
    errors.clear()  # the refused sign-in is a 401, which Chromium logs as an error

    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/review")
    page.wait_for_selector("#review-whoami:has-text('Signed in as mod-lu')")
    assert "mod-lu" in page.inner_text("#review-team")
    assert errors == [], errors

    # A moderator has no analytics scope: the page says so instead of rendering.
    response = page.goto(url + "/analytics")
    assert response is not None
    assert response.status == 403
    assert "analytics:read" in page.content()

    page.goto(url + "/logout")
    page.goto(url + "/review")
    assert page.url.startswith(url + "/login")


def test_analyst_sees_charts(server, browser) -> None:  # type: ignore[no-untyped-def]
    url, database = server
    password = _create(database, "analyst-kim", "analyst")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/login")
    page.fill("#username", "analyst-kim")
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/analytics")
    # An empty lake still gives the overview its cards and charts, at zero.
    page.wait_for_selector("#analytics-overview-kpis .kpi")
    page.wait_for_selector("#analytics-overview-daily .main-svg")
    assert errors == []

"""The analytics app in Chromium, against the real server over a lake of known events.

The lake holds eight weeks of synthetic events ending today (the default range is the last 28
days, with the 28 before it as the previous period), and the metadata database holds the
catalogue's users and videos. Expected numbers are computed here from the generated events with
polars, independently of the insight queries.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from sqlalchemy import insert

from analytics import Lake, synthetic
from core import auth
from core.auth import User
from core.db import Database
from core.storage import open_store_from_settings
from ingest import Video
from tests.conftest import make_settings
from tests.dashboards.browser import chromium, serving

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DAYS = 56
#: Each page, and what appears once its callbacks have answered (a table or cards they fill).
PAGES = {
    "/analytics": "#analytics-overview-kpis .kpi",
    "/analytics/trends": "#analytics-trends-table table",
    "/analytics/funnels": "#analytics-funnels-table table",
    "/analytics/retention": "#analytics-retention-table table",
    "/analytics/videos": "#analytics-videos-metrics .kpi",
    "/analytics/creators": "#analytics-creators-table table",
    "/analytics/regions": "#analytics-regions-map .choroplethlocation",
    "/analytics/sql": "#analytics-sql-query",
}


@dataclass(frozen=True)
class Site:
    url: str
    database: Database
    events: pl.DataFrame  # the lake's rows, with event_date and actor_id
    today: dt.date


@pytest.fixture(scope="module")
def known_events() -> tuple[synthetic.Catalog, pa.Table, dt.date]:
    today = dt.datetime.now(dt.UTC).date()
    start = today - dt.timedelta(days=DAYS - 1)
    catalog = synthetic.synthetic_catalog(users=300, videos=60, start=start, days=DAYS, seed=11)
    table = pa.concat_tables(
        synthetic.generate_events(
            catalog,
            events=24_000,
            start=start,
            days=DAYS,
            seed=11,
            duplicates=0.0,
            bots=2,
            mark_bots=True,
        )
    )
    return catalog, table, today


def _store_catalog(database: Database, catalog: synthetic.Catalog) -> None:
    """The catalogue's users and videos in the metadata database, where the engine reads them."""
    creators = set(catalog.videos.column("creator_id").to_pylist())
    users = [
        {
            "id": u["user_id"],
            "name": u["name"],
            "role": "creator" if u["user_id"] in creators else "viewer",
            "country": u["country"],
            "language": u["language"],
            "created_at": u["created_at"],
            "is_active": True,
        }
        for u in catalog.users.to_pylist()
    ]
    videos = [
        {
            "id": v["video_id"],
            "creator_id": v["creator_id"],
            "caption": v["caption"] or "",
            "hashtags": v["hashtags"] or [],
            "sound_name": v["sound"],
            "language": v["language"],
            "region": v["region"],
            "state": v["state"],
            "created_at": v["created_at"],
            "duration_s": v["duration_ms"] / 1000,
        }
        for v in catalog.videos.to_pylist()
    ]
    with database.session() as session:
        session.execute(insert(User), users)
        session.execute(insert(Video), videos)


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    known_events: tuple[Any, pa.Table, dt.date],
) -> Iterator[Site]:
    """One server for the module: the tests only read, each as a user of its own."""
    catalog, table, today = known_events
    tmp_path = tmp_path_factory.mktemp("analytics-site")
    shutil.copyfile(sqlite_template, tmp_path / "vigil.db")
    settings = make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'vigil.db'}")
    database = Database(settings.effective_database_url)
    _store_catalog(database, catalog)
    assert Lake(open_store_from_settings(settings)).append(table, sequence=1)
    events = pl.from_arrow(table).with_columns(
        event_date=pl.col("ts").dt.date(),
        actor_id=pl.coalesce("user_id", "device_id"),
    )
    with serving(settings) as url:
        yield Site(url, database, events, today)  # type: ignore[arg-type]
    database.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


@dataclass
class Watch:
    """What the page did: console errors, failed requests, every URL it asked for."""

    errors: list[str]
    failed: list[str]
    requests: list[str]


def _signed_in(site: Site, browser: Any, role: str = "analyst") -> tuple[Any, Watch]:
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    with site.database.session() as session:
        _, password = auth.create_user(session, name=name, role=role)
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    watch = Watch([], [], [])
    page.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    page.on("request", lambda r: watch.requests.append(r.url))
    # A request cut short by the test's own next navigation is not the app failing.
    page.on(
        "requestfailed",
        lambda r: None if r.failure == "net::ERR_ABORTED" else watch.failed.append(r.url),
    )
    page.on(
        "response",
        lambda r: watch.failed.append(f"{r.url} {r.status}") if r.status >= 400 else None,
    )
    page.goto(site.url + "/login")
    page.fill("#username", name)
    page.fill("#password", password or "")
    page.click("button[type=submit]")
    if role == "analyst":  # lands on the overview: let it finish before going elsewhere
        page.wait_for_selector("#analytics-overview-kpis .kpi", state="attached")
    page.wait_for_load_state("networkidle")
    return page, watch


def _default_range(site: Site) -> tuple[dt.date, dt.date]:
    return site.today - dt.timedelta(days=27), site.today


def _human(site: Site, *, region: str | None = None) -> pl.DataFrame:
    start, end = _default_range(site)
    frame = site.events.filter(~pl.col("is_bot"), pl.col("event_date").is_between(start, end))
    return frame.filter(pl.col("region") == region) if region else frame


def _kpi(page: Any, metric: str) -> str:
    return page.inner_text(f"#analytics-overview-kpi-{metric}")


def _wait_kpi(page: Any, metric: str, expected: str) -> None:
    page.wait_for_function(
        "([id, text]) => document.getElementById(id)?.innerText === text",
        arg=[f"analytics-overview-kpi-{metric}", expected],
    )


def _daily_views(page: Any) -> dict[str, int]:
    """The views series of the daily chart, as the browser holds it."""
    data = page.evaluate(
        "() => document.querySelector('#analytics-overview-daily .js-plotly-plot').data"
    )
    views = next(trace for trace in data if trace["name"] == "Views")
    return {str(x)[:10]: int(y) for x, y in zip(views["x"], views["y"], strict=True)}


def _choose(page: Any, dropdown: str, option: str) -> None:
    page.click(f"#{dropdown}")
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def test_every_page_renders_without_errors_and_nothing_leaves_the_machine(
    site: Site, browser: Any, tmp_path: Path
) -> None:
    page, watch = _signed_in(site, browser)
    for path, ready in PAGES.items():
        page.goto(site.url + path)
        page.wait_for_selector(ready, state="attached")
        page.wait_for_load_state("networkidle")
        assert page.inner_text(f"#{_prefix(path)}-error") == "", path
        page.screenshot(
            path=str(tmp_path / f"{path.strip('/').replace('/', '-')}.png"), full_page=True
        )
    assert watch.errors == []
    assert watch.failed == []
    outside = [u for u in watch.requests if not u.startswith(site.url + "/")]
    assert outside == []
    # The world map's outlines came from the app itself.
    assert site.url + "/assets/topojson/world_110m.json" in watch.requests


def _prefix(path: str) -> str:
    name = path.removeprefix("/analytics").strip("/") or "overview"
    return f"analytics-{name}"


def test_a_region_filter_changes_the_numbers_and_the_url_keeps_them(
    site: Site, browser: Any
) -> None:
    page, watch = _signed_in(site, browser)
    page.goto(site.url + "/analytics")
    everyone = _human(site)
    all_views = everyone.filter(pl.col("event_type") == "view_start").height
    _wait_kpi(page, "views", f"{all_views:,}")
    assert _kpi(page, "active_users") == f"{everyone['actor_id'].n_unique():,}"

    # The region with the second most views, so the numbers surely change.
    ranked = (
        everyone.filter(pl.col("event_type") == "view_start")
        .group_by("region")
        .len()
        .sort("len", descending=True)
    )
    region = ranked["region"][1]
    _choose(page, "analytics-overview-region", region)
    chosen = _human(site, region=region)
    views = chosen.filter(pl.col("event_type") == "view_start")
    _wait_kpi(page, "views", f"{views.height:,}")
    assert _kpi(page, "active_users") == f"{chosen['actor_id'].n_unique():,}"
    page.wait_for_url(re.compile(rf"region={region}"))
    # The links to the other pages carry the filters along.
    trends_link = page.get_attribute("#analytics-overview-nav-1", "href") or ""
    assert trends_link.startswith("/analytics/trends?")
    assert f"region={region}" in trends_link
    expected_daily = {
        str(day): count for day, count in views.group_by("event_date").len().iter_rows()
    }
    shown = _daily_views(page)
    assert {d: v for d, v in shown.items() if v} == expected_daily

    # The URL alone restores the view: same filters, same numbers, same chart.
    query = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    start, end = _default_range(site)
    assert query == {"start": [str(start)], "end": [str(end)], "region": [region]}
    shared = page.url
    page.goto(site.url + "/analytics/trends")  # somewhere else first
    page.wait_for_selector("#analytics-trends-chart .main-svg")
    page.goto(shared)
    _wait_kpi(page, "views", f"{views.height:,}")
    assert page.inner_text("#analytics-overview-region") == region
    assert _daily_views(page) == shown
    assert watch.errors == []


def test_page_options_live_in_the_url(site: Site, browser: Any) -> None:
    page, watch = _signed_in(site, browser)
    page.goto(site.url + "/analytics/trends")
    page.wait_for_selector("#analytics-trends-chart .main-svg")
    _choose(page, "analytics-trends-interval", "week")
    _choose(page, "analytics-trends-breakdown", "platform")
    page.wait_for_url(re.compile(r"interval=week.*breakdown=platform"))
    page.wait_for_function(
        "() => document.querySelector('#analytics-trends-chart .js-plotly-plot')?.data?.length > 1"
    )
    names = page.evaluate(
        "() => document.querySelector('#analytics-trends-chart .js-plotly-plot')"
        ".data.map(t => t.name).sort()"
    )
    platforms = sorted(
        _human(site).filter(pl.col("event_type") == "view_start")["platform"].unique()
    )
    assert names == platforms
    page.reload()
    page.wait_for_function(
        "() => document.querySelector('#analytics-trends-chart .js-plotly-plot')?.data?.length > 1"
    )
    assert page.inner_text("#analytics-trends-interval") == "week"
    assert page.inner_text("#analytics-trends-breakdown").startswith("platform")
    assert watch.errors == []


def test_csv_download_holds_the_rows_of_the_table(site: Site, browser: Any) -> None:
    page, watch = _signed_in(site, browser)
    page.goto(site.url + "/analytics")
    page.wait_for_selector("#analytics-overview-top-regions table")
    shown = [
        [cell.strip() for cell in row.split("\t")]
        for row in page.inner_text("#analytics-overview-top-regions tbody").splitlines()
        if row.strip()
    ]
    with page.expect_download() as info:
        page.click("#analytics-overview-block-top_regions .csv-button")
    download = info.value
    assert download.suggested_filename == "vigil-analytics-overview-top_regions.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert [r["region"] for r in rows] == [r[0] for r in shown]
    assert [f"{int(r['views']):,}" for r in rows] == [r[1] for r in shown]
    views = _human(site).filter(pl.col("event_type") == "view_start").group_by("region").len()
    expected = dict(views.iter_rows())
    assert {r["region"]: int(r["views"]) for r in rows} == {
        r["region"]: expected[r["region"]] for r in rows
    }
    assert watch.errors == []


def test_mistakes_are_shown_on_the_page(site: Site, browser: Any) -> None:
    page, watch = _signed_in(site, browser)
    page.goto(site.url + "/analytics/funnels?steps=view_start")
    page.wait_for_selector("#analytics-funnels-error:has-text('steps')")

    page.goto(site.url + "/analytics/sql")
    page.fill("#analytics-sql-query", "DELETE FROM events")
    page.click("#analytics-sql-run")
    page.wait_for_selector("#analytics-sql-error:not(:empty)")
    assert "read-only" in page.inner_text("#analytics-sql-error").lower() or "DELETE" in (
        page.inner_text("#analytics-sql-error")
    )

    page.fill(
        "#analytics-sql-query",
        "SELECT event_type, count(*) AS n FROM events WHERE NOT is_bot GROUP BY 1 ORDER BY 1",
    )
    page.click("#analytics-sql-run")
    page.wait_for_selector("#analytics-sql-table table")
    assert page.inner_text("#analytics-sql-error") == ""
    page.wait_for_url(re.compile(r"q=SELECT"))
    counts = site.events.filter(~pl.col("is_bot")).group_by("event_type").len().sort("event_type")
    shown = page.inner_text("#analytics-sql-table tbody").splitlines()
    assert [line.split("\t")[0] for line in shown] == counts["event_type"].to_list()
    assert watch.errors == []


def test_other_roles_get_403(site: Site, browser: Any) -> None:
    page, _watch = _signed_in(site, browser, role="moderator")
    for path in ("/analytics", "/analytics/trends", "/analytics/sql"):
        response = page.goto(site.url + path)
        assert response is not None
        assert response.status == 403
        assert "analytics:read" in page.content()

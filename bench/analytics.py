"""Analytics benchmark: Vigil's insight queries (DuckDB over the lake) against pandas.

    .venv/bin/python -m bench.analytics --events 1000000 [--events 10000000 ...] [--dir PATH]
                                        [--days 28] [--runs 5] [--pandas-runs 1] [--no-pandas]
                                        [--flushes 100]

Per ``--events`` N: builds (or reuses, when PATH/lake-N was built with the same options) a lake
of N synthetic events (``analytics.synthetic``: no duplicates, 5 bots marked as the collector
marks them) through ``analytics.Lake`` (Parquet partitions by day, zstd, rollups), then times
through ``Analytics.cursor()`` and the insight functions, warm, the median of ``--runs``:

- the overview page (its four charts: KPIs against the previous period, the daily series, top
  videos, top regions) over the second half of the range;
- a funnel view_start -> watch -> like -> share within one hour, over the whole range;
- weekly retention, four periods, over the whole range.

Each of the overview's four charts is also timed on its own (DuckDB only). Then, per size, one
day's events are written as ``--flushes`` sink flushes and compacted, to time compaction.

In the same run pandas 3 (pyarrow engine) computes the same answers from the same live Parquet
files, reading only the columns it needs (ids as categoricals), and the table gives the
DuckDB/pandas time ratio and whether the answers agree (numbers compared with a relative
tolerance of 1e-9). Prints a table, the lake's bytes per event and a markdown block for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from analytics import (
    Analytics,
    Filters,
    Lake,
    Metadata,
    funnel,
    overview,
    region_metrics,
    retention,
    top_videos,
)
from analytics.insights.overview import _daily, _kpis
from analytics.lake import EVENTS, iter_event_batches
from analytics.schema import LAKE_SCHEMA
from analytics.synthetic import (
    Catalog,
    catalog_size,
    generate_events,
    synthetic_catalog,
    write_catalog,
)
from core.storage import LocalObjectStore

console = Console()

START = date(2025, 3, 3)  # a Monday: the weekly retention periods are whole weeks
BOTS = 5
FUNNEL_STEPS = ("view_start", "watch", "like", "share")
FUNNEL_WINDOW_SECONDS = 3_600
RETENTION_PERIODS = 4
APPEND_ROWS = 1_000_000
MS_PER_HOUR = 3_600_000.0


@dataclass
class Row:
    events: int
    scenario: str
    duckdb_ms: float | None = None
    pandas_ms: float | None = None
    agree: str = ""
    note: str = ""

    @property
    def ratio(self) -> str:
        if self.duckdb_ms is None or not self.pandas_ms:
            return ""
        return f"{self.duckdb_ms / self.pandas_ms:.3f}"


@dataclass
class BuiltLake:
    lake: Lake
    catalog: Catalog
    days: int
    build_seconds: float | None  # None when reused
    bytes_per_event: float
    event_paths: dict[date, list[str]] = field(default_factory=dict)


# -- building the lake --------------------------------------------------------------------------


def build_lake(root: Path, *, events: int, days: int, seed: int) -> BuiltLake:
    """The lake of ``events`` under ``root``, reused when a previous run built the same one."""
    stamp = {
        "events": events,
        "days": days,
        "seed": seed,
        "start": START.isoformat(),
        "columns": LAKE_SCHEMA.names,  # a lake written before a schema change is rebuilt
        "layout": "compacted",
    }
    stamp_path = root / "bench.json"
    users, videos = catalog_size(events=events, days=days)
    catalog = synthetic_catalog(users=users, videos=videos, start=START, days=days, seed=seed)
    reused = stamp_path.exists() and json.loads(stamp_path.read_text()) == stamp
    started = time.perf_counter()
    if not reused:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        lake = Lake(LocalObjectStore(root / "store"))
        tables = generate_events(
            catalog,
            events=events,
            start=START,
            days=days,
            seed=seed,
            duplicates=0.0,  # the collector drops them before the lake
            bots=BOTS,
            mark_bots=True,
        )
        for sequence, batch in enumerate(iter_event_batches(tables, rows=APPEND_ROWS), start=1):
            lake.append(batch, sequence=sequence)
            console.print(f"  appended {batch.num_rows:,} events", style="dim")
        # What the sink's maintenance leaves behind: every day compacted (one sorted file).
        lake.compact(force=True)
        lake.vacuum(now=datetime.now(UTC) + timedelta(seconds=lake.grace_seconds))
        write_catalog(catalog, root / "metadata")
        stamp_path.write_text(json.dumps(stamp))
    lake = Lake(LocalObjectStore(root / "store"))
    stats = lake.stats()
    if stats.events != events:
        raise RuntimeError(f"the lake under {root} holds {stats.events} events, not {events}")
    paths: dict[date, list[str]] = {}
    for file in lake.manifest().files(EVENTS):
        paths.setdefault(file.event_date, []).append(str(lake.local_path(file.key)))
    return BuiltLake(
        lake=lake,
        catalog=catalog,
        days=days,
        build_seconds=None if reused else time.perf_counter() - started,
        bytes_per_event=stats.bytes_per_event,
        event_paths=paths,
    )


# -- timing ------------------------------------------------------------------------------------


def timed(work: Callable[[], Any], runs: int, *, warm: bool) -> tuple[float, Any]:
    """Median milliseconds of ``runs`` calls (after one untimed call when ``warm``), and the
    last answer."""
    answer = work() if warm else None
    times = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        answer = work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), answer


# -- pandas: the same answers from the Parquet files --------------------------------------------


def read_events(built: BuiltLake, first: date, last: date, columns: list[str]) -> pd.DataFrame:
    """Human events of ``first``..``last`` with ``event_date`` and an integer ``actor``."""
    paths = [
        p for day, files in sorted(built.event_paths.items()) if first <= day <= last for p in files
    ]
    wanted = sorted({*columns, "user_id", "device_id", "is_bot", "ts"})
    ids = [c for c in wanted if c in ("user_id", "device_id", "video_id")]
    table = pq.read_table(paths, columns=wanted, read_dictionary=ids)
    frame = table.to_pandas()
    frame = frame[~frame["is_bot"]]
    users = frame["user_id"].cat.codes.to_numpy(np.int64)
    devices = frame["device_id"].cat.codes.to_numpy(np.int64)
    frame["actor"] = np.where(users >= 0, users, len(frame["user_id"].cat.categories) + devices)
    frame["event_date"] = frame["ts"].dt.tz_convert("UTC").dt.date
    return frame


def pandas_overview(built: BuiltLake, filters: Filters) -> dict[str, pd.DataFrame]:
    previous = filters.previous()
    frame = read_events(
        built, previous.start, filters.end, ["event_type", "watched_ms", "video_id", "region"]
    )
    current = frame[frame["event_date"] >= filters.start]
    past = frame[frame["event_date"] < filters.start]
    videos = built.catalog.videos.to_pandas()
    users = built.catalog.users.to_pandas()

    def measures(part: pd.DataFrame) -> dict[str, float]:
        watching = part[part["video_id"].notna()]
        views = float((watching["event_type"] == "view_start").sum())
        watched = float(watching["watched_ms"].sum())
        return {
            "active_users": float(part["actor"].nunique()),
            "watch_hours": watched / MS_PER_HOUR,
            "views": views,
            "avg_watch_seconds": watched / 1000 / views if views else math.nan,
        }

    created = videos["created_at"]
    next_day = pd.Timestamp(filters.end + timedelta(days=1), tz="UTC")
    uploads = float(
        ((created >= pd.Timestamp(filters.start, tz="UTC")) & (created < next_day)).sum()
    )
    previous_uploads = float(
        (
            (created >= pd.Timestamp(previous.start, tz="UTC"))
            & (created < pd.Timestamp(filters.start, tz="UTC"))
        ).sum()
    )
    now, before = measures(current), measures(past)
    kpis = pd.DataFrame(
        {
            "metric": [*now, "uploads"],
            "value": [*now.values(), uploads],
            "previous": [*before.values(), previous_uploads],
        }
    )

    watching = current[current["video_id"].notna()].assign(
        view=lambda f: f["event_type"] == "view_start"
    )
    daily = (
        pd.DataFrame(
            {
                "active_users": current.groupby("event_date")["actor"].nunique(),
                "views": watching.groupby("event_date")["view"].sum(),
                "watch_hours": watching.groupby("event_date")["watched_ms"].sum() / MS_PER_HOUR,
            }
        )
        .reindex([filters.start + timedelta(days=d) for d in range(filters.days)], fill_value=0)
        .rename_axis("event_date")
        .reset_index()
    )

    watching = watching.assign(complete=lambda f: f["event_type"] == "complete")
    per_video = watching.groupby("video_id", observed=True).agg(
        views=("view", "sum"), completes=("complete", "sum"), watched_ms=("watched_ms", "sum")
    )
    per_video = per_video[per_video["views"] > 0].reset_index()
    per_video["video_id"] = per_video["video_id"].astype(str)
    top = per_video.sort_values(["views", "video_id"], ascending=[False, True]).head(10)
    top = top.merge(videos[["video_id", "caption", "creator_id"]], on="video_id", how="left")
    top = top.merge(
        users[["user_id", "name"]].rename(
            columns={"user_id": "creator_id", "name": "creator_name"}
        ),
        on="creator_id",
        how="left",
    )
    top["watch_hours"] = top["watched_ms"] / MS_PER_HOUR
    top["completion_rate"] = top["completes"] / top["views"]
    top_videos = top[
        [
            "video_id",
            "caption",
            "creator_id",
            "creator_name",
            "views",
            "watch_hours",
            "completion_rate",
        ]
    ]

    regions = pd.DataFrame(
        {
            "views": watching.groupby("region")["view"].sum(),
            "active_users": current.groupby("region")["actor"].nunique(),
            "watch_hours": watching.groupby("region")["watched_ms"].sum() / MS_PER_HOUR,
        }
    ).fillna(0)
    regions = regions.rename_axis("region").reset_index()
    regions = regions.sort_values(
        ["views", "active_users", "region"], ascending=[False, False, True]
    ).head(10)
    return {"kpis": kpis, "daily": daily, "top_videos": top_videos, "top_regions": regions}


def pandas_funnel(built: BuiltLake, filters: Filters) -> pd.DataFrame:
    """First step-1 event per actor in the range, then the earliest of each next step strictly
    after the previous one and within the window of the first (merge_asof, forward)."""
    window_us = FUNNEL_WINDOW_SECONDS * 1_000_000
    scan_end = filters.end + timedelta(days=math.ceil(FUNNEL_WINDOW_SECONDS / 86_400))
    frame = read_events(built, filters.start, scan_end, ["event_type"])
    frame = frame[frame["event_type"].isin(FUNNEL_STEPS)]
    frame["us"] = (
        frame["ts"].astype("int64") // 1_000
        if frame["ts"].dt.unit == "ns"
        else (frame["ts"].astype("int64"))
    )
    entries = frame[(frame["event_type"] == FUNNEL_STEPS[0]) & (frame["event_date"] <= filters.end)]
    reached = entries.groupby("actor")["us"].min().rename("us").reset_index()
    reached["us1"] = reached["us"]
    rows = [(1, FUNNEL_STEPS[0], len(reached), math.nan)]
    for index, step in enumerate(FUNNEL_STEPS[1:], start=2):
        candidates = frame.loc[frame["event_type"] == step, ["actor", "us"]].sort_values("us")
        candidates = candidates.rename(columns={"us": "next_us"})
        candidates["at"] = candidates["next_us"]
        merged = pd.merge_asof(
            reached.sort_values("us"),
            candidates,
            left_on="us",
            right_on="at",
            by="actor",
            direction="forward",
            allow_exact_matches=False,
        )
        merged = merged[
            merged["next_us"].notna() & (merged["next_us"] <= merged["us1"] + window_us)
        ]
        seconds = (merged["next_us"] - merged["us"]) / 1e6
        rows.append(
            (index, step, len(merged), float(seconds.median()) if len(merged) else math.nan)
        )
        reached = pd.DataFrame(
            {
                "actor": merged["actor"],
                "us": merged["next_us"].astype("int64"),
                "us1": merged["us1"],
            }
        )
    result = pd.DataFrame(
        rows, columns=["step_index", "step", "actors", "median_seconds_to_convert"]
    )
    first = result["actors"].iloc[0]
    result["conversion_from_start"] = result["actors"] / first if first else math.nan
    result["conversion_from_previous"] = result["actors"] / result["actors"].shift(1)
    return result


def pandas_retention(built: BuiltLake, filters: Filters) -> pd.DataFrame:
    frame = read_events(built, filters.start, filters.end, [])
    dates = pd.to_datetime(frame["event_date"])
    frame = pd.DataFrame(
        {
            "actor": frame["actor"].to_numpy(),
            "p": (dates - pd.to_timedelta(dates.dt.day_of_week, "D")),
        }
    )
    visits = frame.drop_duplicates()
    cohorts = visits.groupby("actor")["p"].min().rename("cohort")
    visits = visits.join(cohorts, on="actor")
    visits["period"] = (visits["p"] - visits["cohort"]).dt.days // 7
    visits = visits[visits["period"] <= RETENTION_PERIODS]
    retained = visits.groupby(["cohort", "period"]).size().rename("retained")
    sizes = cohorts.value_counts().rename("cohort_size")
    last_period = pd.Timestamp(filters.end - timedelta(days=filters.end.weekday()))
    grid = pd.MultiIndex.from_product(
        [sizes.index.sort_values(), range(RETENTION_PERIODS + 1)], names=["cohort", "period"]
    ).to_frame(index=False)
    grid = grid[grid["cohort"] + pd.to_timedelta(grid["period"] * 7, "D") <= last_period]
    grid = grid.join(sizes, on="cohort").join(retained, on=["cohort", "period"])
    grid["retained"] = grid["retained"].fillna(0).astype("int64")
    grid["rate"] = grid["retained"] / grid["cohort_size"]
    return grid.sort_values(["cohort", "period"]).reset_index(drop=True)


# -- comparing answers -----------------------------------------------------------------------


def same(duck: pl.DataFrame, panda: pd.DataFrame, keys: list[str], values: list[str]) -> bool:
    """Equal keys in the same order, numbers equal within 1e-9 (relative); nulls as NaN."""
    left = duck.select([*keys, *values]).to_pandas()
    right = panda[[*keys, *values]].reset_index(drop=True)
    if len(left) != len(right):
        return False
    for key in keys:
        a, b = left[key], right[key]
        if pd.api.types.is_datetime64_any_dtype(b) or isinstance(b.iloc[0] if len(b) else 0, date):
            a, b = pd.to_datetime(a).dt.tz_localize(None), pd.to_datetime(b)
        if [str(x) for x in a] != [str(x) for x in b]:
            return False
    for column in values:
        a = left[column].to_numpy(dtype=float, na_value=np.nan)
        b = pd.to_numeric(right[column]).to_numpy(dtype=float, na_value=np.nan)
        if not np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True):
            return False
    return True


def agree_overview(duck: Any, panda: dict[str, pd.DataFrame]) -> str:
    checks = [
        same(duck.kpis, panda["kpis"], ["metric"], ["value", "previous"]),
        same(duck.daily, panda["daily"], ["event_date"], ["active_users", "views", "watch_hours"]),
        same(
            duck.top_videos,
            panda["top_videos"],
            ["video_id", "caption", "creator_id", "creator_name"],
            ["views", "watch_hours", "completion_rate"],
        ),
        same(
            duck.top_regions,
            panda["top_regions"],
            ["region"],
            ["views", "active_users", "watch_hours"],
        ),
    ]
    return "yes" if all(checks) else f"no ({sum(checks)}/4 charts)"


def agree_funnel(duck: pl.DataFrame, panda: pd.DataFrame) -> str:
    values = ["actors", "conversion_from_start", "conversion_from_previous"]
    values.append("median_seconds_to_convert")
    return "yes" if same(duck, panda, ["step_index", "step"], values) else "no"


def agree_retention(duck: pl.DataFrame, panda: pd.DataFrame) -> str:
    values = ["cohort_size", "retained", "rate"]
    return "yes" if same(duck, panda, ["cohort", "period"], values) else "no"


# -- the run ---------------------------------------------------------------------------------


def bench_size(args: argparse.Namespace, events: int) -> tuple[list[Row], BuiltLake]:
    console.print(f"[bold]{events:,} events[/bold]")
    built = build_lake(args.dir / f"lake-{events}", events=events, days=args.days, seed=args.seed)
    if built.build_seconds is not None:
        console.print(
            f"  built in {built.build_seconds:.1f} s "
            f"({events / built.build_seconds:,.0f} events/s, generation and lake writes)"
        )
    catalog = built.catalog
    analytics = Analytics(
        built.lake, metadata=lambda: Metadata(videos=catalog.videos, users=catalog.users)
    )
    end = START + timedelta(days=args.days - 1)
    whole = Filters(start=START, end=end)
    recent = Filters(start=START + timedelta(days=args.days // 2), end=end)
    cursor = analytics.cursor()
    scenarios: list[
        tuple[str, Callable[[], Any] | None, Callable[[], Any] | None, Callable | None]
    ] = [
        (
            "overview (4 charts, last half of the range)",
            lambda: overview(cursor, recent),
            lambda: pandas_overview(built, recent),
            agree_overview,
        ),
        (
            f"funnel {' > '.join(FUNNEL_STEPS)}, 1 h",
            lambda: funnel(cursor, whole, steps=FUNNEL_STEPS, window_seconds=FUNNEL_WINDOW_SECONDS),
            lambda: pandas_funnel(built, whole),
            agree_funnel,
        ),
        (
            f"retention weekly, {RETENTION_PERIODS} periods",
            lambda: retention(cursor, whole, interval="week", periods=RETENTION_PERIODS),
            lambda: pandas_retention(built, whole),
            agree_retention,
        ),
    ]
    # Each chart of the overview on its own (DuckDB only; the pandas check is per page).

    for chart, work in (
        ("KPIs vs previous period", lambda: _kpis(cursor, recent)),
        ("daily series", lambda: _daily(cursor, recent)),
        ("top videos", lambda: top_videos(cursor, recent, limit=10)),
        ("top regions", lambda: region_metrics(cursor, recent)),
    ):
        scenarios.append((f"  overview chart: {chart}", work, None, None))
    rows = []
    for name, duck_work, pandas_work, compare in scenarios:
        assert duck_work is not None
        duck_ms, duck_answer = timed(duck_work, args.runs, warm=True)
        row = Row(events, name, duckdb_ms=duck_ms)
        if not args.no_pandas and pandas_work is not None and compare is not None:
            pandas_ms, pandas_answer = timed(pandas_work, args.pandas_runs, warm=False)
            row.pandas_ms = pandas_ms
            row.agree = compare(duck_answer, pandas_answer)
        console.print(
            f"  {name}: duckdb {duck_ms:,.1f} ms"
            + ("" if row.pandas_ms is None else f", pandas {row.pandas_ms:,.0f} ms, {row.agree}")
        )
        rows.append(row)
    analytics.close()
    return rows, built


def bench_compaction(root: Path, *, events: int, days: int, seed: int, flushes: int) -> str:
    """Compact one day of a lake of ``events`` written as ``flushes`` sink flushes."""
    day_events = events // days
    users, videos = catalog_size(events=events, days=days)
    catalog = synthetic_catalog(users=users, videos=videos, start=START, days=1, seed=seed)
    shutil.rmtree(root, ignore_errors=True)
    lake = Lake(LocalObjectStore(root), compact_min_files=2)
    tables = generate_events(
        catalog, events=day_events, start=START, days=1, seed=seed, duplicates=0.0
    )
    day = pa.concat_tables(list(tables))
    per_flush = -(-day.num_rows // flushes)
    for sequence, start in enumerate(range(0, day.num_rows, per_flush), start=1):
        lake.append(day.slice(start, per_flush), sequence=sequence)
    before = lake.stats()
    started = time.perf_counter()
    lake.compact(force=True)
    seconds = time.perf_counter() - started
    after = lake.stats()
    shutil.rmtree(root, ignore_errors=True)
    return (
        f"Compaction of one day ({before.events:,} events, the day of a {events:,}-event lake): "
        f"{before.event_files} flush files ({before.bytes_per_event:.1f} bytes/event) -> "
        f"{after.event_files} file ({after.bytes_per_event:.1f} bytes/event) in "
        f"{seconds:.2f} s ({before.events / seconds:,.0f} events/s), rollups recomputed"
    )


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
                break
    import duckdb

    return (
        f"{os.cpu_count()} CPUs ({cpu}), {ram}, Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}, pandas {pd.__version__}, pyarrow {pa.__version__}"
    )


def report(rows: list[Row], lakes: dict[int, BuiltLake], argv: list[str]) -> None:
    table = Table("events", "scenario", "duckdb ms", "pandas ms", "ratio", "agree")
    for row in rows:
        table.add_row(
            f"{row.events:,}",
            row.scenario,
            "" if row.duckdb_ms is None else f"{row.duckdb_ms:,.1f}",
            "" if row.pandas_ms is None else f"{row.pandas_ms:,.0f}",
            row.ratio,
            row.agree,
        )
    console.print(table)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Command: `.venv/bin/python -m bench.analytics {' '.join(argv)}`",
        f"Machine: {machine()}; {when}",
        "",
        "| scenario | events | duckdb ms | pandas ms | duckdb/pandas | agree |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        duck = "" if row.duckdb_ms is None else f"{row.duckdb_ms:,.1f}"
        panda = "" if row.pandas_ms is None else f"{row.pandas_ms:,.0f}"
        lines.append(
            f"| {row.scenario} | {row.events:,} | {duck} | {panda} | {row.ratio} | {row.agree} |"
        )
    lines.append("")
    for events, built in lakes.items():
        lines.append(
            f"Lake of {events:,} events over {built.days} days: "
            f"{built.bytes_per_event:.1f} bytes per event on disk (events only, zstd)"
        )
    print("\n" + "\n".join(lines))


def cli() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.analytics", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, action="append", help="lake size; repeatable")
    parser.add_argument(
        "--dir", type=Path, default=Path("var/bench-lakes"), help="where the lakes are built"
    )
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5, help="timed DuckDB runs (median)")
    parser.add_argument("--pandas-runs", type=int, default=1, help="timed pandas runs (median)")
    parser.add_argument("--no-pandas", action="store_true", help="DuckDB timings only")
    parser.add_argument(
        "--flushes",
        type=int,
        default=100,
        help="sink flushes one day is written as, for the compaction figure (0: skip it)",
    )
    args = parser.parse_args()
    args.dir = args.dir.resolve()
    rows: list[Row] = []
    lakes: dict[int, BuiltLake] = {}
    for events in args.events or [1_000_000]:
        size_rows, lakes[events] = bench_size(args, events)
        rows += size_rows
    report(rows, lakes, sys.argv[1:])
    if args.flushes:
        for events in args.events or [1_000_000]:
            print(
                bench_compaction(
                    args.dir / "compaction",
                    events=events,
                    days=args.days,
                    seed=args.seed,
                    flushes=args.flushes,
                )
            )


if __name__ == "__main__":
    cli()

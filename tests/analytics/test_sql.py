"""run_readonly_sql: one read-only statement, a row cap, a time limit."""

from __future__ import annotations

import time

import duckdb
import pytest

from analytics.errors import QueryTimeoutError
from analytics.sql import run_readonly_sql
from core.errors import InvalidInputError

from .conftest import OpenAnalytics, ev


@pytest.fixture
def cur():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT range AS n FROM range(10)")
    yield con.cursor()
    con.close()


def test_select_returns_rows_capped(cur) -> None:
    out = run_readonly_sql(cur, "SELECT n FROM t ORDER BY n", timeout_seconds=5, max_rows=3)
    assert out["n"].to_list() == [0, 1, 2]


@pytest.mark.parametrize(
    "query",
    [
        "WITH x AS (SELECT 1 AS a) SELECT * FROM x",
        "VALUES (1), (2)",
        "FROM t",
        "DESCRIBE t",
        "SHOW TABLES",
        "EXPLAIN SELECT * FROM t",
        "select n from t; ",
    ],
)
def test_read_statements_are_allowed(cur, query) -> None:
    assert run_readonly_sql(cur, query, timeout_seconds=5, max_rows=100).height >= 1


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO t VALUES (1)",
        "CREATE TABLE u AS SELECT 1",
        "COPY t TO '/tmp/vigil-should-not-exist.csv'",
        "ATTACH ':memory:' AS other",
        "PRAGMA version",
        "SELECT 1; SELECT 2",
        "SELECT 1; DROP TABLE t",
        "SET threads = 1",
        "CALL pragma_version()",
        "EXPLAIN ANALYZE INSERT INTO t VALUES (1)",
        "DELETE FROM t",
        "",
        "SELEC 1",
    ],
)
def test_everything_else_is_refused(cur, query) -> None:
    with pytest.raises(InvalidInputError) as caught:
        run_readonly_sql(cur, query, timeout_seconds=5, max_rows=10)
    assert caught.value.details["field"] == "query"
    # nothing ran: the table still has its ten rows and no new table appeared
    assert cur.sql("SELECT count(*) FROM t").fetchall() == [(10,)]
    assert [r[0] for r in cur.sql("SHOW TABLES").fetchall()] == ["t"]


def test_failing_query_names_the_query(cur) -> None:
    with pytest.raises(InvalidInputError) as caught:
        run_readonly_sql(cur, "SELECT nope FROM t", timeout_seconds=5, max_rows=10)
    assert caught.value.details["field"] == "query"
    assert "nope" in caught.value.message


def test_slow_query_is_interrupted_within_the_limit(cur) -> None:
    query = "SELECT count(*) FROM range(1000000) a, range(1000000) b WHERE a.range * b.range = 7"
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError) as caught:
        run_readonly_sql(cur, query, timeout_seconds=0.5, max_rows=10)
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 5
    assert isinstance(caught.value, InvalidInputError)
    assert caught.value.code == "query_timeout"
    assert caught.value.details["timeout_seconds"] == 0.5
    # the cursor is usable again, and a stale interrupt does not hit the next query
    assert run_readonly_sql(cur, "SELECT 42 AS x", timeout_seconds=5, max_rows=1)["x"][0] == 42


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"timeout_seconds": 0, "max_rows": 1}, "timeout_seconds"),
        ({"timeout_seconds": 1, "max_rows": 0}, "max_rows"),
    ],
)
def test_limits_must_be_positive(cur, options, field) -> None:
    with pytest.raises(InvalidInputError) as caught:
        run_readonly_sql(cur, "SELECT 1", **options)
    assert caught.value.details["field"] == field


def test_on_the_sandbox_cursor_files_are_out_of_reach(
    open_analytics: OpenAnalytics, tmp_path
) -> None:
    analytics = open_analytics([ev("view_start", "2026-03-02 10:00:00", "u1", video="v1")])
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    sandbox = analytics.sandbox_cursor()
    rows = run_readonly_sql(
        sandbox, "SELECT count(*) AS n FROM events", timeout_seconds=5, max_rows=1
    )
    assert rows["n"][0] == 1
    # read_csv is a SELECT, so the statement check lets it through; the sandbox stops it
    query = "SELECT * FROM read_csv('" + str(secret) + "')"
    with pytest.raises(InvalidInputError) as caught:
        run_readonly_sql(sandbox, query, timeout_seconds=5, max_rows=1)
    assert "secret.csv" in caught.value.message or "external" in caught.value.message.lower()

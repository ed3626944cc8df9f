"""Analysts' own SQL: one read-only statement, a row cap and a time limit.

Only the statement kinds that read are accepted (SELECT, WITH, VALUES, FROM, DESCRIBE, SHOW,
SUMMARIZE, EXPLAIN of those). What a read may reach (files, the network) is the cursor's
business: run this on ``Analytics.sandbox_cursor()``, which switches external access off.
"""

from __future__ import annotations

import re
import threading

import duckdb
import polars as pl

from core.errors import InvalidInputError

from .errors import QueryTimeoutError

MAX_QUERY_CHARS = 100_000
#: DuckDB parses DESCRIBE, SHOW, SUMMARIZE, VALUES and FROM-first queries as SELECT.
_READ_TYPES = frozenset({duckdb.StatementType.SELECT})
_EXPLAIN = re.compile(r"^\s*explain\s+(?:analy[sz]e\s+)?(?P<inner>.*)$", re.IGNORECASE | re.DOTALL)


def _refuse(message: str, **details: object) -> InvalidInputError:
    return InvalidInputError(message, details={"field": "query", **details})


def _parse(cur: duckdb.DuckDBPyConnection, query: str) -> list[duckdb.Statement]:
    try:
        return list(cur.extract_statements(query))
    except duckdb.Error as exc:
        raise _refuse(f"the query does not parse: {exc}") from exc


def check_readonly(cur: duckdb.DuckDBPyConnection, query: str) -> None:
    """Raise InvalidInputError unless ``query`` is exactly one read-only statement."""
    if not isinstance(query, str) or not query.strip():
        raise _refuse("the query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise _refuse(
            f"the query is longer than {MAX_QUERY_CHARS} characters", limit=MAX_QUERY_CHARS
        )
    statements = _parse(cur, query)
    if len(statements) != 1:
        raise _refuse(f"send one statement at a time, got {len(statements)}")
    statement = statements[0]
    if statement.type == duckdb.StatementType.EXPLAIN:
        # EXPLAIN ANALYZE runs its statement, so what it explains must be a read too.
        match = _EXPLAIN.match(statement.query)
        inner = _parse(cur, match.group("inner")) if match else []
        if len(inner) != 1 or inner[0].type not in _READ_TYPES:
            raise _refuse("only a read-only query can be explained")
        return
    if statement.type not in _READ_TYPES:
        raise _refuse(
            f"only read-only queries are allowed, not {statement.type.name}",
            statement=statement.type.name,
        )


def run_readonly_sql(
    cur: duckdb.DuckDBPyConnection, query: str, *, timeout_seconds: float, max_rows: int
) -> pl.DataFrame:
    """The first ``max_rows`` rows of one read-only ``query``, interrupted after the timeout."""
    if not timeout_seconds > 0:
        raise InvalidInputError(
            "timeout_seconds must be positive", details={"field": "timeout_seconds"}
        )
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise InvalidInputError(
            "max_rows must be a positive whole number", details={"field": "max_rows"}
        )
    check_readonly(cur, query)
    fired = threading.Event()

    def interrupt() -> None:
        """Mark the timeout before interrupting, so the error it causes reads as one."""
        fired.set()
        cur.interrupt()

    timer = threading.Timer(timeout_seconds, interrupt)
    timer.daemon = True
    timer.start()
    try:
        relation = cur.sql(query)
        if relation is None:
            raise _refuse("the query returned no rows to read")
        # The limit goes into the plan, so a huge result is never built only to be cut.
        frame: pl.DataFrame = relation.limit(max_rows).pl()
        return frame
    except duckdb.InterruptException as exc:
        raise QueryTimeoutError(
            f"the query ran longer than {timeout_seconds:g} s and was stopped",
            details={
                "field": "query",
                "limit": "timeout_seconds",
                "timeout_seconds": timeout_seconds,
            },
        ) from exc
    except duckdb.Error as exc:
        if fired.is_set():
            raise QueryTimeoutError(
                f"the query ran longer than {timeout_seconds:g} s and was stopped",
                details={
                    "field": "query",
                    "limit": "timeout_seconds",
                    "timeout_seconds": timeout_seconds,
                },
            ) from exc
        raise _refuse(f"the query failed: {exc}") from exc
    finally:
        timer.cancel()

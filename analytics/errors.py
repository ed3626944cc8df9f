"""Errors of the analytics room beyond core's hierarchy."""

from __future__ import annotations

from core.errors import InvalidInputError


class QueryTimeoutError(InvalidInputError):
    """An analyst's query ran past its time limit and was interrupted (details hold the limit)."""

    code = "query_timeout"

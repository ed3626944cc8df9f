"""HTTP byte ranges (RFC 9110 §14): one range per request, which is what players ask for."""

from __future__ import annotations

import re

from core.errors import RangeNotSatisfiableError

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, *, size: int) -> tuple[int, int] | None:
    """``(start, end_exclusive)`` for a ``Range`` header, None to send the whole object.

    A header that is not a single byte range is ignored (the whole object is sent, as the RFC
    allows); a range outside the object raises ``RangeNotSatisfiableError`` (416).
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0:
            raise _unsatisfiable(header, size)
        return max(0, size - suffix), size
    start = int(first)
    end = size if not last else min(int(last) + 1, size)
    if start >= size or (last and int(last) < start):
        raise _unsatisfiable(header, size)
    return start, end


def _unsatisfiable(header: str, size: int) -> RangeNotSatisfiableError:
    return RangeNotSatisfiableError(
        f"range {header!r} is outside the object of {size} bytes",
        details={"range": header, "size": size},
    )

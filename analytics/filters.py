"""The filters every insight and chart takes: a date range and optional dimension values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from core.errors import InvalidInputError

#: The dimensions an analyst can filter and break down by, as event columns.
DIMENSIONS: tuple[str, ...] = ("region", "platform", "language")


@dataclass(frozen=True)
class Filters:
    """``start`` and ``end`` are UTC dates, both included; empty tuples mean "all"."""

    start: date
    end: date
    regions: tuple[str, ...] = field(default=())
    platforms: tuple[str, ...] = field(default=())
    languages: tuple[str, ...] = field(default=())
    include_bots: bool = False

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidInputError(
                f"the date range ends ({self.end}) before it starts ({self.start})",
                details={"field": "end", "start": str(self.start), "end": str(self.end)},
            )

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The same filters over the period of equal length just before this one."""
        span = timedelta(days=self.days)
        return Filters(
            start=self.start - span,
            end=self.end - span,
            regions=self.regions,
            platforms=self.platforms,
            languages=self.languages,
            include_bots=self.include_bots,
        )

    def where(
        self, *, date_column: str = "event_date", bots: bool = True, alias: str = ""
    ) -> tuple[str, list[Any]]:
        """A SQL condition and its parameters for DuckDB (``?`` placeholders).

        ``bots=False`` leaves out the ``is_bot`` condition, for relations without that column
        (the rollups hold human traffic only).
        """
        prefix = f"{alias}." if alias else ""
        clauses = [f"{prefix}{date_column} BETWEEN ? AND ?"]
        params: list[Any] = [self.start, self.end]
        for column, values in zip(
            DIMENSIONS, (self.regions, self.platforms, self.languages), strict=True
        ):
            if values:
                clauses.append(f"{prefix}{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        if bots and not self.include_bots:
            clauses.append(f"NOT {prefix}is_bot")
        return " AND ".join(clauses), params

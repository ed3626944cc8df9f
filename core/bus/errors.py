"""Bus errors.

BusError (VigilError)
 ├── UnknownTopicError      publish/consume/inspect on a topic that was never declared (404)
 ├── BusUnavailableError    the backend cannot be reached (503)
 └── MessageTooLargeError   a message over the backend's size limit (413)
"""

from __future__ import annotations

from core.errors import NotFoundError, TooLargeError, UnavailableError, VigilError


class BusError(VigilError):
    """Base of every bus error."""

    code = "bus_error"


class UnknownTopicError(BusError, NotFoundError):
    code = "unknown_topic"

    def __init__(self, topic: str, known: list[str]) -> None:
        self.topic = topic
        self.known = known
        listing = ", ".join(known) if known else "none declared yet"
        super().__init__(
            f"unknown topic {topic!r}; known topics: {listing}",
            details={"topic": topic, "known": known},
        )


class BusUnavailableError(BusError, UnavailableError):
    """The bus backend cannot be reached; the message says which URL and why."""

    code = "bus_unavailable"


class MessageTooLargeError(BusError, TooLargeError):
    code = "message_too_large"

    def __init__(self, topic: str, size: int, limit: int) -> None:
        super().__init__(
            f"message for {topic!r} is {size} bytes; the limit is {limit} bytes",
            details={"topic": topic, "size": size, "limit": limit},
        )

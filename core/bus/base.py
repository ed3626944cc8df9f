"""The bus contract shared by every backend.

Delivery is at least once: a message is acknowledged only after its handler returns; a handler
that raises is retried with exponential backoff up to ``max_attempts`` deliveries, then the
message is published to the dead-letter topic ``<topic>.dlq`` with the error and attempt count.
Consumers in one group share a topic's messages; every group receives every message.
"""

from __future__ import annotations

import abc
import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from core.errors import InvalidInputError

DEAD_LETTER_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """The topic that receives ``topic``'s messages after their last failed attempt."""
    return topic + DEAD_LETTER_SUFFIX


@dataclass(frozen=True)
class Message:
    """One delivery of a published message."""

    topic: str
    id: str
    payload: dict[str, Any]
    key: str | None
    attempt: int
    published_at: float
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class TopicStats:
    topic: str
    messages: int
    groups: dict[str, int]  # group -> lag (messages not yet acknowledged by that group)


@dataclass(frozen=True)
class DeadLetter:
    id: str
    topic: str  # the original topic
    payload: dict[str, Any]
    key: str | None
    error: str
    attempts: int
    group: str
    failed_at: float


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before delivering again after failed delivery number ``attempt``."""
        return min(self.backoff_max_seconds, self.backoff_initial_seconds * 2.0 ** (attempt - 1))


class Bus(abc.ABC):
    """A durable log of topics with consumer groups. See the module docstring for the contract."""

    @abc.abstractmethod
    async def ensure_topics(self, topics: Iterable[str]) -> None:
        """Create these topics (and their dead-letter topics) if they do not exist."""

    @abc.abstractmethod
    async def topics(self) -> list[str]:
        """The declared topics, dead-letter topics excluded."""

    @abc.abstractmethod
    async def publish(self, topic: str, message: dict[str, Any], *, key: str | None = None) -> str:
        """Append one message; returns its id. Raises UnknownTopicError for undeclared topics."""

    @abc.abstractmethod
    async def publish_batch(
        self, topic: str, messages: Iterable[tuple[dict[str, Any], str | None]]
    ) -> list[str]:
        """Append (message, key) pairs durably in one round trip where the backend allows."""

    @abc.abstractmethod
    async def consume(
        self, topic: str, group: str, handler: Handler, *, stop: asyncio.Event
    ) -> None:
        """Deliver the topic's messages to ``handler`` for ``group`` until ``stop`` is set."""

    @abc.abstractmethod
    async def stats(self, topic: str) -> TopicStats:
        """Message count and per-group lag of one topic."""

    @abc.abstractmethod
    async def dead_letters(self, topic: str, *, limit: int = 100) -> list[DeadLetter]:
        """Dead letters of ``topic``, oldest first."""

    @abc.abstractmethod
    async def replay_dead_letters(self, topic: str, *, ids: Iterable[str] | None = None) -> int:
        """Publish dead letters back to their topic and remove them; returns how many."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise BusUnavailableError unless the backend answers."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""


# Bookkeeping the bus carries beside a payload. The names and encoding are the same on every
# backend, so a dead letter reads the same whichever backend wrote it.
HEADER_KEY = "Vigil-Key"  # NATS has no message key; the SQLite log keeps it in a column
HEADER_ERROR = "Vigil-Error"
HEADER_ATTEMPTS = "Vigil-Attempts"
HEADER_GROUP = "Vigil-Group"
HEADER_TOPIC = "Vigil-Topic"
HEADER_FAILED_AT = "Vigil-Failed-At"
HEADER_REPLAY_GROUP = "Vigil-Replay-Group"  # a replayed dead letter is meant for this group only

# Topics become NATS subjects and stream names, groups become durable consumer names: both must
# avoid the characters NATS gives a meaning to ('.' separates subject tokens, '*' '>' are
# wildcards) so that code developed on SQLite runs unchanged on NATS.
_NAME_PART = r"[A-Za-z0-9_-]+"
_TOPIC_RE = re.compile(rf"{_NAME_PART}(?:\.{_NAME_PART})*")
_GROUP_RE = re.compile(_NAME_PART)
_MAX_NAME_LENGTH = 200
# Printable ASCII stays readable in header values; '%', control characters, newlines (which would
# end a NATS header line) and non-ASCII text are percent-encoded.
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")
_MAX_ERROR_CHARS = 2000


def check_topic_name(topic: str, *, declaring: bool = False) -> None:
    """Raise InvalidInputError unless ``topic`` is dot-separated tokens of ``[A-Za-z0-9_-]``.

    ``declaring`` also refuses names ending in the dead-letter suffix, which the bus owns.
    """
    if len(topic) > _MAX_NAME_LENGTH or not _TOPIC_RE.fullmatch(topic):
        raise InvalidInputError(
            f"invalid topic name {topic!r}: use dot-separated tokens of letters, digits, "
            f"'_' and '-', at most {_MAX_NAME_LENGTH} characters (e.g. 'video.uploaded')",
            details={"field": "topic", "value": topic},
        )
    if declaring and topic.endswith(DEAD_LETTER_SUFFIX):
        raise InvalidInputError(
            f"invalid topic name {topic!r}: names ending in {DEAD_LETTER_SUFFIX!r} are the "
            "dead-letter topics the bus creates itself",
            details={"field": "topic", "value": topic},
        )


def check_group_name(group: str) -> None:
    """Raise InvalidInputError unless ``group`` is one token of ``[A-Za-z0-9_-]``."""
    if len(group) > _MAX_NAME_LENGTH or not _GROUP_RE.fullmatch(group):
        raise InvalidInputError(
            f"invalid consumer group name {group!r}: use letters, digits, '_' and '-', "
            f"at most {_MAX_NAME_LENGTH} characters (e.g. 'moderation')",
            details={"field": "group", "value": group},
        )


def describe_error(exc: BaseException) -> str:
    """``Type: message`` of a handler's exception, cut to a length any header can carry."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


def encode_header_value(value: str) -> str:
    return quote(value, safe=_HEADER_SAFE)


def decode_header_value(value: str) -> str:
    return unquote(value)


def dead_letter_headers(
    *, topic: str, group: str, error: str, attempts: int, failed_at: float
) -> dict[str, str]:
    """Headers of a message written to ``dead_letter_topic(topic)``."""
    return {
        HEADER_TOPIC: topic,
        HEADER_GROUP: group,
        HEADER_ERROR: encode_header_value(error),
        HEADER_ATTEMPTS: str(attempts),
        HEADER_FAILED_AT: repr(failed_at),
    }


def dead_letter_from_message(
    *, id: str, payload: dict[str, Any], key: str | None, headers: Mapping[str, str]
) -> DeadLetter:
    """Read back a dead letter written with ``dead_letter_headers``."""
    return DeadLetter(
        id=id,
        topic=headers.get(HEADER_TOPIC, ""),
        payload=payload,
        key=key,
        error=decode_header_value(headers.get(HEADER_ERROR, "")),
        attempts=int(headers.get(HEADER_ATTEMPTS, "0")),
        group=headers.get(HEADER_GROUP, ""),
        failed_at=float(headers.get(HEADER_FAILED_AT, "0")),
    )

"""A short-lived, per-process memory of API keys already checked.

Apps send many requests a second with the same key (the event collector above all); checking
each one against the database would cost a query per request. A key resolved once is trusted
for ``ttl_seconds``, so a revocation takes effect within that time in every process.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict

from .service import Principal


class PrincipalCache:
    """API key -> Principal for ``ttl_seconds``, at most ``capacity`` keys (oldest out first)."""

    def __init__(self, *, ttl_seconds: float, capacity: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.capacity = capacity
        self._entries: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _digest(key: str) -> bytes:
        # Digests, not the keys themselves, stay in memory.
        return hashlib.sha256(key.encode()).digest()

    def get(self, key: str) -> Principal | None:
        if self.ttl_seconds <= 0:
            return None
        digest = self._digest(key)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._entries[digest]
                return None
            return entry[1]

    def put(self, key: str, principal: Principal) -> None:
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            self._entries[self._digest(key)] = (time.monotonic() + self.ttl_seconds, principal)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

"""A small process supervisor: starts roles as child processes, restarts crashed ones with
backoff, and stops them all on SIGINT/SIGTERM, leaving no orphans.

Children run in the supervisor's process group and ask the kernel to SIGTERM them if the
supervisor dies (``PR_SET_PDEATHSIG``), so even ``kill -9`` of the supervisor leaves none behind.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class RoleSpec:
    name: str
    argv: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class _Child:
    spec: RoleSpec
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    next_start_at: float = 0.0


class Supervisor:
    """Runs ``roles`` until ``stop()`` or a signal; restarts a role that exits unexpectedly.

    The backoff doubles from ``backoff_initial`` up to ``backoff_max`` and resets once a role has
    stayed up for ``stable_after`` seconds.
    """

    def __init__(
        self,
        roles: Sequence[RoleSpec],
        *,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        stable_after: float = 30.0,
        stop_timeout: float = 10.0,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        self.children = [_Child(spec) for spec in roles]
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.on_exit = on_exit
        self._stopping = False

    def stop(self, *_args: object) -> None:
        self._stopping = True

    def _start(self, child: _Child) -> None:
        env = {**os.environ, **child.spec.env}
        child.process = subprocess.Popen(
            list(child.spec.argv), env=env, preexec_fn=_die_with_parent
        )
        child.started_at = time.monotonic()
        log.info("started %s (pid %d)", child.spec.name, child.process.pid)

    def _reap(self, child: _Child) -> None:
        process = child.process
        if process is None or process.poll() is None:
            return
        code = process.returncode
        if self.on_exit is not None:
            self.on_exit(process.pid)
        child.process = None
        if self._stopping:
            return
        uptime = time.monotonic() - child.started_at
        if uptime >= self.stable_after:
            child.restarts = 0
        delay = min(self.backoff_max, self.backoff_initial * 2**child.restarts)
        child.restarts += 1
        child.next_start_at = time.monotonic() + delay
        log.warning(
            "%s exited with code %s after %.1f s; restart %d in %.1f s",
            child.spec.name,
            code,
            uptime,
            child.restarts,
            delay,
        )

    def run(self) -> int:
        """Supervise until stopped; returns 0 after a clean stop."""
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for child in self.children:
                self._start(child)
            while not self._stopping:
                now = time.monotonic()
                for child in self.children:
                    self._reap(child)
                    if child.process is None and not self._stopping and now >= child.next_start_at:
                        self._start(child)
                time.sleep(0.1)
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _shutdown(self) -> None:
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s did not stop in %.0f s; killing it", child.spec.name, self.stop_timeout
                )
                child.process.kill()
                child.process.wait()
        for child in self.children:
            if child.process is not None and self.on_exit is not None:
                self.on_exit(child.process.pid)
            child.process = None
        log.info("all roles stopped")

"""Running ffmpeg and ffprobe: their own process group, a deadline, stderr drained, no leftovers.

Every tool run goes through ``ToolProcess``: the child gets a new session (so a timeout kills it
and anything it started with one ``killpg``), stdin is closed (ffmpeg would otherwise read
keystrokes), stderr is drained by a thread into a bounded tail (a full stderr pipe would block the
child), and leaving the ``with`` block kills and reaps the child whatever happened inside it.
"""

from __future__ import annotations

import collections
import contextlib
import io
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from .errors import MediaProcessingError

logger = logging.getLogger(__name__)

#: Lines of a tool's stderr kept for error messages and details.
STDERR_TAIL_LINES = 60


@dataclass(frozen=True)
class ToolResult:
    """How a tool run ended: exit status (negative: killed by that signal), output, duration."""

    returncode: int
    stdout: bytes
    stderr: str
    seconds: float


class ToolProcess:
    """One ffmpeg/ffprobe child with a deadline; use it as a context manager.

    ``stdout`` is the child's standard output for the caller to read while it runs. When the
    deadline passes, a timer kills the process group; reads then hit end of file, and
    ``finish()`` raises ``MediaProcessingError(reason="timeout")``.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        what: str,
        cwd: Path | None = None,
    ) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self.what = what
        self.timed_out = False
        self._tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._started = time.perf_counter()
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise MediaProcessingError(
                "tool_missing",
                f"{self.argv[0]} is not installed or not on PATH; install FFmpeg "
                "(Debian: apt-get install ffmpeg)",
                transient=False,
                details={"tool": self.argv[0]},
            ) from exc
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr, name=f"{what}-stderr", daemon=True
        )
        self._stderr_thread.start()
        self._timer = threading.Timer(timeout, self._on_timeout)
        self._timer.daemon = True
        self._timer.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def stdout(self) -> io.BufferedReader:
        # Popen's pipes are buffered readers (bufsize=-1); typeshed only says IO[bytes].
        assert isinstance(self._proc.stdout, io.BufferedReader)
        return self._proc.stdout

    def stderr_tail(self) -> str:
        return "\n".join(self._tail)

    def _drain_stderr(self) -> None:
        assert self._proc.stderr is not None
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._tail.append(line)

    def _on_timeout(self) -> None:
        self.timed_out = True
        logger.warning(
            "%s ran past %.1f s; killing process group %d", self.what, self.timeout, self._proc.pid
        )
        self.kill()

    def kill(self) -> None:
        """Kill the child's whole process group (no-op once it has been reaped)."""
        if self._proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)

    def finish(self) -> ToolResult:
        """Wait for the child to exit; raise MediaProcessingError if the deadline killed it."""
        stdout = self.stdout.read()
        returncode = self._proc.wait()
        self._timer.cancel()
        self._stderr_thread.join()
        seconds = time.perf_counter() - self._started
        if self.timed_out:
            raise MediaProcessingError(
                "timeout",
                f"{self.what} ran longer than its {self.timeout:g} s limit and was killed",
                transient=False,
                details={"limit_seconds": self.timeout, "stderr": self.stderr_tail()[-2000:]},
            )
        return ToolResult(returncode, stdout, self.stderr_tail(), seconds)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Whatever happened in the block, no child outlives it.
        self._timer.cancel()
        self.kill()
        self._proc.wait()
        self._stderr_thread.join()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()


def run_tool(
    argv: Sequence[str], *, timeout: float, what: str, cwd: Path | None = None
) -> ToolResult:
    """Run a tool to completion with a deadline and return its exit status and output."""
    with ToolProcess(argv, timeout=timeout, what=what, cwd=cwd) as process:
        return process.finish()

"""A progress bar for long builds, on a terminal only (never in logs or pipes)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO


class Progress:
    """Shows ``label [#####     ] 12/40`` after ``delay`` seconds, if stderr is a TTY."""

    def __init__(self, enabled: bool = True, stream: TextIO | None = None, delay: float = 1.0):
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.delay = delay
        self.started = time.monotonic()
        self.shown = False

    def update(self, label: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0 or time.monotonic() - self.started < self.delay:
            return
        width = 30
        filled = int(width * done / total)
        self.stream.write(f"\r{label:<10} [{'#' * filled}{' ' * (width - filled)}] {done}/{total}")
        self.stream.flush()
        self.shown = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.shown:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()

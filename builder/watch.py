"""What a file-system change means for the preview, and when to act on it.

Watchdog callbacks only record paths; everything here is pure (or takes an
injectable clock) so the serve loop's decisions can be unit-tested without
sockets, threads or a real file system.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import Literal

Kind = Literal["content", "data", "template", "static_css", "static_other", "config", "ignored"]

#: Top-level entries of a site folder that the preview watches.
WATCHED_DIRS = ("content", "data", "themes", "templates", "static")
WATCHED_FILES = ("site.yaml",)

# Editor droppings: vim swap/backup/probe files, emacs locks and autosaves,
# JetBrains/"safe write" temporaries, macOS and Windows metadata.
_IGNORED_NAMES = ("4913", ".DS_Store", "Thumbs.db", "desktop.ini")
_IGNORED_PATTERNS = (
    "*.swp",
    "*.swo",
    "*.swx",
    "*.swpx",
    "*~",
    ".#*",
    "#*#",
    "*.tmp",
    "*.temp",
    "*.bak",
    "*.orig",
    "*___jb_tmp___",
    "*___jb_old___",
    ".goutputstream-*",
    "*.crdownload",
)


def is_editor_junk(name: str) -> bool:
    """True for files editors write beside the real one while saving."""
    if name in _IGNORED_NAMES:
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _IGNORED_PATTERNS)


def _relative(source: Path, path: Path) -> PurePosixPath | None:
    """``path`` relative to the site folder, or None when it lies outside."""
    try:
        rel = Path(path).relative_to(source)
    except ValueError:
        try:
            rel = Path(path).resolve().relative_to(source.resolve())
        except (ValueError, OSError):
            return None
    return PurePosixPath(rel.as_posix())


def _inside(path: Path, folder: Path | None) -> bool:
    """True when ``path`` is ``folder`` or below it (compared literally and resolved)."""
    if folder is None:
        return False
    if Path(path).is_relative_to(folder):
        return True
    try:
        return Path(path).resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def classify_path(source: Path, path: Path, output: Path | None = None) -> Kind:
    """Say what kind of source ``path`` is, so the server picks the cheapest correct action."""
    if _inside(path, output):
        return "ignored"
    rel = _relative(source, path)
    if rel is None or not rel.parts:
        return "ignored"
    if any(part.startswith(".") for part in rel.parts) or is_editor_junk(rel.name):
        return "ignored"
    return _classify_relative(rel)


def _classify_relative(rel: PurePosixPath) -> Kind:
    top = rel.parts[0]
    if len(rel.parts) == 1:
        return "config" if top in WATCHED_FILES else "ignored"
    if top == "content":
        return "content"
    if top == "data":
        return "data"
    if top == "templates":
        return "template"
    if top == "static":
        return _static_kind(rel)
    if top == "themes":
        return _theme_kind(rel)
    return "ignored"


def _theme_kind(rel: PurePosixPath) -> Kind:
    # themes/<name>/templates/... , themes/<name>/static/... , anything else
    # (theme settings, a new theme folder) may change every page.
    if len(rel.parts) >= 3 and rel.parts[2] == "templates":
        return "template"
    if len(rel.parts) >= 3 and rel.parts[2] == "static":
        return _static_kind(rel)
    return "config"


def _static_kind(rel: PurePosixPath) -> Kind:
    return "static_css" if rel.suffix.lower() == ".css" else "static_other"


@dataclass(frozen=True)
class ChangeSet:
    """The relevant changes of one debounced burst, grouped by kind."""

    paths: frozenset[Path]
    kinds: frozenset[Kind]

    @property
    def empty(self) -> bool:
        return not self.paths

    @property
    def css_only(self) -> bool:
        """Only stylesheets changed: browsers can swap styles instead of reloading."""
        return self.kinds == frozenset({"static_css"})


def classify(source: Path, paths: Iterable[Path], output: Path | None = None) -> ChangeSet:
    """Drop ignored paths and record which kinds of change remain."""
    kept: set[Path] = set()
    kinds: set[Kind] = set()
    for path in paths:
        kind = classify_path(source, Path(path), output)
        if kind != "ignored":
            kept.add(Path(path))
            kinds.add(kind)
    return ChangeSet(frozenset(kept), frozenset(kinds))


def relative_posix(source: Path, path: PurePath) -> str:
    """Path as the error messages show it (``content/posts/a.md``)."""
    rel = _relative(source, Path(path))
    return str(rel) if rel is not None else str(path)


class Debouncer:
    """Collects paths until the burst they belong to is over.

    A burst of saves (editor swap dance, "save all", git checkout) becomes one
    rebuild. A burst is over ``quiet`` seconds after its last event when every
    file written in it has been closed (a finished save: fire almost at once),
    or ``hold`` seconds after its last event when a write may still be under
    way (a "modified" without its "closed", or a platform without close
    events). ``max_wait`` bounds the delay when events never stop coming.
    Thread-safe: watchdog threads call :meth:`add`, the build thread calls
    :meth:`wait` / :meth:`take`.
    """

    def __init__(
        self,
        quiet: float = 0.02,
        max_wait: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        hold: float = 0.1,
    ) -> None:
        self.quiet = quiet
        self.hold = max(hold, quiet)
        self.max_wait = max_wait
        self._clock = clock
        self._paths: set[Path] = set()
        self._writing: set[Path] = set()  # modified, not yet seen closed
        self._first: float | None = None
        self._last: float | None = None
        self._cond = threading.Condition()
        #: When the last burst handed out by :meth:`take` began and ended (for timing logs).
        self.last_burst: tuple[float, float] | None = None

    def add(self, paths: Iterable[Path], *, finished: bool = True) -> None:
        """Record changed paths (cheap: called from watchdog's thread).

        ``finished=False`` says the file is being written and a "closed" event
        will follow (another :meth:`add` with ``finished=True``); until then the
        burst waits the longer ``hold``.
        """
        with self._cond:
            new = [Path(p) for p in paths]
            if not new:
                return
            now = self._clock()
            if self._first is None:
                self._first = now
            self._last = now
            self._paths.update(new)
            if finished:
                self._writing.difference_update(new)
            else:
                self._writing.update(new)
            self._cond.notify_all()

    def forget_writing(self, paths: Iterable[Path]) -> None:
        """These paths are gone (deleted or renamed away): no "closed" will come for them."""
        with self._cond:
            self._writing.difference_update(Path(p) for p in paths)
            self._cond.notify_all()

    def remaining(self) -> float | None:
        """Seconds until the pending burst is due; None when nothing is pending."""
        with self._cond:
            return self._remaining()

    def _remaining(self) -> float | None:
        if self._first is None or self._last is None:
            return None
        now = self._clock()
        quiet_left = self._last + (self.hold if self._writing else self.quiet) - now
        cap_left = self._first + self.max_wait - now
        return max(0.0, min(quiet_left, cap_left))

    def take(self) -> frozenset[Path] | None:
        """The burst's paths if it is due (and forget them), else None."""
        with self._cond:
            left = self._remaining()
            if left is None or left > 0:
                return None
            assert self._first is not None and self._last is not None
            self.last_burst = (self._first, self._last)
            paths = frozenset(self._paths)
            self._paths.clear()
            self._writing.clear()
            self._first = self._last = None
            return paths

    def wait(self, stop: threading.Event, poll: float = 0.5, idle: float | None = None) -> frozenset[Path] | None:
        """Block until a burst is due or ``stop`` is set (real clock only); with ``idle``, also
        return None once that many seconds have passed with no change pending."""
        until = None if idle is None else time.monotonic() + idle
        with self._cond:
            while not stop.is_set():
                left = self._remaining()
                if left is not None and left <= 0:
                    break
                timeout = poll if left is None else min(left, poll)
                if left is None and until is not None:
                    if time.monotonic() >= until:
                        return None
                    timeout = min(timeout, until - time.monotonic())
                self._cond.wait(timeout=max(0.0, timeout))
        return None if stop.is_set() else self.take()

    def wake(self) -> None:
        """Wake a thread blocked in :meth:`wait` (used on shutdown)."""
        with self._cond:
            self._cond.notify_all()

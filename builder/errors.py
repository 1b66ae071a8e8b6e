"""Errors that carry their source location, formatted in one place.

Content mistakes are reported as ``file:line: message`` (plus a hint saying how
to fix it); the CLI prints them and exits 1 without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SiteError(Exception):
    """One content or configuration mistake, located in a source file."""

    path: str
    line: int | None
    message: str
    hint: str = ""

    def __str__(self) -> str:
        return self.format()

    def format(self) -> str:
        """``path:line: message (hint)`` — the one format every error uses."""
        where = f"{self.path}:{self.line}" if self.line else self.path
        text = f"{where}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


_EXCEPTION_SLOTS = frozenset({"__traceback__", "__cause__", "__context__", "__suppress_context__", "__notes__"})
_frozen_setattr = SiteError.__setattr__


def _setattr(self: SiteError, name: str, value: object) -> None:
    """Frozen fields, but Python's own exception attributes stay writable.

    contextlib's ``@contextmanager`` (and ``add_note``) assign ``__traceback__`` /
    ``__notes__`` from Python; a plain frozen dataclass turned every SiteError raised
    inside such a ``with`` block into a FrozenInstanceError.
    """
    if name in _EXCEPTION_SLOTS:
        BaseException.__setattr__(self, name, value)
    else:
        _frozen_setattr(self, name, value)


SiteError.__setattr__ = _setattr  # type: ignore[method-assign, assignment]


class SiteErrors(Exception):
    """Several errors at once, so the author can fix them all in one go."""

    def __init__(self, errors: Iterable[SiteError]):
        self.errors = sorted(set(errors), key=_sort_key)
        super().__init__("\n".join(e.format() for e in self.errors))

    def __iter__(self) -> Iterator[SiteError]:
        return iter(self.errors)


def _sort_key(error: SiteError) -> tuple[str, int, str]:
    return (error.path, error.line or 0, error.message)


class ErrorList:
    """Collects errors from a stage and raises them together at the end."""

    def __init__(self) -> None:
        self.errors: list[SiteError] = []

    def add(self, path: str, line: int | None, message: str, hint: str = "") -> None:
        self.errors.append(SiteError(path, line, message, hint))

    def extend(self, errors: Iterable[SiteError]) -> None:
        self.errors.extend(errors)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise SiteErrors(self.errors)


def did_you_mean(word: object, allowed: Iterable[str], prefix: str = "") -> str | None:
    """``did you mean 'title'?`` for a near-miss of a known key, or None: the one spelling hint."""
    close = difflib.get_close_matches(str(word), list(allowed), n=1)
    return f"did you mean '{prefix}{close[0]}'?" if close else None

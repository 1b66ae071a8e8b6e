"""The in-memory site model: frozen dataclasses, no I/O.

Stages build these from source texts; templates read them. Keeping them
immutable means a cached Post can be reused across rebuilds safely.
"""

from __future__ import annotations

import copyreg
from collections.abc import Callable, Mapping
from dataclasses import FrozenInstanceError, dataclass, field
from datetime import datetime
from typing import Any

NEWOBJ = getattr(copyreg, "__newobj__")  # noqa: B009 - pickle's NEWOBJ (no object.__init__ call), not in typeshed


@dataclass(frozen=True)
class Embed:
    """A network diagram directive found in a post or page body."""

    round: int
    line: int
    mode: str = "cumulative"
    view: str = "people"
    caption: str = ""


class Rendered:
    """Markdown rendered to HTML, plus what the render found (cacheable by content hash).

    A value: compared and hashed by its fields. ``html`` and ``toc_html`` (most of its size) may
    be left out by the content cache and fetched on first use through ``loader``: a one-edit
    build reads only the bodies of the pages it renders (see ``cache.ContentCache``).
    """

    # No __slots__, no __setstate__: unpickling 10,000 of these is then a C-level dict update each.
    _html: str | None
    _toc_html: str | None
    _loader: Callable[[], tuple[str, str]] | None
    summary_html: str
    words: int
    embeds: tuple[Embed, ...]
    links: tuple[tuple[str, int], ...]  # (href, line) of root-relative links, for `check`

    def __init__(
        self,
        html: str | None,
        summary_html: str,
        toc_html: str | None,
        words: int,
        embeds: tuple[Embed, ...],
        links: tuple[tuple[str, int], ...],
    ) -> None:
        # immutable from the outside, as the frozen dataclass it replaces was
        self.__dict__.update(
            _html=html,
            _toc_html=toc_html,
            _loader=None,
            summary_html=summary_html,
            words=words,
            embeds=embeds,
            links=links,
        )

    def lazy(self, loader: Callable[[], tuple[str, str]]) -> Rendered:
        """This body (without html) with its (html, toc_html) fetched by ``loader`` on first use."""
        self.__dict__.update(_html=None, _toc_html=None, _loader=loader)
        return self

    @property
    def loaded(self) -> bool:
        """False while html and toc are still in the cache file (nothing read yet)."""
        return self._loader is None

    def _load(self) -> None:
        loader = self._loader
        if loader is not None:
            html, toc = loader()
            self.__dict__.update(_html=html, _toc_html=toc, _loader=None)

    @property
    def html(self) -> str:
        if self._loader is not None:
            self._load()
        assert self._html is not None, "a body stub without its html"
        return self._html

    @property
    def toc_html(self) -> str:
        if self._loader is not None:
            self._load()
        assert self._toc_html is not None, "a body stub without its toc"
        return self._toc_html

    def _fields(self) -> tuple[Any, ...]:
        return (self.html, self.summary_html, self.toc_html, self.words, self.embeds, self.links)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def state(self, with_texts: bool = True) -> dict[str, Any]:
        """What pickling keeps: the loader never travels; ``with_texts=False`` leaves html and toc out."""
        if with_texts and self._loader is not None:
            self._load()
        state = dict(self.__dict__)
        state["_loader"] = None
        if not with_texts:
            state["_html"] = state["_toc_html"] = None
        return state

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # A lazy body is pickled whole (e.g. to a worker process).
        return (NEWOBJ, (Rendered,), self.state())

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Rendered:
            return NotImplemented
        return self is other or self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        html = repr(self._html) if self._loader is None else "<not loaded>"
        return (
            f"Rendered(html={html}, summary_html={self.summary_html!r}, words={self.words!r}, "
            f"embeds={self.embeds!r}, links={self.links!r})"
        )


@dataclass(frozen=True)
class Post:
    """A blog post, validated; dates are timezone-aware."""

    source: str
    slug: str
    title: str
    date: datetime
    updated: datetime | None
    tag_names: tuple[str, ...]
    draft: bool
    body: Rendered
    meta: Mapping[str, Any]
    round: int | None = None
    with_people: tuple[str, ...] = ()
    key_lines: Mapping[str, int] = field(default_factory=dict)
    description: str = ""
    # What grouping reads of a post (source, date, tags): tag listings and related lists are
    # remembered under a hash of every post's group_key. Made once when parsed and kept in the
    # content cache, so a one-edit build hashes 10,000 of them without formatting any.
    group_key: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        key = f"{self.source}|{self.date.timestamp()}|{'/'.join(self.tag_names)}"
        object.__setattr__(self, "group_key", key)

    @property
    def url(self) -> str:
        return f"posts/{self.slug}/"

    @property
    def reading_minutes(self) -> int:
        return max(1, round(self.body.words / 220))

    @property
    def summary_html(self) -> str:
        return self.body.summary_html

    @property
    def html(self) -> str:
        return self.body.html


@dataclass(frozen=True)
class Page:
    """A standalone page at /<slug>/."""

    source: str
    slug: str
    title: str
    description: str
    body: Rendered
    meta: Mapping[str, Any]
    key_lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.slug}/"

    @property
    def html(self) -> str:
        return self.body.html


@dataclass(frozen=True)
class Tag:
    """A theme: posts whose tags fold to the same key."""

    key: str
    slug: str
    name: str
    description_html: str
    posts: tuple[Post, ...]
    aliases: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"tags/{self.slug}/"

    @property
    def count(self) -> int:
        return len(self.posts)


@dataclass(frozen=True)
class Paginator:
    """One page of a paginated listing."""

    items: tuple[Any, ...]
    number: int
    total: int
    base: str  # the listing's first-page URL (site-relative, e.g. "tags/yet/")

    def url_of(self, number: int) -> str:
        return self.base if number == 1 else f"{self.base}page/{number}/"

    @property
    def url(self) -> str:
        return self.url_of(self.number)

    @property
    def prev_url(self) -> str | None:
        return self.url_of(self.number - 1) if self.number > 1 else None

    @property
    def next_url(self) -> str | None:
        return self.url_of(self.number + 1) if self.number < self.total else None

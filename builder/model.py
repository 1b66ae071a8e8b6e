"""The in-memory site model: frozen dataclasses, no I/O.

Stages build these from source texts; templates read them. Keeping them
immutable means a cached Post can be reused across rebuilds safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Embed:
    """A network diagram directive found in a post or page body."""

    round: int
    line: int
    mode: str = "cumulative"
    view: str = "people"
    caption: str = ""


@dataclass(frozen=True)
class Rendered:
    """Markdown rendered to HTML, plus what the render found (cacheable by content hash)."""

    html: str
    summary_html: str
    toc_html: str
    words: int
    embeds: tuple[Embed, ...]
    links: tuple[tuple[str, int], ...]  # (href, line) of root-relative links, for `check`


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

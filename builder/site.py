"""Assemble parsed posts, pages, tags and the network into one Site model.

This is where cross-file rules live: drafts and future posts, duplicate slugs,
URL collisions (both sources named), embeds and ``round:``/``with:`` pointing at
rounds and people that exist.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from .config import SiteConfig
from .errors import ErrorList, SiteError
from .model import Page, Post, Tag
from .taxonomy import TagInfo, build_tags_memo, related_posts_memo, variant_warnings

RESERVED = {
    "posts",
    "tags",
    "page",
    "archive",
    "network",
    "search",
    "static",
    "feed.xml",
    "sitemap.xml",
    "404",
    "pagefind",
}


@dataclass(frozen=True)
class Site:
    """Everything the templates need, already filtered and sorted."""

    config: SiteConfig
    posts: tuple[Post, ...]  # published (or shown) posts, newest first
    pages: tuple[Page, ...]
    tags: tuple[Tag, ...]
    related: Mapping[str, tuple[Post, ...]]
    network: Any = None  # builder.network.Network when data/rounds exists
    round_data: Any = None
    warnings: tuple[SiteError, ...] = ()
    show_drafts: bool = False
    posts_by_round: Mapping[int, tuple[Post, ...]] = field(default_factory=dict)
    now: datetime | None = None

    def is_unpublished(self, post: Post) -> bool:
        """Shown only in previews: a draft, or dated after the build's "now"."""
        return post.draft or (self.now is not None and post.date > self.now)

    def neighbours(self, post: Post) -> tuple[Post | None, Post | None]:
        """(newer, older) post around ``post`` in date order."""
        index = self.posts.index(post)
        newer = self.posts[index - 1] if index > 0 else None
        older = self.posts[index + 1] if index + 1 < len(self.posts) else None
        return newer, older


def visible_posts(posts: Sequence[Post], now: datetime, drafts: bool, future: bool) -> list[Post]:
    """Drafts only with ``drafts``; future-dated posts only with ``future`` (or as drafts in serve)."""
    shown = [p for p in posts if (drafts or not p.draft) and (future or drafts or p.date <= now)]
    # By (date, source), newest first, as two stable sorts: no key tuple per post (~2x faster)
    shown.sort(key=_SOURCE, reverse=True)
    shown.sort(key=_DATE, reverse=True)
    return shown


_SOURCE = attrgetter("source")
_DATE = attrgetter("date")


def check_slugs(posts: Sequence[Post], pages: Sequence[Page], errors: ErrorList) -> None:
    """Two sources may not claim one URL; pages may not shadow the site's own sections."""
    owners: dict[str, Post | Page] = {}
    items: list[Post | Page] = [*posts, *pages]
    for item in items:
        url = item.url
        if url in owners:
            # blame the file whose explicit ``slug:`` caused the clash, so the line points at it
            blamed, other = item, owners[url]
            if "slug" not in blamed.key_lines and "slug" in other.key_lines:
                blamed, other = other, blamed
            errors.add(
                blamed.source,
                blamed.key_lines.get("slug"),
                f"URL /{url} is also used by {other.source}",
                "give one of them a different slug: in its front matter",
            )
        else:
            owners[url] = item
    for page in pages:
        if page.slug in RESERVED:
            errors.add(
                page.source,
                page.key_lines.get("slug"),
                f"page slug '{page.slug}' clashes with a built-in section",
                "choose another slug:",
            )


def check_network_refs(posts: Sequence[Post], pages: Sequence[Page], round_data: Any, errors: ErrorList) -> None:
    """Embeds, ``round:`` and ``with:`` must name rounds and people that exist."""
    rounds = {r.number for r in round_data.rounds} if round_data else set()
    known_people = set(round_data.people) if round_data else set()
    if round_data:
        for r in round_data.rounds:
            for group in r.groups:
                known_people.update(group.people)
            known_people.update(r.unmatched)
    hint = f"known rounds: {', '.join(map(str, sorted(rounds)))}" if rounds else "add data/rounds/round-N.yaml first"
    items: list[Post | Page] = [*posts, *pages]
    for item in items:
        for embed in item.body.embeds:
            if embed.round not in rounds:
                errors.add(
                    item.source, embed.line, f"network embed names round {embed.round}, which does not exist", hint
                )
    for post in posts:
        if post.round is not None and post.round not in rounds:
            errors.add(post.source, post.key_lines.get("round"), f"round {post.round} does not exist", hint)
        for person in post.with_people:
            if person not in known_people:
                errors.add(
                    post.source,
                    post.key_lines.get("with"),
                    f"unknown participant '{person}' in 'with'",
                    "use an id from data/people.yaml or a round file",
                )


def assemble(
    config: SiteConfig,
    posts: Sequence[Post],
    pages: Sequence[Page],
    tag_infos: Mapping[str, TagInfo],
    round_data: Any,
    now: datetime,
    drafts: bool = False,
    future: bool = False,
    network_factory: Any = None,
    related_memo: MutableMapping[str, Any] | None = None,
    related_live: MutableMapping[str, Any] | None = None,
    tags_memo: MutableMapping[str, Any] | None = None,
    jobs: int = 1,
) -> Site:
    """Validate across files and build the Site. Raises SiteErrors listing every problem.

    ``jobs``: processes that may work out related posts (the result does not depend on it)."""
    errors = ErrorList()
    shown = visible_posts(posts, now, drafts, future)
    check_slugs(shown, pages, errors)
    check_network_refs(posts, pages, round_data, errors)
    errors.raise_if_any()
    tags = build_tags_memo(shown, tag_infos, config.base_path, tags_memo)
    by_round: dict[int, list[Post]] = {}
    for post in shown:
        embeds = post.body.embeds
        if not post.round and not embeds:
            continue  # most posts: no set and no generator for them
        rounds_named = {post.round} if post.round else set()
        rounds_named.update(e.round for e in embeds)
        for number in rounds_named:
            by_round.setdefault(number, []).append(post)
    network = network_factory(shown) if network_factory and round_data and round_data.rounds else None
    return Site(
        config=config,
        posts=tuple(shown),
        pages=tuple(sorted(pages, key=lambda p: p.slug)),
        tags=tags,
        related=related_posts_memo(
            shown, tags, config.related_posts, related_memo, related_live, tags_key=_memo_key(tags_memo), jobs=jobs
        ),
        network=network,
        round_data=round_data,
        warnings=tuple(variant_warnings(tags)),
        show_drafts=drafts,
        posts_by_round={k: tuple(v) for k, v in by_round.items()},
        now=now,
    )


def _memo_key(tags_memo: Mapping[str, Any] | None) -> str | None:
    """The key ``build_tags_memo`` just made the tags under (None without a memo)."""
    key = tags_memo.get("key") if tags_memo is not None else None
    return key if isinstance(key, str) else None

"""Which listed pages were made from which posts, so a rebuild renders only the edited posts' pages.

A listed page (a post page, a page of the home or a tag listing, a feed) is a pure
function of the build-wide key (code, config, theme, tags, pages, round data), its
recipe (which page of which listing) and the posts it is made from. A build records
that in a :class:`PagePlan`. When the next build's site has the same *shape* (the same
posts in the same order, the same tag members, related lists, round posts, network
and unpublished flags, and the edited posts differ only in what they show), only the
pages made from an edited post can differ: the rest are reused without computing
their keys.

``serve`` keeps the plan in memory (posts compared by identity). ``build`` saves it
in the cache folder as a :class:`StoredPlan`, where posts are named by their source
and content digest and the shape by digests, so a new process can do the same.
"""

from __future__ import annotations

import hashlib
import struct
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from itertools import compress
from operator import attrgetter, is_not
from typing import Any

from .model import Post, Tag

PlanEntry = tuple[str, tuple[Any, ...], str | None, tuple[str, ...]]  # path, recipe, page key, posts

#: Post fields that only show inside the pages the post is listed on (or, for the title, in the
#: network, whose identity is compared apart). Every other field may change the site's shape.
SHOWN_ONLY = frozenset({"title", "body", "meta", "key_lines", "description"})
SHAPE_FIELDS = tuple(f.name for f in fields(Post) if f.name not in SHOWN_ONLY)
_SOURCE_OF: Callable[[Post], str] = attrgetter("source")
FAST_LIMIT = 64  # more edited posts than this at once: compute every key (a checkout, a rename)
STORED_FORMAT = 1


@dataclass
class PagePlan:
    """What a build rendered from which posts, and the shape of the site it did so for."""

    base: str
    posts: tuple[Post, ...]
    tags: tuple[Tag, ...]
    related: Mapping[str, tuple[Post, ...]]
    by_round: Mapping[int, tuple[Post, ...]]
    network: Any
    now: datetime | None = None
    entries: list[PlanEntry] = field(default_factory=list)
    readers: dict[str, list[int]] = field(default_factory=dict)  # post source -> entries made from it
    fingerprints: dict[int, Any] = field(default_factory=dict)  # the page cache's, when the build ended
    sitemap: tuple[frozenset[str], str] | None = None  # (the paths it lists, its page key)
    fast: bool = False
    track_readers: bool = True  # serve; build finds readers in its StoredPlan instead
    # build's fast pass: the stored plan it started from, and the entries it rendered again
    stored_from: StoredPlan | None = None
    updates: dict[int, PlanEntry] = field(default_factory=dict)
    # (year, month) of the archive -> (its posts' sources, the key its block was kept under)
    months: dict[tuple[int, int], tuple[tuple[str, ...], str]] = field(default_factory=dict)


@dataclass
class StoredPlan:
    """A :class:`PagePlan` as a later process can use it: posts by name and content digest, and
    the entries in columns (a one-edit build at 10,000 posts loads and saves ~14,000 of them;
    columns and index arrays are several times cheaper to pickle than tuples of names)."""

    base: str
    sources: tuple[str, ...]  # the posts, in the site's order
    idents: tuple[str, ...]  # each post's page-cache identity (a hash of its source text and settings)
    shapes: dict[str, bytes]  # identity -> shape_digest of that post
    network: str | None  # the page cache's name for the network (None: no network)
    now: datetime | None
    paths: list[str]  # per entry: its output path,
    recipes: list[tuple[Any, ...]]  # ... what Renderer._by_recipe makes it from,
    keys: list[str | None]  # ... its page-cache key,
    members: bytes  # ... and its posts: array("i") of indexes into ``sources``, entry after entry,
    offsets: bytes  # ... entry i's at members[offsets[i]:offsets[i + 1]]
    sitemap: tuple[frozenset[str], str] | None
    months: dict[tuple[int, int], tuple[tuple[str, ...], str]] = field(default_factory=dict)  # archive blocks
    format: int = STORED_FORMAT

    def entry(self, index: int) -> PlanEntry:
        members = memoryview(self.members).cast("i")
        offsets = memoryview(self.offsets).cast("i")
        posts = tuple(self.sources[j] for j in members[offsets[index] : offsets[index + 1]])
        return self.paths[index], self.recipes[index], self.keys[index], posts

    def readers_of(self, sources: Iterable[str]) -> set[int]:
        """The entries made from any of ``sources`` (found by searching the index array: no
        per-post reader lists to load and save)."""
        wanted = set(sources)
        found: set[int] = set()
        data = self.members
        offsets = memoryview(self.offsets).cast("i")
        for number, source in enumerate(self.sources):
            if source not in wanted:
                continue
            needle = struct.pack("=i", number)
            at = data.find(needle)
            while at != -1:
                if at % 4 == 0:  # an aligned match is this index; others straddle two
                    found.add(bisect_right(offsets, at // 4) - 1)
                at = data.find(needle, at + 1)
        return found

    def uncached(self) -> list[int]:
        """Entries without a page-cache key (rendered by every build)."""
        return [i for i, key in enumerate(self.keys) if key is None]


def shape(post: Post) -> tuple[Any, ...]:
    """What of a post decides where it is listed, and which pages exist."""
    return (*(getattr(post, name) for name in SHAPE_FIELDS), tuple(e.round for e in post.body.embeds))


def shape_digest(post: Post) -> bytes:
    """``shape`` as a short digest that another process can compare (dates by their repr: the
    instant and the zone, stricter than ``==``)."""
    return hashlib.blake2b(repr(shape(post)).encode("utf-8", "surrogatepass"), digest_size=12).digest()


def changed_posts(old: PagePlan, new: PagePlan) -> list[Post] | None:
    """The posts replaced since ``old`` when the site kept its shape; None when it did not."""
    if old.base != new.base or old.network is not new.network or len(old.posts) != len(new.posts):
        return None
    changed: list[Post] = []
    for index in _differing(old.posts, new.posts):  # (C-level maps: 10,000 posts per serve rebuild)
        before, after = old.posts[index], new.posts[index]
        if len(changed) == FAST_LIMIT or shape(before) != shape(after):
            return None
        changed.append(after)
    if not _same_flags(old.now, new):
        return None
    if not _same_tags(old.tags, new.tags):
        return None
    if old.related is not new.related:
        if len(old.related) != len(new.related):
            return None
        sources = list(map(_SOURCE_OF, new.posts))
        was, now = list(map(old.related.get, sources)), list(map(new.related.get, sources))
        for index in _differing(was, now):
            a, b = was[index] or (), now[index] or ()
            if a != b and not _same_sources(a, b):
                return None
    if old.by_round.keys() != new.by_round.keys():
        return None
    if any(not _same_sources(old.by_round[k], new.by_round[k]) for k in new.by_round):
        return None
    return changed


def changed_since_stored(old: StoredPlan, new: PagePlan, identity: Callable[[Any], str | None]) -> list[Post] | None:
    """``changed_posts`` against a plan saved by an earlier process: posts compared by their
    content digests, the shape of the edited ones by ``shape_digest``.

    Tag members, related lists and the posts of each round are functions of the posts' shapes
    (sources, dates, tags, rounds, embeds), the flags and what the base covers (tags.yaml, the
    config, the code): the same shapes in the same order give the same groups, so they need no
    comparison of their own here (serve compares them because it compares objects)."""
    if old.format != STORED_FORMAT or old.base != new.base or len(old.sources) != len(new.posts):
        return None
    if old.network != (identity(new.network) if new.network is not None else None):
        return None
    if old.sources != tuple(map(_SOURCE_OF, new.posts)):
        return None
    idents = [identity(post) for post in new.posts]
    changed: list[Post] = []
    for index, (before, after) in enumerate(zip(old.idents, idents, strict=True)):
        if before != after:
            if after is None or len(changed) == FAST_LIMIT:
                return None
            post = new.posts[index]
            if old.shapes.get(before) != shape_digest(post):
                return None
            changed.append(post)
    if not _same_flags(old.now, new):
        return None
    return changed


def store(plan: PagePlan, identity: Callable[[Any], str | None], old: Any = None) -> StoredPlan | None:
    """``plan`` as a later process can read it (None when a post has no identity: nothing to
    compare it by). Shape digests are kept from ``old`` for posts whose text is unchanged; after a
    fast pass the entries are the stored plan's with the pages rendered again updated."""
    idents = tuple(identity(post) for post in plan.posts)
    if any(ident is None for ident in idents):
        return None
    known = old.shapes if isinstance(old, StoredPlan) else {}
    shapes: dict[str, bytes] = {}
    for ident, post in zip(idents, plan.posts, strict=True):
        found = known.get(ident)  # type: ignore[arg-type]
        shapes[ident] = found if found is not None else shape_digest(post)  # type: ignore[index]
    base = plan.stored_from
    if base is not None:  # the same entries at the same paths from the same posts: new keys only
        paths, recipes, members, offsets = base.paths, base.recipes, base.members, base.offsets
        keys = list(base.keys)
        for index, entry in plan.updates.items():
            keys[index] = entry[2]
    else:
        position = {post.source: i for i, post in enumerate(plan.posts)}
        paths = [entry[0] for entry in plan.entries]
        recipes = [entry[1] for entry in plan.entries]
        keys = [entry[2] for entry in plan.entries]
        flat = array("i")
        ends = array("i", [0])
        for entry in plan.entries:
            flat.extend([position[source] for source in entry[3]])
            ends.append(len(flat))
        members, offsets = flat.tobytes(), ends.tobytes()
    return StoredPlan(
        base=plan.base,
        sources=tuple(map(_SOURCE_OF, plan.posts)),
        idents=idents,  # type: ignore[arg-type]  # checked above
        shapes=shapes,
        network=identity(plan.network) if plan.network is not None else None,
        now=plan.now,
        paths=paths,
        recipes=recipes,
        keys=keys,
        members=members,
        offsets=offsets,
        sitemap=plan.sitemap,
        months=plan.months,
    )


def _differing(a: Sequence[Any], b: Sequence[Any]) -> list[int]:
    """Positions where ``a`` and ``b`` (of one length) hold different objects."""
    flags = list(map(is_not, a, b))
    return list(compress(range(len(flags)), flags)) if True in flags else []


def _same_flags(old_now: datetime | None, new: PagePlan) -> bool:
    """No post's unpublished flag changed between the two builds' clocks."""
    if old_now == new.now:
        return True
    if old_now is None or new.now is None:
        return False
    low, high = sorted((old_now, new.now))
    for post in new.posts:  # newest first (Site.posts): only the head can be later than ``low``
        if post.date <= low:
            break
        if post.date <= high:
            return False  # a future-dated post went live (or back) between them
    return True


def _same_sources(a: Sequence[Post], b: Sequence[Post]) -> bool:
    """The same posts in the same order (``==`` first: it compares identical objects by identity)."""
    return a == b or (len(a) == len(b) and list(map(_SOURCE_OF, a)) == list(map(_SOURCE_OF, b)))


def _same_tags(a: Sequence[Tag], b: Sequence[Tag]) -> bool:
    """The same tags with the same members in the same order (the rest of a tag is in the base)."""
    if len(a) != len(b):
        return False
    return all(x.key == y.key and _same_sources(x.posts, y.posts) for x, y in zip(a, b, strict=True))

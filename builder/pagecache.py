"""Skip re-rendering pages whose template context has not changed.

A rebuild after one edit changes a handful of pages (the post, its neighbours,
the listings and feeds that show it, posts that list it as related); rendering
all 14,000 pages of a 10,000-post site again is what made it slow. Every call of
``Renderer.render(template, **context)`` is keyed by a hash of the template name,
the build-wide inputs (code, theme, config, pages, tags, round data: ``base``)
and the context itself, where

- a ``Post``/``Page`` stands for the hash of its source text and settings (a post
  is a pure function of those) plus whether it is shown as unpublished;
- a ``Tag`` stands for its name, slug, description, aliases and count (what the
  templates show); a theme whose templates read ``.posts`` of something other
  than ``feed`` gets the full member list hashed as well (``deep_tags``);
- anything the fingerprint does not understand makes that page uncacheable:
  it is rendered every time, never served stale.

Hits come from memory (``serve`` keeps the Builder) or, in a new process, from
the previous output folder: the key maps to the digest of the bytes written
last time, and the file with that digest is read back and checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

from .model import Page, Paginator, Post, Tag
from .write import digest

FORMAT = 1
_KNOWN_DIGEST = attrgetter("known_digest")


class KnownBytes(bytes):
    """Bytes whose digest is already known (saves hashing 350 MB twice at 10,000 posts)."""

    known_digest: str

    def __new__(cls, data: bytes, known: str) -> KnownBytes:
        obj = super().__new__(cls, data)
        obj.known_digest = known
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled by a rendering process (builder/parrender.py) sending back pages held in memory
        return (KnownBytes, (bytes(self), self.known_digest))


class Reuse:
    """A page whose bytes are those of a file in the previous output (not read unless needed).

    Only ``build`` gets these (``lazy``); ``builder.outfiles.OutputFiles`` keeps the old file
    when the page stays at the same path, and reads it otherwise.
    """

    __slots__ = ("_where", "known_digest")

    def __init__(self, known_digest: str, source: Path | str):
        self.known_digest = known_digest
        self._where = source  # a str in the hot path: 14,000 pathlib joins cost ~0.3 s

    @property
    def source(self) -> Path:
        return Path(self._where)

    def read(self) -> bytes:
        data = self.source.read_bytes()
        if digest(data) != self.known_digest:
            raise OSError(f"{self.source} changed during the build")
        return KnownBytes(data, self.known_digest)


class Uncacheable(Exception):
    """The context holds something we cannot fingerprint."""


@dataclass
class PageMemo:
    """{context key: bytes} for this process, {context key: digest} across processes."""

    base: str = ""
    identity: Callable[[Any], str | None] = lambda _obj: None
    unpublished: Callable[[Post], bool] = lambda _post: False
    deep_tags: bool = False
    in_memory: dict[str, bytes] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    old_output: Path | None = None
    old_by_digest: Mapping[str, str] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0
    on_page: Callable[[int], None] | None = None  # progress: called with the number of pages so far
    _pages: int = 0
    _tag_fp: dict[int, bytes] = field(default_factory=dict)
    # Per build: fingerprints of objects that live for the whole build, keyed by id() and holding
    # the object itself so its id cannot be reused by another object before the build ends.
    _item_fp: dict[int, tuple[Any, bytes]] = field(default_factory=dict)
    retain: bool = False  # keep rendered bytes in memory between builds (serve); else digests only
    lazy: bool = False  # hits from the old output may be returned as Reuse (the sink must accept them)
    _used: dict[str, bytes] = field(default_factory=dict)
    _used_digests: dict[str, str] = field(default_factory=dict)
    # Files of the old output that exist (``OutputFiles.present``), shared with the write stage.
    present: Callable[[], set[str]] | None = None
    # (template, id(post)) -> (post, html) of ``Renderer.fragment``, kept between serve builds while
    # the build-wide key is the same (the post object itself is held, so its id stays its own).
    fragments: dict[tuple[str, int], tuple[Any, Any]] = field(default_factory=dict)
    _fragments_used: dict[tuple[str, int], tuple[Any, Any]] = field(default_factory=dict)
    _fragments_base: str = ""
    # Parts of a page (the archive's months) by a key like a page's: serve keeps them between
    # builds, so an edit re-renders one month of the archive instead of 10,000 rows.
    blocks: dict[str, Any] = field(default_factory=dict)
    _blocks_used: dict[str, Any] = field(default_factory=dict)
    _blocks_changed: bool = False
    # The last build's plan (builder/plan.py: which pages it made from which posts), committed by
    # ``finish`` so that it always describes the pages this memo knows: serve keeps the PagePlan
    # itself (pages in ``in_memory``), build a StoredPlan saved beside the digests.
    plan: Any = None
    _plan_offered: Any = None
    stores_plan: bool = False  # build with a cache folder: keep the plan as a StoredPlan and save it
    _plan_changed: bool = False

    def start(
        self,
        base: str,
        identity: Callable[[Any], str | None],
        unpublished: Callable[[Post], bool],
        deep_tags: bool,
        old_output: Path | None,
        old_manifest: Mapping[str, str],
    ) -> None:
        """Begin a build: new build-wide key and identities; keep what earlier builds rendered."""
        self.base, self.identity, self.unpublished, self.deep_tags = base, identity, unpublished, deep_tags
        self.old_output = old_output
        self.old_by_digest = {d: p for p, d in old_manifest.items()}
        self.hits = self.misses = self._pages = 0
        self._tag_fp = {}
        self._item_fp = {}
        self._used = {}
        self._used_digests = {}
        if base != self._fragments_base:  # fragments are pure functions of a post and the build-wide inputs
            self.fragments, self._fragments_base = {}, base
        self._fragments_used = {}
        self._blocks_used = {}
        self._plan_offered = None

    def offer_plan(self, plan: Any) -> None:
        """This build's plan, kept by ``finish`` (a build that fails keeps the last one)."""
        self._plan_offered = plan

    def get_all(self, keys: Sequence[str | None]) -> list[bytes | None]:
        """``get`` for many keys at once (a fast pass: ~14,000 pages). Pages this process holds
        (serve) are taken with C-level maps; the rest come from the previous output
        (``_from_old_output``: build leaves them there unread, as ``Reuse``)."""
        out: list[bytes | None] = list(map(self.in_memory.get, keys))  # type: ignore[arg-type]  # (None: None)
        held = [i for i, data in enumerate(out) if data is not None] if None in out else range(len(out))
        self._note_used([keys[i] for i in held], [out[i] for i in held])  # type: ignore[misc]
        wanted = [i for i, data in enumerate(out) if data is None and keys[i] is not None]
        if wanted:
            found = self._from_old_output([keys[i] for i in wanted])  # type: ignore[misc]
            hits = [(i, data) for i, data in zip(wanted, found, strict=True) if data is not None]
            self._note_used([keys[i] for i, _ in hits], [data for _, data in hits])  # type: ignore[misc]
            for i, data in hits:
                out[i] = data
            self.misses += len(wanted) - len(hits)
        return out

    def _note_used(self, keys: Sequence[str], pages: Sequence[bytes]) -> None:
        """Pages this build uses as they are (each ``KnownBytes`` or ``Reuse``: digests known)."""
        self.hits += len(keys)
        self._used_digests.update(zip(keys, map(_KNOWN_DIGEST, pages), strict=True))
        if self.retain:
            self._used.update(zip(keys, pages, strict=True))

    def reuse_fingerprints(self, fingerprints: Mapping[int, tuple[Any, bytes]]) -> None:
        """Post fingerprints of the last build, for posts that are the same objects with the same
        unpublished flags (the caller checked): 10,000 of them cost ~15 ms to compute again."""
        merged = dict(fingerprints)
        merged.update(self._item_fp)
        self._item_fp = merged

    def block(self, key: str) -> Any | None:
        """A part of a page rendered under ``key`` by this or (serve) the last build."""
        found = self._blocks_used.get(key)
        if found is None:
            found = self.blocks.get(key)
            if found is not None:
                self._blocks_used[key] = found
        return found

    def keep_block(self, key: str, html: Any) -> None:
        self._blocks_used[key] = html

    def fragment(self, key: tuple[str, int], post: Any) -> Any | None:
        """A list item or feed entry rendered for ``post`` by this or (serve) the last build."""
        for store in (self._fragments_used, self.fragments):
            found = store.get(key)
            if found is not None and found[0] is post:
                self._fragments_used[key] = found
                return found[1]
        return None

    def keep_fragment(self, key: tuple[str, int], post: Any, html: Any) -> None:
        self._fragments_used[key] = (post, html)

    def key(self, template: str, context: Mapping[str, Any]) -> str | None:
        self._pages += 1
        if self.on_page is not None and self._pages % 50 == 0:
            self.on_page(self._pages)
        parts: list[bytes] = [self.base.encode(), template.encode()]
        add = parts.append
        try:
            for name in sorted(context):
                add(name.encode() + b"=")
                value = context[name]
                if type(value) is str:  # as _feed does, without the call
                    data = value.encode("utf-8", "surrogatepass")
                    add(b"s%d:" % len(data))
                    add(data)
                else:
                    self._feed(parts, value)
        except Uncacheable:
            return None
        # One update of the joined parts: ~60 small updates per page cost more than the copy.
        return hashlib.blake2b(b"".join(parts), digest_size=20).hexdigest()

    def key_of_items(self, template: str, items: Sequence[Post | Page | None], extra: str = "") -> str | None:
        """``key`` for a page that is a pure function of a few posts (in order, None for "no post")
        and ``extra``: their fingerprints joined and hashed, without walking a context.

        A post page's key at 10,000 posts: ~3 µs instead of ~30 µs through ``key``.
        """
        self._pages += 1
        if self.on_page is not None and self._pages % 50 == 0:
            self.on_page(self._pages)
        return self.items_key(template, items, extra)

    def items_key(self, template: str, items: Sequence[Post | Page | None], extra: str = "") -> str | None:
        """``key_of_items`` without counting a page (for parts of pages)."""
        parts = [self.base.encode(), b"items:", template.encode(), b"|", extra.encode(), b"|"]
        add, item_fp = parts.append, self._item_fp
        try:
            for item in items:  # ~100,000 items per build at 10,000 posts: _item's lookup inlined
                if item is None:
                    add(b"-;")
                    continue
                found = item_fp.get(id(item))
                add(found[1] if found is not None and found[0] is item else self._item(item))
        except Uncacheable:
            return None
        return hashlib.blake2b(b"".join(parts), digest_size=20).hexdigest()

    def pin(self, value: Any, ident: str) -> None:
        """Let ``value`` (e.g. a diagram payload shared by many pages) stand for ``ident`` in keys.

        The caller promises that ``value`` is a pure function of ``ident`` and is not mutated
        during the build; hashing it then costs nothing instead of a walk over thousands of items.
        """
        self._item_fp[id(value)] = (value, b"o:" + ident.encode() + b";")

    def get(self, key: str) -> bytes | None:
        data = self.in_memory.get(key)
        if data is None:
            data = self._from_old_output([key])[0]
        if data is None:
            self.misses += 1
            return None
        self._note_used([key], [data])
        return data

    def put(self, key: str, data: bytes) -> bytes:
        """Remember a rendered page; returns it with its digest attached (hashed once per build)."""
        known = getattr(data, "known_digest", None)
        if known is None:
            known = digest(data)
            data = KnownBytes(data, known)
        self._used_digests[key] = known
        if self.retain:
            self._used[key] = data
        return data

    def used_digests(self) -> dict[str, str]:
        """{key: digest} of the pages this build has used so far (sent back by a rendering process)."""
        return dict(self._used_digests)

    def adopt(self, used: Mapping[str, str]) -> None:
        """Pages another process of this build rendered or reused (builder/parrender.py)."""
        self._used_digests.update(used)

    def finish(self) -> None:
        """Keep only this build's pages (so memory does not grow with every edit)."""
        self.in_memory = self._used if self.retain else {}
        self.digests = self._used_digests
        self._used, self._used_digests = {}, {}
        self.fragments = self._fragments_used if self.retain else {}  # serve: the next build reuses them
        self._fragments_used = {}
        if self._blocks_used:  # the archive was rendered (it is not when its page was a hit)
            self._blocks_changed = self._blocks_changed or self._blocks_used.keys() != self.blocks.keys()
            self.blocks = self._blocks_used  # small (the archive's months: ~1.5 MB at 10,000 posts)
        self._blocks_used = {}
        offered, self._plan_offered = self._plan_offered, None
        if self.retain:
            self.plan = offered
            if offered is not None:
                offered.fingerprints = self._item_fp
        elif self.stores_plan:
            from .plan import store

            self.plan = store(offered, self.identity, self.plan) if offered is not None else None
            self._plan_changed = True
        else:
            self.plan = None

    def load_plan(self, path: Path) -> None:
        """The plan an earlier ``build`` saved (any plan is safe to offer: the fast pass checks it
        against this build's site and renders what it cannot reuse)."""
        from .plan import StoredPlan

        try:
            with path.open("rb") as handle:
                plan = pickle.load(handle)  # noqa: S301 - our own file in the site's cache folder
        except Exception:  # missing or corrupt: the full pass
            return
        if isinstance(plan, StoredPlan):
            self.plan = plan

    def save_plan(self, path: Path) -> None:
        """Write (or remove) the plan ``finish`` kept, when it changed."""
        from .cache import _atomic_write

        if not self._plan_changed:
            return
        self._plan_changed = False
        with contextlib.suppress(OSError):
            if self.plan is None:
                path.unlink(missing_ok=True)
            else:
                _atomic_write(path, pickle.dumps(self.plan, protocol=5))

    # --- persistence ---------------------------------------------------------------------------
    def load(self, path: Path) -> None:
        try:
            with path.open("rb") as handle:
                data = pickle.load(handle)  # noqa: S301 - our own file in the site's cache folder
        except Exception:  # missing or corrupt: render everything
            return
        if isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("digests"), dict):
            self.digests = data["digests"]
        self.blocks = _load_blocks(_blocks_path(path))

    def save(self, path: Path) -> None:
        """The digests; the blocks too when they changed (``build``: serve keeps them in memory, and
        rewriting them after every save would cost more than it saves a later ``build``)."""
        from .cache import _atomic_write

        with contextlib.suppress(OSError):
            _atomic_write(path, pickle.dumps({"format": FORMAT, "digests": self.digests}, protocol=5))
            if self._blocks_changed and not self.retain:
                blocks = {key: str(html) for key, html in self.blocks.items()}
                _atomic_write(_blocks_path(path), pickle.dumps({"format": FORMAT, "blocks": blocks}, protocol=5))
                self._blocks_changed = False

    def _from_old_output(self, keys: Sequence[str]) -> list[bytes | None]:
        """The pages of the previous output the last build made under ``keys`` (None where there
        is none, or its file is gone). ``build`` (``lazy``): each a ``Reuse`` of the file, left
        unread; serve: the bytes, read now. Trusted like the write stage trusts them: the
        manifest says these files have these bytes."""
        if self.old_output is None:
            return [None] * len(keys)
        wanted_of, where_of = self.digests.get, self.old_by_digest.get
        root = str(self.old_output)
        lazy = self.lazy and not self.retain
        present = self.present() if lazy and self.present is not None else None  # the write stage's stat pass
        out: list[bytes | None] = []
        for key in keys:
            wanted = wanted_of(key)
            where = where_of(wanted) if wanted is not None else None
            if wanted is None or where is None:
                out.append(None)
            elif lazy:
                gone = where not in present if present is not None else not os.path.isfile(f"{root}/{where}")
                out.append(None if gone else Reuse(wanted, f"{root}/{where}"))  # type: ignore[arg-type]
            else:
                try:
                    with open(f"{root}/{where}", "rb") as handle:
                        data = handle.read()
                except OSError:
                    data = b""
                out.append(KnownBytes(data, wanted) if data else None)
        return out

    # --- fingerprints ----------------------------------------------------------------------------
    def _feed(self, out: list[bytes], value: Any) -> None:
        """Append a canonical encoding of ``value`` to ``out`` (str first: most context values are)."""
        add = out.append
        if isinstance(value, str):  # also Markup
            data = value.encode("utf-8", "surrogatepass")
            add(b"s%d:" % len(data))
            add(data)
        elif isinstance(value, dict):
            pinned = self._item_fp.get(id(value))
            if pinned is not None and pinned[0] is value:
                add(pinned[1])
                return
            add(b"{%d:" % len(value))
            for k in sorted(value, key=repr) if len(value) > 1 else value:
                for part in (k, value[k]):  # strings inline: page metadata is a dict of strings
                    if type(part) is str:
                        data = part.encode("utf-8", "surrogatepass")
                        add(b"s%d:" % len(data))
                        add(data)
                    else:
                        self._feed(out, part)
            add(b"}")
        elif isinstance(value, (Post, Page)):
            add(self._item(value))
        elif value is None or isinstance(value, (bool, int, float)):
            add(f"{type(value).__name__}:{value!r};".encode())
        elif isinstance(value, (list, tuple)):
            add(b"[%d:" % len(value))
            item_fp = self._item_fp
            for item in value:
                if isinstance(item, (Post, Page)):  # listings: hundreds of posts per page
                    found = item_fp.get(id(item))
                    add(found[1] if found is not None and found[0] is item else self._item(item))
                elif isinstance(item, Tag):
                    add(self._tag(item))
                else:
                    self._feed(out, item)
            add(b"]")
        elif isinstance(value, Tag):
            add(self._tag(value))
        elif isinstance(value, Paginator):
            add(f"pg:{value.number}/{value.total}/{value.base}:".encode())
            self._feed(out, value.items)
        elif isinstance(value, (datetime, date)):
            add(b"d:" + value.isoformat().encode() + b";")
        elif callable(value) and hasattr(value, "__self__") and hasattr(value, "__name__"):
            # Renderer helpers (tags_of, feed_html): pure functions of the site, which ``base`` covers
            add(b"f:" + value.__name__.encode() + b";")
        else:
            ident = self.identity(value)  # objects the build registered (the network, its rounds)
            if ident is None:
                raise Uncacheable
            add(b"o:" + ident.encode() + b";")

    def _item(self, value: Post | Page) -> bytes:
        """A post or page: its cache key (a hash of its source and settings) and whether it is
        shown as unpublished; computed once per build (posts live for the whole build)."""
        found = self._item_fp.get(id(value))
        if found is not None and found[0] is value:
            return found[1]
        ident = self.identity(value)
        if ident is None:
            raise Uncacheable
        flag = b"1" if isinstance(value, Post) and self.unpublished(value) else b"0"
        data = b"p:" + ident.encode() + flag + b";"
        self._item_fp[id(value)] = (value, data)
        return data

    def _tag(self, tag: Tag) -> bytes:
        """A tag's encoding (what templates show of it; its members too with ``deep_tags``), once per build."""
        found = self._tag_fp.get(id(tag))
        if found is None:
            parts = [repr((tag.key, tag.slug, tag.name, tag.description_html, tag.aliases, tag.count)).encode()]
            if self.deep_tags:
                self._feed(parts, tag.posts)
            digest16 = hashlib.blake2b(b"".join(parts), digest_size=16).hexdigest()
            found = self._tag_fp[id(tag)] = b"t:" + digest16.encode() + b";"
        return found


def _blocks_path(memo_path: Path) -> Path:
    return memo_path.with_name(memo_path.stem + "-blocks.pickle")


def _load_blocks(path: Path) -> dict[str, Any]:
    """Blocks saved by an earlier ``build`` (keyed like pages: by the build-wide key and their posts)."""
    from markupsafe import Markup

    try:
        with path.open("rb") as handle:
            data = pickle.load(handle)  # noqa: S301 - our own file in the site's cache folder
    except Exception:  # missing or corrupt: render them again
        return {}
    blocks = data.get("blocks") if isinstance(data, dict) and data.get("format") == FORMAT else None
    if not isinstance(blocks, dict):
        return {}
    return {key: Markup(html) for key, html in blocks.items() if isinstance(key, str) and isinstance(html, str)}  # noqa: S704 - rendered by our templates

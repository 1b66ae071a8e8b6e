"""Reading the site folder: the only place (besides write/serve) that touches the disk.

Everything is read into memory as (relative path, text) pairs so that the
stages after this one are pure and a rebuild can compare contents by hash.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from .errors import SiteError


@dataclass(frozen=True)
class Sources:
    """The texts of a site folder, with POSIX paths relative to the site root."""

    root: Path
    config: str | None
    posts: tuple[tuple[str, str], ...]
    pages: tuple[tuple[str, str], ...]
    tags: str | None
    people: tuple[str, str] | None
    rounds: tuple[tuple[str, str], ...]
    static: tuple[tuple[str, Path], ...]  # (output path, file) of the site's own static/ folder
    # Posts whose text was not read because their size and time match the last build's
    # (``read_sources(known=...)``): path -> the digest recorded then. Their text in ``posts`` is "".
    unread: Mapping[str, str] = field(default_factory=dict)
    # path -> (size, mtime_ns) of every post as found by this read (for the next build's ``known``).
    post_stats: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def forget_post_texts(self, digests: Mapping[str, str]) -> None:
        """Drop the post texts once they are parsed; ``digests`` (path -> digest) stand in for them.

        The one mutation of this otherwise frozen value, so that every holder of it lets go of
        the texts at once (they are most of the memory of a cold build's first half).
        """
        object.__setattr__(self, "posts", tuple((path, "") for path, _ in self.posts))
        object.__setattr__(self, "unread", {**self.unread, **digests})

    def text_of(self, path: str) -> str:
        """A post's text, read now if this build skipped it."""
        return _read(self.root / path, self.root)


def _read(path: Path, root: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SiteError(
            path.relative_to(root).as_posix(), None, f"not UTF-8 text ({exc.reason})", "save the file as UTF-8"
        ) from None


def read_text(root: Path, path: str) -> str:
    """The text of the file at ``path`` (relative to ``root``), as ``read_sources`` reads it."""
    return _read(root / path, root)


def _texts(root: Path, folder: str, pattern: str) -> tuple[tuple[str, str], ...]:
    base = root / folder
    if not base.is_dir():
        return ()
    files = sorted(p for p in base.glob(pattern) if p.is_file() and not _hidden(p.relative_to(base)))
    return tuple((p.relative_to(root).as_posix(), _read(p, root)) for p in files)


def _hidden(relative: Path) -> bool:
    return any(part.startswith((".", "_")) or part.endswith("~") for part in relative.parts)


def scan_posts(root: Path) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of every post file, in the order ``_texts`` reads them; no file is opened.

    ``os.scandir`` gives names and types without a syscall per file; one ``stat`` each remains.
    At 10,000 posts this is ~40 ms where reading every text costs ~2 s on a slow disk.
    """
    base = os.path.join(root, "content", "posts")
    found: list[tuple[tuple[str, ...], str, int, int]] = []

    def walk(folder: str, parts: tuple[str, ...]) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            name = entry.name
            if name.startswith((".", "_")) or name.endswith("~"):
                continue
            if entry.is_dir():
                walk(entry.path, (*parts, name))
            elif name.endswith(".md") and entry.is_file():
                st = entry.stat()
                rel = "/".join(("content", "posts", *parts, name))
                found.append(((*parts, name), rel, st.st_size, st.st_mtime_ns))

    walk(base, ())
    found.sort(key=lambda item: item[0])  # Path order: by parts, as sorted(Path) in _texts
    return [(rel, size, mtime) for _, rel, size, mtime in found]


def posts_in_listing(content: Sequence[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """``scan_posts`` from an existing walk of content/ ((path under content/, size, mtime_ns))."""
    found = []
    for rel, size, mtime in content:
        if not rel.startswith("posts/"):
            continue
        if not is_post_path(rel[6:]):
            continue
        found.append((tuple(rel[6:].split("/")), "content/" + rel, size, mtime))
    found.sort(key=itemgetter(0))
    return [(rel, size, mtime) for _, rel, size, mtime in found]


def _posts(
    root: Path,
    known: Mapping[str, tuple[int, int, str]],
    racy_after: int,
    content: Sequence[tuple[str, int, int]] | None = None,
) -> tuple[tuple[tuple[str, str], ...], dict[str, str], dict[str, tuple[int, int]]]:
    """Posts, reading only files whose size or time differ from ``known`` (path -> size, mtime, digest).

    A file modified at or after ``racy_after`` (ns) is read even when it matches: it may have
    been edited again within the timestamp's resolution after it was recorded.
    """
    posts: list[tuple[str, str]] = []
    unread: dict[str, str] = {}
    stats: dict[str, tuple[int, int]] = {}
    for rel, size, mtime in scan_posts(root) if content is None else posts_in_listing(content):
        stats[rel] = (size, mtime)
        record = known.get(rel)
        if _unchanged(record, size, mtime, racy_after):
            unread[rel] = record[2]  # type: ignore[index]
            posts.append((rel, ""))
        else:
            posts.append((rel, _read(root / rel, root)))
    return tuple(posts), unread, stats


def _optional(root: Path, name: str) -> str | None:
    path = root / name
    return _read(path, root) if path.is_file() else None


def read_sources(
    root: Path,
    known: Mapping[str, tuple[int, int, str]] | None = None,
    racy_after: int = 0,
    content: Sequence[tuple[str, int, int]] | None = None,
) -> Sources:
    """Read site.yaml, content/ and data/ (missing parts are simply empty).

    With ``known`` (the last build's post sizes, times and digests) unchanged posts are not
    read: see ``Sources.unread``. ``content``: a listing of content/ made moments ago
    (``cache.tree_stats``), so the posts are not walked twice.
    """
    _require_folder(root)
    posts, unread, stats = _posts(root, known or {}, racy_after, content)
    return _with_the_rest(root, posts, unread, stats)


def reread_sources(
    prev: Sources,
    changed: Mapping[str, tuple[int, int]],
    known: Mapping[str, tuple[int, int, str]],
    racy_after: int,
) -> Sources:
    """``read_sources`` for serve when the watcher reported only edits of posts ``prev`` already
    has (path -> their new size and mtime_ns): the same posts in the same order, those read
    again (unless their size and time still match ``known``), every other part of the site read
    as usual. At 10,000 posts this skips a stat, a tuple and a sort per post (~50 ms a rebuild).

    ``prev`` is the last build's, after ``forget_post_texts`` (every post in ``unread``).
    """
    root = prev.root
    _require_folder(root)
    posts = list(prev.posts)
    unread = dict(prev.unread)
    stats = dict(prev.post_stats)
    position = {path: i for i, (path, _) in enumerate(posts)} if changed else {}
    for path, (size, mtime) in changed.items():
        stats[path] = (size, mtime)
        record = known.get(path)
        if _unchanged(record, size, mtime, racy_after):
            unread[path] = record[2]  # type: ignore[index]
            posts[position[path]] = (path, "")
        else:
            unread.pop(path, None)
            posts[position[path]] = (path, _read(root / path, root))
    return _with_the_rest(root, tuple(posts), unread, stats)


def _unchanged(record: tuple[int, int, str] | None, size: int, mtime: int, racy_after: int) -> bool:
    """A post whose size and time match the last build's ``record`` and whose time is not so
    recent (``racy_after``) that an edit within the timestamp's resolution could hide."""
    return record is not None and record[0] == size and record[1] == mtime and mtime < racy_after


def is_post_path(rel: str) -> bool:
    """``rel`` (under content/posts/) names a post: a ``.md`` file with no hidden part (``.x``,
    ``_x``, ``x~``) in its path, as ``scan_posts`` and ``posts_in_listing`` decide."""
    marked = "/" + rel + "/"
    return rel.endswith(".md") and not ("/." in marked or "/_" in marked or "~/" in marked)


def _require_folder(root: Path) -> None:
    if not root.is_dir():
        raise SiteError(str(root), None, "site folder not found", "pass --source DIR pointing at a site folder")


def _with_the_rest(
    root: Path,
    posts: tuple[tuple[str, str], ...],
    unread: dict[str, str],
    stats: dict[str, tuple[int, int]],
) -> Sources:
    """Sources with these posts and everything else the site folder holds, read now."""
    people_text = _optional(root, "data/people.yaml")
    static_dir = root / "static"
    static: tuple[tuple[str, Path], ...] = ()
    if static_dir.is_dir():
        static = tuple(
            (p.relative_to(root).as_posix(), p)
            for p in sorted(static_dir.rglob("*"))
            if p.is_file() and not _hidden(p.relative_to(static_dir))
        )
    return Sources(
        root=root,
        config=_optional(root, "site.yaml"),
        posts=posts,
        pages=_texts(root, "content/pages", "*.md"),
        tags=_optional(root, "data/tags.yaml"),
        people=("data/people.yaml", people_text) if people_text is not None else None,
        rounds=_texts(root, "data/rounds", "*.yaml") + _texts(root, "data/rounds", "*.yml"),
        static=static,
        unread=unread,
        post_stats=stats,
    )

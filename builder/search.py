"""Full-text search: a Pagefind index built from the rendered pages, in memory.

The build is pure (pages are bytes in a dict), so this stage takes the rendered
files and returns them plus the ``pagefind/`` bundle. Only pages whose template
marked them with ``data-pagefind-body`` are indexed: published posts. Drafts shown
by ``serve`` and the network pages carry no marker, so no participant name reaches
the index beyond what a published post already says.

Why a temporary folder: Pagefind's Python API answers one request per 0.1 s poll,
so adding 1,000 pages one by one takes 100 s; indexing a folder is one request.
The folder lives only for the duration of the call; nothing outside it is touched.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from .errors import SiteError

BUNDLE = "pagefind/"
SEARCH_PAGE = "search/index.html"
# Diagrams embedded in a post draw names from the round data, not from the post's text.
EXCLUDE = (".nj-diagram",)
VERSION_SLOT = b'data-pagefind-version=""'
INSTALL_HINT = "pip install 'pagefind[bin]', or set search: false in site.yaml"

# An opening tag carrying the attribute (not the words in running text).
_MARKER = re.compile(rb"<[A-Za-z][^<>]*\sdata-pagefind-body(?:[\s=/>])")

# Pagefind writes several ready-made UIs; the theme uses its own small search.js.
_UNUSED = re.compile(r"^pagefind/(pagefind-(component-|modular-)?ui\.(js|css)|pagefind-highlight\.js|playground/.*)$")

_cache: dict[str, dict[str, bytes]] = {}


STALE_OK_ABOVE = 200  # posts; below this re-indexing takes well under a second
_indexed_paths: list[tuple[str, ...]] = []  # the page paths of the cached index


def indexable(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The HTML pages a template marked for indexing, sorted by path (determinism)."""
    return {path: files[path] for path in sorted(files) if path.endswith(".html") and _MARKER.search(files[path])}


def fingerprint(pages: Mapping[str, bytes], version: str) -> str:
    """One key for "the same pages with the same Pagefind", so serve can reuse an index."""
    h = hashlib.sha256(version.encode())
    for path, data in pages.items():
        h.update(path.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def pagefind_version() -> str:
    """The installed Pagefind's version; a SiteError saying how to install it when it is missing."""
    try:
        from pagefind.service import get_executable
    except ImportError:
        raise SiteError("site.yaml", None, "search needs Pagefind, which is not installed", INSTALL_HINT) from None
    executable = get_executable()
    if executable is None or not Path(executable).is_file():
        raise SiteError("site.yaml", None, "search needs the Pagefind binary, which was not found", INSTALL_HINT)
    try:
        from importlib.metadata import version

        return version("pagefind_bin")
    except Exception:  # an externally installed binary: still usable, version unknown
        return "unknown"


def index_files(files: Mapping[str, bytes], config: Any = None, stale_ok: bool = False) -> dict[str, bytes]:
    """Pagefind bundle (``pagefind/...`` -> bytes) for the marked pages in ``files``.

    ``stale_ok`` (the live preview): on a large site, reuse the index built when the
    preview started instead of spending seconds re-indexing on every save — as long as
    the same pages exist (a new or removed post is always indexed).
    """
    pages = indexable(files)
    paths = tuple(pages)
    if stale_ok and _cache and len(pages) > STALE_OK_ABOVE and _indexed_paths == [paths]:
        return dict(next(iter(_cache.values())))
    key = fingerprint(pages, pagefind_version())
    _indexed_paths[:] = [paths]
    if key not in _cache:
        language = getattr(config, "language", None)
        bundle = _run_sync(_run_pagefind(pages, language))
        _cache.clear()  # one entry: serve rebuilds the same site again and again
        _cache[key] = bundle
    return dict(_cache[key])


def _run_sync(job: Any) -> dict[str, bytes]:
    """Run a coroutine to completion, even when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(job)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, job).result()


async def _run_pagefind(pages: Mapping[str, bytes], language: str | None) -> dict[str, bytes]:
    from pagefind.index import IndexConfig, PagefindIndex

    with tempfile.TemporaryDirectory(prefix="netjournal-search-") as tmp:
        root = Path(tmp)
        site, out = root / "site", root / "bundle"
        for path, data in pages.items():
            target = site / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        site.mkdir(exist_ok=True)
        config = IndexConfig(output_path=str(out), exclude_selectors=list(EXCLUDE))
        if language:
            config["force_language"] = language.split("-")[0].lower()
        try:
            async with PagefindIndex(config) as index:
                await index.add_directory(str(site))
        except Exception as exc:
            raise SiteError(
                "site.yaml", None, f"Pagefind could not build the search index: {exc}", INSTALL_HINT
            ) from None
        bundle = {}
        for file in sorted(out.rglob("*")):
            if file.is_file():
                name = BUNDLE + file.relative_to(out).as_posix()
                if not _UNUSED.match(name):
                    bundle[name] = file.read_bytes()
        return bundle


def stamp_search_page(page: bytes, bundle: Mapping[str, bytes]) -> bytes:
    """The search page with a hash of ``pagefind.js`` filled in, so a new Pagefind busts caches."""
    script = bundle.get(BUNDLE + "pagefind.js")
    if script is None:
        return page
    digest = hashlib.sha256(script).hexdigest()[:10].encode()
    return page.replace(VERSION_SLOT, b'data-pagefind-version="' + digest + b'"')


def add_search(files: MutableMapping[str, bytes], config: Any, stale_ok: bool = False) -> MutableMapping[str, bytes]:
    """The build's one call: adds the search bundle to ``files`` and returns it.

    In place, because the build's mapping may keep unchanged files on disk: copying it
    would read them all back. Nothing is added when search is off.
    """
    if not getattr(config, "search", False):
        return files
    bundle = index_files(files, config, stale_ok=stale_ok)
    clash = sorted(set(bundle) & set(files))
    if clash:
        raise SiteError(
            clash[0], None, "this file clashes with the search index folder pagefind/",
            "rename it, or set search: false in site.yaml",
        )  # fmt: skip
    if SEARCH_PAGE in files:
        files[SEARCH_PAGE] = stamp_search_page(files[SEARCH_PAGE], bundle)
    files.update(bundle)
    return files

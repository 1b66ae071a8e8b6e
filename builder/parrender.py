"""Rendering the pages across cores when a build renders most of them (cold builds).

Jinja and the file writes are about half of a cold build and hold the GIL. When the
first pages of a build show that most pages are being rendered afresh (no earlier
output, a template change, ``--no-cache``), the process forks mid-loop: each process
walks the same page sequence (so every path and every duplicate is seen by all of
them), but renders only its share, in chunks taken in turn, and writes what it
rendered straight into the build's one staging folder. The children send back what
they did ({path: digest and where the bytes are}, the page-cache entries) and exit;
the parent adopts their files in page order. The output does not depend on how the
work was split: each page is rendered by exactly one process from the same site model.

Nothing else changes: ``serve`` (which keeps rendered pages in memory between
rebuilds and runs threads) and builds that reuse most pages stay in one process.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Iterator, MutableMapping
from typing import Any

from .errors import SiteError

PROBE = 24  # pages rendered in this process before deciding whether to fork
FRESH_SHARE = 0.75  # ... and the share of them rendered afresh (not reused) that makes forking pay
MIN_POSTS = 300  # below this many posts the fork, the duplicated keys and the merge cost more than they save
CHUNK = 8  # consecutive pages one process renders before the next process's turn


class Skipped(bytes):
    """What ``Renderer.render_keyed`` returns for a page another process renders."""


SKIPPED = Skipped()


class Share:
    """Which pages this process renders: pages are numbered in the order every process meets
    them, from the fork on, and taken in chunks of ``CHUNK`` in turn."""

    def __init__(self, index: int, count: int) -> None:
        self.index = index
        self.count = count
        self.seen = 0
        self.taken = False  # whether the page just met is this process's (reset per page by the loop)

    def take(self) -> bool:
        mine = (self.seen // CHUNK) % self.count == self.index
        self.seen += 1
        self.taken = mine
        return mine


def render_pages(renderer: Any, out: MutableMapping[str, bytes], jobs: int) -> None:
    """Put every page of ``renderer`` into ``out``, in page order.

    ``jobs``: processes that may render (1: this one only). Raises the error of the first
    failing page, as a build in one process would.
    """
    pages = renderer.pages()
    order: list[str] = []
    seen: set[str] = set()
    can_fork = jobs > 1 and _fork_safe(renderer)
    for item in pages:
        if type(item) is not tuple:  # a fast pass's reused pages (render.KeptPages): never forks
            _add_kept(item, out, order, seen)
            continue
        path, data = item
        _add(path, data, out, order, seen)
        if can_fork and renderer.renders >= PROBE:
            can_fork = False
            if (
                renderer.fresh >= FRESH_SHARE * renderer.renders
                and len(renderer.site.posts) >= MIN_POSTS
                and not getattr(renderer, "fast_pass", False)  # a few pages of an edit, rendered up front
            ):
                _render_forked(renderer, pages, out, order, seen, jobs)
                return


def _add(path: str, data: bytes, out: MutableMapping[str, bytes], order: list[str], seen: set[str]) -> None:
    if path in seen or path in out:
        raise SiteError(path, None, "two pages were rendered to the same path", "check slugs and page names")
    seen.add(path)
    order.append(path)
    if data is not SKIPPED:
        out[path] = data


def _add_kept(kept: Any, out: MutableMapping[str, bytes], order: list[str], seen: set[str]) -> None:
    """``_add`` for many pages at once (``render.KeptPages``), with the same duplicate check."""
    paths = kept.paths
    before = len(seen)
    seen.update(paths)
    names = out.names() if hasattr(out, "names") else out.keys()
    if len(seen) != before + len(paths) or not names.isdisjoint(paths):
        taken = set(names) | (seen - set(paths))
        twice = next((p for i, p in enumerate(paths) if p in taken or p in paths[:i]), paths[0])
        raise SiteError(twice, None, "two pages were rendered to the same path", "check slugs and page names")
    order.extend(paths)
    keep = getattr(out, "keep_unchanged", None)
    if keep is not None:
        keep(paths, kept.data)
    else:
        out.update(zip(paths, kept.data, strict=True))


def _fork_safe(renderer: Any) -> bool:
    """Fork only a single-threaded process that keeps no page bytes between builds (not serve)."""
    memo = renderer.memo
    return hasattr(os, "fork") and threading.active_count() == 1 and not (memo is not None and memo.retain)


def _render_forked(
    renderer: Any,
    pages: Iterator[tuple[str, bytes]],
    out: MutableMapping[str, bytes],
    order: list[str],
    seen: set[str],
    jobs: int,
) -> None:
    prepare = getattr(out, "prepare_for_workers", None)
    if prepare is not None:
        prepare()  # one staging folder and one stat pass, shared by every process
    from .forked import frozen_for_fork

    children: list[tuple[int, int]] = []
    with frozen_for_fork():
        for index in range(1, jobs):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: render its share, report, exit without running the parent's cleanup
                os.close(read_end)
                _child(renderer, pages, out, Share(index, jobs), write_end)
            os.close(write_end)
            children.append((pid, read_end))
    share = Share(0, jobs)
    renderer.share = share
    failure: tuple[int, BaseException] | None = None
    try:
        for item in pages:  # this process's pages, the others' (SKIPPED) and non-template files
            if type(item) is not tuple:
                _add_kept(item, out, order, seen)
                continue
            _add(*item, out, order, seen)
    except SiteError as exc:
        failure = (share.seen, exc)
    except BaseException:
        _stop(children)
        raise
    finally:
        renderer.share = None
    results = [_collect(pid, fd) for pid, fd in children]
    for result in results:
        if result[0] == "error" and (failure is None or result[1] < failure[0]):
            failure = (result[1], _rebuild_error(result[2]))
    if failure is not None:
        raise failure[1]
    adopt = getattr(out, "adopt", None)
    for result in results:
        files, memo_digests, fresh = result[1], result[2], result[3]
        for path, entry in files.items():
            if adopt is not None:
                adopt(path, *entry)
            else:
                out[path] = entry[2]
        if renderer.memo is not None:
            renderer.memo.adopt(memo_digests)
        renderer.fresh += fresh
    reorder = getattr(out, "reorder", None)
    if reorder is not None:
        reorder(order)
    elif isinstance(out, dict):
        items = {path: out.pop(path) for path in order if path in out}
        rest = dict(out)
        out.clear()
        out.update(items)
        out.update(rest)


def _walk(pages: Iterator[tuple[str, bytes]], share: Share) -> Iterator[tuple[str, bytes]]:
    """The remaining pages, with ``share.taken`` telling for each whether this process rendered it."""
    while True:
        share.taken = False
        try:
            item = next(pages)
        except StopIteration:
            return
        yield item


def _child(renderer: Any, pages: Iterator[tuple[str, bytes]], out: Any, share: Share, write_end: int) -> None:
    """Render this process's share and send back where it put the pages; never returns."""
    status = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: the parent stops us
        renderer.share = share
        if renderer.memo is not None:
            renderer.memo.on_page = None  # the parent draws the progress bar
        fresh_before = renderer.fresh
        mine: list[str] = []
        try:
            for item in _walk(pages, share):
                if type(item) is not tuple:
                    continue  # reused pages: the parent's
                path, data = item
                if share.taken:  # rendered here (pages not rendered by a template are the parent's)
                    out[path] = data
                    mine.append(path)
            export = getattr(out, "export", None)
            files = {p: export(p) if export is not None else ("", None, out[p]) for p in mine}
            digests = renderer.memo.used_digests() if renderer.memo is not None else {}
            payload: tuple[Any, ...] = ("ok", files, digests, renderer.fresh - fresh_before)
        except SiteError as exc:
            payload = ("error", share.seen, ("site", exc.path, exc.line, exc.message, exc.hint))
        except BaseException:  # a bug: the parent raises it with this traceback
            payload = ("error", share.seen, ("bug", traceback.format_exc()))
        with os.fdopen(write_end, "wb") as pipe:
            pickle.dump(payload, pipe, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _collect(pid: int, read_end: int) -> tuple[Any, ...]:
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        return ("error", -1, ("bug", f"a rendering process ended without a result (status {status})"))
    result: tuple[Any, ...] = pickle.loads(data)  # noqa: S301 - our own child, over our own pipe
    return result


def _rebuild_error(info: tuple[Any, ...]) -> BaseException:
    if info[0] == "site":
        return SiteError(*info[1:])
    return RuntimeError("a page failed to render in a worker process:\n" + info[1])


def _stop(children: list[tuple[int, int]]) -> None:
    """Interrupted: stop the children and reap them (so none writes into a removed staging folder)."""
    for pid, read_end in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        os.close(read_end)
    for pid, _ in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

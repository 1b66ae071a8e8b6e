"""Markdown rendering across cores for cold builds.

Python-Markdown is most of a cold build and holds the GIL, so posts are parsed in
worker processes (``fork`` when the process has one thread, else ``forkserver``),
in chunks, and the results are put back in source order: the output does not
depend on how the work was split. The optional cmark engine parses a post in well
under a millisecond, so a pool (texts pickled out, posts pickled back) would cost more
than it saves; from ``MIN_FORK_FAST`` posts the list is split between forked
processes instead, each inheriting the texts and sending back only parsed posts.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .config import MARKDOWN_ENGINES
from .errors import SiteError, SiteErrors

# Below this many posts to parse, starting processes costs more than it saves.
MIN_PARALLEL = 48

DEFAULT_ENGINE = MARKDOWN_ENGINES[0]
# Engines fast enough that worker processes cost more than they save (measured: README, Performance).
IN_PROCESS_ENGINES = frozenset({"cmark"})
# ... until there are this many: then the other cores are worth the processes and the pickling
# (cold 10,000-post cmark build on 2 cores: 11.9-16.8 s with workers, 17.4-21.8 s in one process;
# at 1,000 posts one process was faster, 1.0 s against 1.6-2.0 s).
MIN_PARALLEL_FAST = 2000

# A fast engine's posts are split between forked processes from this many (each inherits the
# texts, so only the parsed posts travel, through a spool file): no pool, no texts pickled.
MIN_FORK_FAST = 400
SPOOL_CHUNK = 100  # outcomes per pickle in a child's spool file (the parent loads them one by one)

ErrorTuple = tuple[str, int | None, str, str]
Outcome = tuple[str, Any]  # ("ok", Post) or ("errors", [ErrorTuple, ...])


def workers() -> int:
    """Cores this process may use (``NETJOURNAL_JOBS`` overrides, e.g. 1 to stay in one process)."""
    wanted = os.environ.get("NETJOURNAL_JOBS", "")
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _as_tuples(errors: Sequence[SiteError]) -> list[ErrorTuple]:
    # SiteError pickles awkwardly (a dataclass exception); plain tuples cross processes safely.
    return [(e.path, e.line, e.message, e.hint) for e in errors]


def parse_one(kind: str, path: str, text: str, tz_name: str, base_path: str, engine: str = DEFAULT_ENGINE) -> Outcome:
    """Parse one post or page with ``engine``; errors come back as data, not as exceptions."""
    from zoneinfo import ZoneInfo

    from .content import parse_page, parse_post
    from .markup import ENGINE

    token = ENGINE.set(engine)  # content.py renders the body; it reads the engine from here
    try:
        if kind == "post":
            return "ok", parse_post(path, text, ZoneInfo(tz_name), base_path)
        return "ok", parse_page(path, text, base_path)
    except SiteError as exc:
        return "errors", _as_tuples([exc])
    except SiteErrors as exc:
        return "errors", _as_tuples(exc.errors)
    finally:
        ENGINE.reset(token)


def _parse_chunk(
    kind: str, items: Sequence[tuple[str, str]], tz_name: str, base_path: str, engine: str
) -> list[Outcome]:
    return [parse_one(kind, path, text, tz_name, base_path, engine) for path, text in items]


def to_errors(outcome: Outcome) -> list[SiteError]:
    return [SiteError(*t) for t in outcome[1]]


def parse_all(
    kind: str,
    items: Sequence[tuple[str, str]],
    tz_name: str,
    base_path: str,
    jobs: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    engine: str = DEFAULT_ENGINE,
) -> list[Outcome]:
    """Outcomes for ``items`` in their order; parallel when there are enough of them (and worth it)."""
    jobs = workers() if jobs is None else jobs
    total = len(items)
    fast = engine in IN_PROCESS_ENGINES
    if fast and jobs > 1 and total >= MIN_FORK_FAST and hasattr(os, "fork") and threading.active_count() == 1:
        return _parse_forked(kind, items, tz_name, base_path, engine, jobs, on_progress)
    if jobs <= 1 or total < (MIN_PARALLEL_FAST if fast else MIN_PARALLEL):
        out = []
        for index, (path, text) in enumerate(items):
            if on_progress is not None and index % 100 == 0:
                on_progress(index, total)
            out.append(parse_one(kind, path, text, tz_name, base_path, engine))
        return out
    # Many small chunks keep both cores busy to the end and let the bar move.
    size = max(8, min(200, total // (jobs * 8) or 1))
    chunks = [items[i : i + size] for i in range(0, total, size)]
    method = "fork" if threading.active_count() == 1 else "forkserver"
    context = multiprocessing.get_context(method)
    results: list[list[Outcome]] = [[] for _ in chunks]
    done = 0
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {
            pool.submit(_parse_chunk, kind, chunk, tz_name, base_path, engine): i for i, chunk in enumerate(chunks)
        }
        from concurrent.futures import as_completed

        for future in as_completed(futures):
            index = futures[future]
            results[index] = future.result()
            done += len(chunks[index])
            if on_progress is not None:
                on_progress(done, total)
    return [outcome for chunk in results for outcome in chunk]


def _parse_forked(
    kind: str,
    items: Sequence[tuple[str, str]],
    tz_name: str,
    base_path: str,
    engine: str,
    jobs: int,
    on_progress: Callable[[int, int], None] | None,
) -> list[Outcome]:
    """``items`` split into ``jobs`` contiguous slices: the first parsed here, the others in forked
    children that write their outcomes to spool files; returned in source order either way.

    A child that fails (it never should: content errors are outcomes) leaves its slice to this
    process, so the result never depends on it.
    """
    total = len(items)
    bounds = [total * i // jobs for i in range(jobs + 1)]
    children: list[tuple[int, Any, int, int]] = []
    from .forked import frozen_for_fork

    with frozen_for_fork():
        for index in range(1, jobs):
            low, high = bounds[index], bounds[index + 1]
            spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after the child is reaped
            pid = os.fork()
            if pid == 0:  # the child: parse its slice into the spool file, exit without cleanup
                status = 0
                try:
                    for start in range(low, high, SPOOL_CHUNK):
                        chunk = items[start : min(start + SPOOL_CHUNK, high)]
                        pickle.dump(_parse_chunk(kind, chunk, tz_name, base_path, engine), spool, protocol=5)
                    spool.flush()
                except BaseException:
                    status = 1
                finally:
                    os._exit(status)
            children.append((pid, spool, low, high))
    outcomes: list[Outcome] = []
    mine = bounds[1]
    try:
        for index, (path, text) in enumerate(items[:mine]):
            if on_progress is not None and index % 100 == 0:
                on_progress(index * jobs, total)
            outcomes.append(parse_one(kind, path, text, tz_name, base_path, engine))
    except BaseException:
        for pid, spool, _, _ in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
            spool.close()
        raise
    for pid, spool, low, high in children:
        _, status = os.waitpid(pid, 0)
        theirs = _read_spool(spool) if status == 0 else None
        spool.close()
        if theirs is None or len(theirs) != high - low:
            theirs = _parse_chunk(kind, items[low:high], tz_name, base_path, engine)
        outcomes.extend(theirs)
    if on_progress is not None:
        on_progress(total, total)
    return outcomes


def _read_spool(spool: Any) -> list[Outcome] | None:
    spool.seek(0)
    out: list[Outcome] = []
    while True:
        try:
            out.extend(pickle.load(spool))  # noqa: S301 - written by our own child
        except EOFError:
            return out
        except Exception:  # a damaged spool: parse that slice here instead
            return None

"""Markdown rendering across cores for cold builds.

Python-Markdown is most of a cold build and holds the GIL, so posts are parsed in
worker processes (``fork`` when the process has one thread, else ``forkserver``),
in chunks, and the results are put back in source order: the output does not
depend on how the work was split. The optional cmark engine parses a post in well
under a millisecond, so with it everything stays in this process: starting workers
and pickling posts back would cost more than they save.
"""

from __future__ import annotations

import multiprocessing
import os
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

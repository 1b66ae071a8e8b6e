"""Pure work split between this process and forked children (results back through pipes).

For a stage that runs on one core while the other is idle (a cold build's related posts:
~2 s at 10,000 posts), the items are cut into contiguous slices; children inherit
everything they need by ``fork`` and send back only their results. Nothing depends on a
child: one that fails leaves its slice to this process, so the result is always the same.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@contextlib.contextmanager
def frozen_for_fork() -> Iterator[None]:
    """Around forking: everything alive is moved out of the cyclic collector's reach, so the
    children's collections do not touch (and so copy) the inherited objects; restored after
    (a build that froze them already keeps them frozen)."""
    here = gc.get_freeze_count() == 0
    if here:
        gc.freeze()
    try:
        yield
    finally:
        if here:
            gc.unfreeze()


def start(work: Callable[[], Any]) -> tuple[int, int]:
    """Fork a child that pickles ``work()`` into a pipe and exits at once (without this
    process's cleanup); returns (pid, read end) for ``collect``."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read_end)
            with os.fdopen(write_end, "wb") as pipe:
                pickle.dump(work(), pipe, protocol=pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def can_fork() -> bool:
    """A fork keeps only the calling thread: only a process without other threads forks."""
    return hasattr(os, "fork") and threading.active_count() == 1


def map_forked(work: Callable[[Sequence[T]], list[R]], items: Sequence[T], jobs: int, minimum: int) -> list[R]:
    """``work(items)``, computed in ``jobs`` processes when there are at least ``minimum`` items.

    ``work`` must be a pure function of the slice it is given (and of what the process holds),
    returning one picklable result per item, in order.
    """
    if jobs <= 1 or len(items) < minimum or not can_fork():
        return work(items)
    bounds = [len(items) * i // jobs for i in range(jobs + 1)]
    children: list[tuple[int, int, int, int]] = []
    with frozen_for_fork():
        for index in range(1, jobs):
            low, high = bounds[index], bounds[index + 1]
            children.append((*start(partial(work, items[low:high])), low, high))
    try:
        results = work(items[: bounds[1]])
    except BaseException:
        for pid, read_end, _, _ in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            os.close(read_end)
            os.waitpid(pid, 0)
        raise
    for pid, read_end, low, high in children:
        theirs = collect(pid, read_end)
        if not isinstance(theirs, list) or len(theirs) != high - low:
            theirs = work(items[low:high])  # the child failed: its slice here
        results.extend(theirs)
    return results


def collect(pid: int, read_end: int) -> Any:
    """What a forked child pickled into its pipe, once it has exited; None if it failed (no
    answer, a bad exit status, or bytes that do not unpickle)."""
    try:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
    finally:
        _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return None
    try:
        return pickle.loads(data)  # noqa: S301 - our own child, over our own pipe
    except Exception:
        return None

"""The network's metrics and layout, computed in a second process while this one parses posts.

On a cold build the round data's metrics and force layout (a few hundred milliseconds for
a couple of hundred people, seconds for thousands) depend on the round data alone, yet
were computed after every post had been parsed, with the other core idle. When a second
core is free, a forked child computes them into an empty ``MetricsCache`` and sends the
entries back; the parent puts them in its own cache, so ``build_network`` finds them
there and computes only the post links and views. Nothing depends on the child working:
if it fails or is slow to start, the parent computes everything itself, as before.
"""

from __future__ import annotations

import os
import pickle
import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class Warmup:
    """A child computing the network's metrics and layout; ``finish`` takes its results."""

    pid: int
    read_end: int

    def finish(self, cache: Any) -> bool:
        """Wait for the child and copy its metrics and layouts into ``cache``; False if it failed."""
        try:
            with os.fdopen(self.read_end, "rb") as pipe:
                data = pipe.read()
        finally:
            os.waitpid(self.pid, 0)
        if not data:
            return False
        try:
            rounds, layouts = pickle.loads(data)  # noqa: S301 - our own child, over our own pipe
        except Exception:  # a truncated result: compute in this process instead
            return False
        cache.rounds.update(rounds)
        cache.layouts.update(layouts)
        return True


def start(round_data: Any, settings: Any, jobs: int) -> Warmup | None:
    """Fork a child computing the network for ``round_data`` (None when it would not pay or is unsafe)."""
    if jobs <= 1 or not hasattr(os, "fork") or threading.active_count() != 1:
        return None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child (tested through the parent: its cache entries and the same output)
        status = 0
        try:
            os.close(read_end)
            from .metrics import MetricsCache
            from .network import build_network

            cache = MetricsCache()
            build_network(round_data, settings, cache=cache)
            with os.fdopen(write_end, "wb") as pipe:
                pickle.dump((cache.rounds, cache.layouts), pipe, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    return Warmup(pid, read_end)

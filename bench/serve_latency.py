"""`serve` save -> reloaded page, split into the rebuild and everything around it.

Used by ``bench/run.py --serve``. The server runs with ``NETJOURNAL_SERVE_DEBUG=1``
and prints, for every rebuild, the ``time.monotonic()`` stamps of the first file
event and of the reload event being published, and how long ``Builder.build``
took. On Linux that clock is shared by every process, so those stamps line up
with the moment the benchmark saved the file:

    save -> first file event (inotify + watchdog) -> quiet wait -> build
         -> reload published -> reload received -> page fetched (-> its CSS/JS)

"overhead" is everything but the build. Two ways of saving are measured:
``write`` (the file rewritten in place) and ``rename`` (a temporary file renamed
over the post, as vim, emacs and JetBrains editors do).

With ``--serve-browser`` the same edits are made with headless Chromium showing
the post, and the time is until the reloaded document shows the new title; the
browser's own navigation timings say how long its reload took and whether it
fetched more than the page.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import http.client
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.corpus import post_path

TRACE = re.compile(
    r"quiet wait (?P<quiet>[\d.]+) ms, .*?build (?P<build>[\d.]+) ms \(builder says (?P<builder>[\d.]+|-)\).*?"
    r"\[event@(?P<event>[\d.]+) sent@(?P<sent>[\d.]+)\]"
)
BUILT = re.compile(r"built \d+ pages in (?P<ms>\d+) ms")
ASSETS = re.compile(rb'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src)="(/[^"]+)"')


class EventStream:
    """Reads the preview server's Server-Sent Events in a thread; records (monotonic time, event)."""

    def __init__(self, host: str, port: int):
        self.events: list[tuple[float, str]] = []
        self.cond = threading.Condition()
        self.conn = http.client.HTTPConnection(host, port, timeout=120)
        self.conn.request("GET", "/__netjournal/events")
        self.response = self.conn.getresponse()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError, http.client.HTTPException):
            for raw in self.response:
                line = raw.decode(errors="replace").strip()
                if line.startswith("event:"):
                    with self.cond:
                        self.events.append((time.monotonic(), line.partition(":")[2].strip()))
                        self.cond.notify_all()

    def wait_for(self, name: str, after: int, timeout: float) -> float | None:
        with self.cond:
            ok = self.cond.wait_for(lambda: any(e == name for _, e in self.events[after:]), timeout=timeout)
            if not ok:
                return None
            return next(t for t, e in self.events[after:] if e == name)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


class ServerLog:
    """Collects the server's stderr lines (kept drained, so the server never blocks on it)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[tuple[float, str]] = []  # (monotonic time read, line)
        self.cond = threading.Condition()

    def wait_for_url(self, timeout: float = 900) -> str:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("serve exited before it was ready")
            found = re.search(r"at (http://\S+)", line)
            if found:
                threading.Thread(target=self._drain, daemon=True).start()
                return found.group(1)
        raise RuntimeError("serve did not start")

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append((time.monotonic(), line))
                self.cond.notify_all()

    def trace_after(self, saved: float, timeout: float = 30) -> dict[str, float] | None:
        """The rebuild trace whose first event came after ``saved``.

        A server without ``NETJOURNAL_SERVE_DEBUG`` support (an older netjournal, for before/after
        figures) prints only ``built N pages in X ms``: then that is the build time.
        """

        def find() -> dict[str, float] | None:
            for read, line in self.lines:
                built = BUILT.search(line)
                if built and read >= saved and not any("timing:" in text for _, text in self.lines):
                    return {"build": float(built["ms"]) / 1000}
                m = TRACE.search(line)
                if m and float(m["event"]) >= saved:
                    builder = m["builder"]
                    return {
                        "event": float(m["event"]) - saved,
                        "quiet": float(m["quiet"]) / 1000,
                        "build": float(m["build"]) / 1000,
                        "builder": float(builder) / 1000 if builder != "-" else float("nan"),
                        "sent": float(m["sent"]) - saved,
                    }
            return None

        with self.cond:
            found: list[dict[str, float] | None] = [None]

            def ready() -> bool:
                found[0] = find()
                return found[0] is not None

            self.cond.wait_for(ready, timeout=timeout)
            return found[0]

    def count_since(self, marker: str, since: float) -> int:
        """Lines containing ``marker`` read since ``since`` (rebuilds started: "changed:")."""
        with self.cond:
            return sum(1 for read, line in self.lines if read >= since and marker in line)


def fetch(host: str, port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


def save(target: Path, text: str, how: str) -> None:
    """Save like an editor: rewrite in place, or write a temporary file and rename it over."""
    if how == "write":
        target.write_text(text, encoding="utf-8")
        return
    temp = target.with_name(target.name + ".tmp")  # an editor's temporary (ignored by serve)
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, target)


def edited_text(original: str, round_no: int) -> tuple[str, str]:
    title = f"Edited title {round_no}"
    text = re.sub(r"^title: .*$", f"title: {title}", original, count=1, flags=re.M)
    return text + f"\n\nEdit number {round_no}.\n", title


@contextlib.contextmanager
def running_server(site: Path, env: dict[str, str]) -> Iterator[tuple[ServerLog, str, int]]:
    cmd = [sys.executable, "-m", "builder", "serve", "--source", str(site), "--port", "0"]
    env = {**env, "NETJOURNAL_SERVE_DEBUG": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    log = ServerLog(proc)
    try:
        url = log.wait_for_url()
        host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()  # type: ignore[union-attr]
        yield log, host, int(port)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def http_edits(
    log: ServerLog, host: str, port: int, target: Path, original: str, how: str, repeat: int, say: Any
) -> list[dict[str, float]]:
    """Save -> 'reload' event -> page fetched -> its CSS/JS fetched (six at a time, like a browser)."""
    stream = EventStream(host, port)
    runs: list[dict[str, float]] = []
    try:
        time.sleep(0.5)
        for i in range(repeat + 1):  # the first edit warms the in-memory caches; not counted
            text, title = edited_text(original, 100 + i + (0 if how == "write" else 50))
            seen = len(stream.events)
            saved = time.monotonic()
            save(target, text, how)
            received = stream.wait_for("reload", seen, timeout=300)
            if received is None:
                raise RuntimeError("serve sent no reload event within 300 s")
            body = fetch(host, port, f"/posts/{target.stem}/")
            fetched = time.monotonic()
            if title.encode() not in body:
                raise RuntimeError("the reloaded page does not show the edit")
            assets = sorted({m.decode() for m in ASSETS.findall(body)})
            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                list(pool.map(lambda a: fetch(host, port, a), assets))
            with_assets = time.monotonic()
            trace = log.trace_after(saved) or {}
            run = {
                "total": fetched - saved,
                "with_assets": with_assets - saved,
                "assets": float(len(assets)),
                "received": received - saved,
                "builds": float(log.count_since("changed:", saved)),
                **trace,
            }
            run["overhead"] = run["total"] - run.get("build", float("nan"))
            if i:
                runs.append(run)
            say(
                f"  {how}: save -> page {run['total'] * 1000:.0f} ms "
                f"(build {run.get('build', float('nan')) * 1000:.0f}, other {run['overhead'] * 1000:.0f}; "
                f"+{len(assets)} CSS/JS {run['with_assets'] * 1000:.0f} ms)"
            )
            time.sleep(0.3)
    finally:
        stream.close()
    return runs


NAVIGATION_TIMINGS = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  const p = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');
  const r = performance.getEntriesByType('resource').map(e => e.name.replace(location.origin, '')
      + ' ' + Math.round(e.responseEnd) + 'ms');
  return {origin: performance.timeOrigin, response: n.responseEnd, dcl: n.domContentLoadedEventEnd,
          load: n.loadEventEnd, paint: p ? p.startTime : n.domContentLoadedEventEnd, resources: r};
}"""

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def browser_edits(
    log: ServerLog, host: str, port: int, target: Path, original: str, how: str, repeat: int, say: Any
) -> list[dict[str, float]]:
    """Headless Chromium shows the post; save -> the reloaded document's first contentful paint.

    Timed by the browser itself (navigation and paint timing against ``performance.timeOrigin``),
    so Playwright's own polling is not part of the figure; the new title is checked to be there.
    """
    from playwright.sync_api import sync_playwright

    runs: list[dict[str, float]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"http://{host}:{port}/posts/{target.stem}/")
            time.sleep(0.5)
            for i in range(repeat + 1):
                text, title = edited_text(original, 300 + i + (0 if how == "write" else 50))
                mark_current_document(page)
                saved_epoch, saved = time.time(), time.monotonic()
                save(target, text, how)
                page.wait_for_function(
                    "t => !window.__old && document.title.includes(t)", arg=title, timeout=300_000, polling="raf"
                )
                page.wait_for_load_state("load")
                nav = page.evaluate(NAVIGATION_TIMINGS)
                trace = log.trace_after(saved) or {}
                began = nav["origin"] / 1000 - saved_epoch
                run = {
                    "total": began + nav["paint"] / 1000,  # the reloaded page's first contentful paint
                    "navigation_start": began,
                    "response_end": nav["response"] / 1000,
                    "dom_content_loaded": nav["dcl"] / 1000,
                    "paint": nav["paint"] / 1000,
                    "load": nav["load"] / 1000,
                    "resources": float(len(nav["resources"])),
                    "builds": float(log.count_since("changed:", saved)),
                    **trace,
                }
                run["overhead"] = run["total"] - run.get("build", float("nan"))
                if i:
                    runs.append(run)
                say(
                    f"  {how} (browser): save -> reloaded page painted {run['total'] * 1000:.0f} ms "
                    f"(build {run.get('build', float('nan')) * 1000:.0f}, other {run['overhead'] * 1000:.0f}: "
                    f"reload began at +{began * 1000:.0f} ms, then response {nav['response']:.0f} ms, "
                    f"DOMContentLoaded {nav['dcl']:.0f} ms, painted {nav['paint']:.0f} ms, load {nav['load']:.0f} ms; "
                    f"fetched {', '.join(nav['resources'])})"
                )
                time.sleep(0.3)
        finally:
            browser.close()
    return runs


def mark_current_document(page: Any, tries: int = 20) -> None:
    """Flag the document on show, so the reloaded one is told apart (retried while a reload is under way)."""
    for _ in range(tries):
        try:
            page.wait_for_load_state("load")
            page.evaluate("window.__old = true")
            return
        except Exception as exc:  # Playwright: "Execution context was destroyed" during a navigation
            if "context was destroyed" not in str(exc):
                raise
            time.sleep(0.2)
    raise RuntimeError("the page kept navigating")


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for r in runs for k in r})
    return {k: statistics.median([r[k] for r in runs if k in r]) for k in keys}


def measure_serve(args: argparse.Namespace, posts: int, site: Path, env: dict[str, str], say: Any) -> dict[str, Any]:
    """Median save -> reloaded page per way of saving, with the rebuild and the rest apart."""
    modes = ["write", "rename"] if getattr(args, "serve_save", "both") == "both" else [args.serve_save]
    target = post_path(site, max(1, posts // 3), args.seed)
    original = target.read_text(encoding="utf-8")
    out: dict[str, Any] = {"posts": posts, "modes": {}}
    try:
        with running_server(site, env) as (log, host, port):
            for how in modes:
                runs = http_edits(log, host, port, target, original, how, args.repeat, say)
                out["modes"][how] = {"median": medians(runs), "runs": runs}
                if getattr(args, "serve_browser", False):
                    runs = browser_edits(log, host, port, target, original, how, args.repeat, say)
                    out["modes"][how + "+browser"] = {"median": medians(runs), "runs": runs}
    finally:
        target.write_text(original, encoding="utf-8")
    first = out["modes"][modes[0]]
    out["reload"] = first["median"]["total"]  # the headline figure: the first way of saving
    out["runs"] = [r["total"] for r in first["runs"]]
    return out


def summary(s: dict[str, Any]) -> list[str]:
    """Table lines for the report."""
    lines = []
    for how, data in s["modes"].items():
        m: dict[str, float] = data["median"]

        def ms(key: str, m: dict[str, float] = m) -> str:
            return f"{m[key] * 1000:.0f}" if key in m else "-"

        browser = how.endswith("+browser")
        lines.append(
            f"`serve`, save ({how}) → {'reloaded page painted in Chromium' if browser else 'reloaded page fetched'}, "
            f"{s['posts']:,} posts: {ms('total')} ms median = rebuild {ms('build')} ms + other {ms('overhead')} ms "
            f"(file event {ms('event')}, quiet wait {ms('quiet')}, reload sent {ms('sent')}"
            + (
                f", reload began {ms('navigation_start')}, then response +{ms('response_end')}, "
                f"painted +{ms('paint')}, load +{ms('load')})"
                if browser
                else f", received {ms('received')}; with its CSS/JS {ms('with_assets')})"
            )
        )
    return lines

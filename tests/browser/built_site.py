"""The example site, built for real and served from a sub-path, for the reader-facing browser tests.

Why a sub-path: ``base_url: https://example.org/journal/`` is the documented way to host
the site, so every browser test of search, accessibility and page weight runs there.
The server binds first (free port), then the site is built with that port in base_url.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, sync_playwright

from bench.serve_latency import BROWSER_ARGS
from builder.build import Builder, BuildOptions

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # publishes all but the draft
SUB_PATH = "journal/"
CHROMIUM_ARGS = BROWSER_ARGS  # one list of flags for the tests and the benchmark's browser timing


@dataclass(frozen=True)
class BuiltSite:
    """A served build: ``url("posts/x/")`` gives the absolute URL of an output page."""

    origin: str  # http://127.0.0.1:PORT
    base: str  # http://127.0.0.1:PORT/journal/
    output: Path
    files: dict[str, bytes]

    def url(self, path: str = "") -> str:
        return self.base + path.lstrip("/")

    def page_types(self) -> dict[str, str]:
        """One output path of every page type (the issue's list), found from the build itself."""
        posts = sorted(p for p in self.files if p.startswith("posts/") and p.endswith("/index.html"))
        # a post with a diagram embedded, if any, is the more demanding page
        with_diagram = [p for p in posts if b"nj-network-data" in self.files[p]]
        tags = sorted(p for p in self.files if p.startswith("tags/") and p.endswith("/index.html"))
        tags = [p for p in tags if p.count("/") == 2 and p != "tags/index.html"]
        tags = [p for p in tags if b'http-equiv="refresh"' not in self.files[p]]
        rounds = sorted(p for p in self.files if p.startswith("network/round-") and p.endswith("/index.html"))
        return {
            "index": "",
            "post": (with_diagram or posts)[0].removesuffix("index.html"),
            "page": "about/",
            "tags": "tags/",
            "tag": tags[0].removesuffix("index.html"),
            "archive": "archive/",
            "network": "network/",
            "round": rounds[0].removesuffix("index.html"),
            "search": "search/",
            "404": "404.html",
        }


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` with plain http.server on 127.0.0.1 (a free port); yields the origin URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def served_example(tmp: Path) -> Iterator[BuiltSite]:
    """Build the example site under /journal/ and serve it with plain http.server (static files only)."""
    docroot = tmp / "docroot"
    docroot.mkdir(parents=True, exist_ok=True)
    output = docroot / SUB_PATH.strip("/")
    try:
        with serve_folder(docroot) as origin:  # bound first: the port goes into base_url
            base = f"{origin}/{SUB_PATH}"
            result = Builder().build(BuildOptions(ROOT, output, base_url=base, now=EXAMPLE_NOW))
            assert result.files is not None
            yield BuiltSite(origin, base, output, dict(result.files))
    finally:
        shutil.rmtree(docroot, ignore_errors=True)


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()

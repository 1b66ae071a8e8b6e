"""`netjournal serve`: build, serve the output, watch the sources, reload browsers.

Shape (after MkDocs' livereload): watchdog callbacks only record paths; one
build thread debounces them and calls ``Builder.build(options, changed=...)``;
HTTP requests for pages wait while a build runs, so nobody sees a half-built
site. Browsers hear about new builds over Server-Sent Events. The client script
is added to HTML responses at request time and never written to disk.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import hashlib
import ipaddress
import json
import mimetypes
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import IO, Any, Literal, Protocol
from urllib.parse import unquote

from watchdog.events import FileSystemEventHandler

from builder.errors import SiteError, SiteErrors
from builder.nogc import paused_gc
from builder.watch import WATCHED_DIRS, Debouncer, classify

INTERNAL_PREFIX = "/__netjournal/"
EVENTS_PATH = INTERNAL_PREFIX + "events"
CLIENT_PATH = INTERNAL_PREFIX + "livereload.js"
HEARTBEAT_SECONDS = 15.0
IDLE_WAIT_SECONDS = 60.0
TIDY_AFTER_SECONDS = 1.0  # idle this long after a build: collect garbage (tidy_memory)

# ---------------------------------------------------------------------------
# Request paths: only files inside the output folder are ever served.


def resolve_request_path(output_dir: Path, url_path: str) -> Path | None:
    """The file or folder inside ``output_dir`` that ``url_path`` names, or None if unsafe.

    Refuses ``..`` in any spelling (``%2e%2e``, ``%2f``-encoded slashes,
    backslashes), NUL bytes, absolute or drive-letter paths, and anything
    (including via symlinks) that resolves outside the output folder.
    The result may not exist; callers check.
    """
    raw = split_target(url_path)[0]
    if not raw.startswith("/") or raw.startswith("//"):
        return None
    decoded = unquote(raw, errors="strict") if _valid_utf8_escapes(raw) else None
    if decoded is None or "\x00" in decoded or "\\" in decoded:
        return None
    parts = [part for part in decoded.split("/") if part not in ("", ".")]
    if any(part == ".." or ":" in part for part in parts):
        return None
    root = output_dir.resolve()
    candidate = root.joinpath(*parts)
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError):  # symlink loops
        return None
    return resolved if resolved.is_relative_to(root) else None


def split_target(target: str) -> tuple[str, str]:
    """(path, query) of a request target; unlike urlsplit, ``//x`` stays a path, not a host."""
    path, _, query = target.partition("#")[0].partition("?")
    return path, query


def _valid_utf8_escapes(raw: str) -> bool:
    try:
        unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class Lookup:
    """What to answer for a URL: a file, a redirect to add ``/``, nothing, or a refusal."""

    kind: Literal["file", "redirect", "missing", "forbidden"]
    path: Path | None = None


def lookup(output_dir: Path, url_path: str) -> Lookup:
    """Map a request path to a response decision (clean URLs: ``/a/`` -> ``a/index.html``)."""
    url_path = split_target(url_path)[0]
    target = resolve_request_path(output_dir, url_path)
    if target is None:
        return Lookup("forbidden")
    if target.is_dir():
        if not url_path.endswith("/"):
            return Lookup("redirect")
        index = resolve_request_path(output_dir, url_path + "index.html")
        if index is None:
            return Lookup("forbidden")
        target = index
    if target.is_file():
        return Lookup("file", target)
    return Lookup("missing")


_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml; charset=utf-8",
    ".xsl": "application/xslt+xml",
    ".graphml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
    ".webmanifest": "application/manifest+json",
    ".map": "application/json",
    ".pdf": "application/pdf",
}


def content_type(path: Path | str) -> str:
    """Content type by extension; our own table first so results don't depend on the OS."""
    suffix = Path(path).suffix.lower()
    if suffix in _TYPES:
        return _TYPES[suffix]
    guessed, _ = mimetypes.guess_type(str(path))
    return guessed or "application/octet-stream"


def is_html(ctype: str) -> bool:
    return ctype.split(";", 1)[0].strip() == "text/html"


def client_tag(generation: int) -> bytes:
    """The script element added to served HTML (an external file, so a strict CSP still allows it).

    The URL carries the script's hash, so browsers may keep it cached across reloads.
    """
    src = f"{CLIENT_PATH}?v={client_version()}"
    return (
        f'<script src="{src}" data-generation="{int(generation)}" data-events="{EVENTS_PATH}" defer></script>'
    ).encode()


def inject_client(html: bytes, generation: int) -> bytes:
    """Insert the live-reload script before the last ``</body>`` (or at the end)."""
    tag = client_tag(generation)
    at = html.lower().rfind(b"</body")
    if at == -1:
        return html + tag
    return html[:at] + tag + html[at:]


@functools.cache
def client_script() -> bytes:
    """The browser side of the preview, shipped as a package resource (read once)."""
    return resources.files("builder").joinpath("assets/livereload.js").read_bytes()


@functools.cache
def client_version() -> str:
    return _digest(client_script())


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]


NO_STORE = "no-store"
IMMUTABLE = "public, max-age=31536000, immutable"
_FINGERPRINTED = re.compile(r"\.([0-9a-f]{10})\.(?:css|js)$")


def cache_control(url_path: str, query: str, body: bytes) -> str:
    """``immutable`` for content-addressed files, ``no-store`` for everything else.

    A file counts as content-addressed only when the hash in its URL is the hash of
    the bytes being sent (``style.<sha256[:10]>.css``, as the build fingerprints
    CSS and JS, or ``?v=<sha256[:10]>`` on vendored scripts): then a browser's
    cached copy can never be stale, and a reload need not fetch it again. Pages and
    everything else are always fetched fresh.
    """
    if not body:
        return NO_STORE
    found = _FINGERPRINTED.search(url_path)
    claimed = found.group(1) if found else _query_value(query, "v")
    if claimed is not None and len(claimed) == 10 and claimed == _digest(body):
        return IMMUTABLE
    return NO_STORE


def _query_value(query: str, key: str) -> str | None:
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == key:
            return value
    return None


def fallback_page(title: str, message: str) -> bytes:
    """A tiny HTML page for 404s and 'no good build yet', so the client still connects."""
    from html import escape

    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title></head><body><main><h1>{escape(title)}</h1>"
        f"<p>{escape(message)}</p></main></body></html>"
    ).encode()


# ---------------------------------------------------------------------------
# Server-Sent Events: one append-only log; each client reads past its cursor.


class EventHub:
    """Broadcasts build events to every open browser (thread-safe)."""

    def __init__(self, keep: int = 64) -> None:
        self._cond = threading.Condition()
        self._log: list[tuple[int, str, str]] = []
        self._seq = 0
        self._keep = keep
        self._closed = False
        self.clients = 0

    def publish(self, event: str, data: str = "") -> None:
        with self._cond:
            self._seq += 1
            self._log.append((self._seq, event, data))
            del self._log[: -self._keep]
            self._cond.notify_all()

    def cursor(self) -> int:
        with self._cond:
            return self._seq

    def wait(self, after: int, timeout: float) -> tuple[list[tuple[str, str]], int] | None:
        """Events newer than ``after`` (possibly none after ``timeout``); None once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._seq > after, timeout=timeout)
            if self._closed:
                return None
            fresh = [(event, data) for seq, event, data in self._log if seq > after]
            return fresh, self._seq

    @contextlib.contextmanager
    def client(self) -> Iterator[None]:
        with self._cond:
            self.clients += 1
        try:
            yield
        finally:
            with self._cond:
                self.clients -= 1
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


def sse_message(event: str, data: str = "") -> bytes:
    """One SSE frame; every data line is prefixed so multi-line payloads survive."""
    lines = [f"event: {event}"] + [f"data: {line}" for line in (data.split("\n") if data else [""])]
    return ("\n".join(lines) + "\n\n").encode()


def error_payload(lines: list[str], title: str = "Build failed") -> str:
    return json.dumps({"title": title, "errors": lines})


def format_errors(exc: BaseException) -> list[str]:
    """``file:line: message`` lines for a content error; a short summary for a bug."""
    if isinstance(exc, SiteErrors):
        return [e.format() for e in exc.errors]
    if isinstance(exc, SiteError):
        return [exc.format()]
    return [f"internal error: {type(exc).__name__}: {exc}"]


# ---------------------------------------------------------------------------
# Build state shared by the build thread and the request handlers.


class BuildState:
    """Generation counter, current errors, and a gate that holds requests during a build."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.building = False
        self.generation = 0
        self.errors: list[str] = []
        self.good_build = False

    @contextlib.contextmanager
    def build(self) -> Iterator[None]:
        with self._cond:
            self.building = True
        try:
            yield
        finally:
            with self._cond:
                self.building = False
                self._cond.notify_all()

    def wait_idle(self, timeout: float = IDLE_WAIT_SECONDS) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self.building, timeout=timeout)

    def succeeded(self) -> bool:
        """A new good build; True when it clears errors that browsers were shown."""
        with self._cond:
            had_errors = bool(self.errors)
            self.generation += 1
            self.errors = []
            self.good_build = True
            return had_errors

    def failed(self, lines: list[str]) -> None:
        with self._cond:
            self.errors = list(lines)


@dataclass
class RebuildTrace:
    """When each stage of one rebuild happened (``time.monotonic()``), for ``NETJOURNAL_SERVE_DEBUG``.

    Monotonic stamps are comparable between processes on one machine, so the
    benchmark can line them up with the moment it saved the file.
    """

    first_event: float
    last_event: float
    due: float
    build_start: float | None = None
    build_end: float | None = None
    announced: float | None = None
    builder_seconds: float | None = None  # what Builder.build reports about itself

    def line(self) -> str:
        """``timing: ...`` with per-stage milliseconds and the absolute stamps."""

        def ms(a: float | None, b: float | None) -> str:
            return "-" if a is None or b is None else f"{(b - a) * 1000:.1f}"

        inner = "-" if self.builder_seconds is None else f"{self.builder_seconds * 1000:.1f}"
        return (
            f"timing: burst {ms(self.first_event, self.last_event)} ms, "
            f"quiet wait {ms(self.last_event, self.due)} ms, "
            f"to build {ms(self.due, self.build_start)} ms, "
            f"build {ms(self.build_start, self.build_end)} ms (builder says {inner}), "
            f"announce {ms(self.build_end, self.announced)} ms; "
            f"first event -> reload sent {ms(self.first_event, self.announced)} ms "
            f"[event@{self.first_event:.6f} sent@{self.announced or 0.0:.6f}]"
        )


def debug_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """``NETJOURNAL_SERVE_DEBUG=1`` prints per-stage timings of every rebuild and request."""
    value = (os.environ if environ is None else environ).get("NETJOURNAL_SERVE_DEBUG", "")
    return value.strip().lower() not in ("", "0", "no", "false", "off")


def _builder_seconds(result: Any) -> float | None:
    seconds = getattr(result, "seconds", None)
    return float(seconds) if isinstance(seconds, int | float) else None


class BuilderLike(Protocol):
    def build(self, options: Any, changed: Iterable[Path] | None = None) -> Any: ...


# ---------------------------------------------------------------------------
# HTTP


class _HTTPServer(ThreadingHTTPServer):
    """Joins its handler threads on close and can cut open connections on stop."""

    daemon_threads = False
    block_on_close = True
    preview: DevServer

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], family: int) -> None:
        self.address_family = family
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "netjournal-serve"
    timeout = 10  # a silent connection (speculative preconnect) must not hold shutdown
    disable_nagle_algorithm = True  # headers then body: no 40 ms delayed-ACK stall per response

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def log_message(self, format: str, *args: Any) -> None:
        self.server.preview.log_request(format % args)

    def _respond(self, head: bool) -> None:
        preview = self.server.preview
        path, query = split_target(self.path)
        if path == EVENTS_PATH and not head:
            self._events(query)
            return
        if path == CLIENT_PATH:
            script = client_script()
            self._send(
                HTTPStatus.OK, content_type("livereload.js"), script, head, cache=cache_control(path, query, script)
            )
            return
        if path.startswith(INTERNAL_PREFIX):
            self._send_text(HTTPStatus.NOT_FOUND, "not found", head)
            return
        arrived = time.monotonic()
        preview.state.wait_idle()
        gated = time.monotonic()
        found = lookup(preview.output, path)
        if found.kind == "forbidden":
            self._send_text(HTTPStatus.FORBIDDEN, "forbidden: outside the output folder", head)
        elif found.kind == "redirect":
            location = path + "/" + (f"?{query}" if query else "")
            self._send(HTTPStatus.MOVED_PERMANENTLY, "text/plain", b"", head, {"Location": location})
        elif found.kind == "file" and found.path is not None:
            self._send_file(found.path, head, path, query)
        else:
            self._not_found(head)
        if preview.debug:
            done = time.monotonic()
            preview.say_debug(
                f"timing: {self.command} {path} waited {(gated - arrived) * 1000:.1f} ms for the build, "
                f"answered in {(done - gated) * 1000:.1f} ms [arrived@{arrived:.6f}]"
            )

    def _send_file(self, path: Path, head: bool, url_path: str, query: str) -> None:
        try:
            body = path.read_bytes()
        except OSError:
            self._not_found(head)
            return
        ctype = content_type(path)
        cache = NO_STORE if is_html(ctype) else cache_control(url_path, query, body)
        self._send(HTTPStatus.OK, ctype, body, head, cache=cache)

    def _not_found(self, head: bool) -> None:
        preview = self.server.preview
        page = preview.output / "404.html"
        body: bytes
        try:
            body = page.read_bytes()
        except OSError:
            if preview.state.good_build:
                body = fallback_page("Not found", f"Nothing at {self.path} in this build.")
            else:
                body = fallback_page("No successful build yet", "Fix the errors shown and save.")
        self._send(HTTPStatus.NOT_FOUND, content_type("page.html"), body, head)

    def _send_text(self, status: HTTPStatus, text: str, head: bool) -> None:
        self._send(status, "text/plain; charset=utf-8", text.encode(), head)

    def _send(
        self,
        status: HTTPStatus,
        ctype: str,
        body: bytes,
        head: bool,
        extra: dict[str, str] | None = None,
        cache: str = NO_STORE,
    ) -> None:
        if is_html(ctype):
            body = inject_client(body, self.server.preview.state.generation)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            with contextlib.suppress(ConnectionError):
                self.wfile.write(body)

    def _events(self, query: str) -> None:
        """Hold the connection open and stream build events until the client or server goes."""
        preview = self.server.preview
        hub = preview.hub
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True
        seen = _query_generation(query)
        with hub.client(), contextlib.suppress(OSError):
            after = hub.cursor()
            self._write(b"retry: 500\n\n" + self._catch_up(seen))
            while True:
                got = hub.wait(after, HEARTBEAT_SECONDS)
                if got is None:
                    return
                events, after = got
                frames = b"".join(sse_message(e, d) for e, d in events) or b": ping\n\n"
                self._write(frames)
                if preview.debug and events:
                    names = ",".join(e for e, _ in events)
                    preview.say_debug(f"timing: sent {names} to a browser [sent@{time.monotonic():.6f}]")

    def _catch_up(self, seen: int | None) -> bytes:
        """Tell a (re)connecting page about a build or an error it missed."""
        state = self.server.preview.state
        out = b""
        if seen is not None and state.good_build and seen != state.generation:
            out += sse_message("reload")
        if state.errors:
            out += sse_message("error", error_payload(state.errors))
        return out

    def _write(self, data: bytes) -> None:
        if data:
            self.wfile.write(data)
            self.wfile.flush()


def _query_generation(query: str) -> int | None:
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "generation" and value.isdigit():
            return int(value)
    return None


# ---------------------------------------------------------------------------
# The dev server: HTTP + watcher + build thread.


def _default_builder() -> BuilderLike:
    from builder.build import Builder

    return Builder()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def public_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches the server (wildcards become localhost)."""
    shown = "localhost" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 - just formatting
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


class DevServer:
    """Serve ``options.output``, rebuild on changes under ``options.source``, notify browsers.

    Usable from tests: ``DevServer(options, port=0).start()`` builds once, binds a
    free port (``.port``) and returns; ``stop()`` ends every thread it started.
    """

    def __init__(
        self,
        options: Any,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        builder_factory: Callable[[], BuilderLike] = _default_builder,
        quiet: float = 0.02,
        watch: bool = True,
        out: IO[str] | None = None,
        log_requests: bool = False,
        debug: bool | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.source = Path(options.source).resolve()
        self.output = Path(options.output).resolve()
        self.options = options
        self.state = BuildState()
        self.hub = EventHub()
        self.debouncer = Debouncer(quiet=quiet)
        self._builder_factory = builder_factory
        self._builder: BuilderLike | None = None
        self._watch = watch
        self._out = out if out is not None else sys.stderr
        self._log_requests = log_requests
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._observer: Any = None
        self._httpd: _HTTPServer | None = None
        self._serving = False
        self._unbuilt: set[Path] = set()  # changes of failed builds, passed again next time
        self.last_build_seconds: float | None = None
        self.debug = debug_enabled() if debug is None else debug
        self._trace: RebuildTrace | None = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start() first"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return public_url(self.host, self.port)

    def start(self) -> DevServer:
        """Bind, watch, build once, then serve; on any failure (or Ctrl-C) undo what was started."""
        if self._httpd is not None:
            raise RuntimeError("DevServer already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._httpd = _HTTPServer((self.host, self.requested_port), _Handler, family)
        self._httpd.preview = self
        try:
            self.options = _with_base_url(self.options, self.url)
            if self._watch:
                self._start_observer()  # before the first build: edits made during it are not lost
            self._full_build(first=True)
            self._spawn(self._build_loop, "netjournal-build")
            self._spawn(self._httpd.serve_forever, "netjournal-http", 0.1)
            self._serving = True
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Close browsers' streams, stop watching and building, join every thread."""
        if self._stop.is_set():
            return
        self._stop.set()
        self.hub.close()
        self.debouncer.wake()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._httpd is not None and self._serving:
            self._httpd.shutdown()  # only valid once serve_forever runs: it would wait forever
        if self._httpd is not None:
            self._httpd.cut_connections()
        for thread in self._threads:
            thread.join(timeout=10)
        if self._httpd is not None:
            self._httpd.server_close()
        self._flush_builder()  # (the build thread has ended)
        gc.unfreeze()  # the site this server held may now be freed (a process that goes on: tests)

    def __enter__(self) -> DevServer:
        return self if self._httpd is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name)
        thread.start()
        self._threads.append(thread)

    # -- watching ----------------------------------------------------------

    def _start_observer(self) -> None:
        observer = _make_observer()
        handler = _Recorder(self.debouncer)
        wanted = _event_filter()
        observer.schedule(handler, str(self.source), recursive=False, event_filter=wanted)
        for name in WATCHED_DIRS:
            folder = self.source / name
            if folder.is_dir():
                observer.schedule(handler, str(folder), recursive=True, event_filter=wanted)
        observer.daemon = False
        observer.start()
        self._observer = observer

    def _watch_new_top_folders(self, paths: Iterable[Path]) -> None:
        """A watched folder created after start (``mkdir data``) gets its own watch."""
        if self._observer is None:
            return
        for path in paths:
            if path.parent == self.source and path.name in WATCHED_DIRS and path.is_dir():
                with contextlib.suppress(OSError, RuntimeError):
                    self._observer.schedule(
                        _Recorder(self.debouncer), str(path), recursive=True, event_filter=_event_filter()
                    )

    # -- building ----------------------------------------------------------

    def _build_loop(self) -> None:
        untidy = True  # the first build's objects
        while not self._stop.is_set():
            paths = self.debouncer.wait(self._stop, idle=TIDY_AFTER_SECONDS if untidy else None)
            if paths:
                burst = self.debouncer.last_burst
                self._trace = RebuildTrace(*burst, due=time.monotonic()) if burst else None
                self._watch_new_top_folders(paths)
                self.rebuild(paths)
                untidy = True
            elif untidy and not self._stop.is_set():
                # the watcher missed these (rebuilds trust it for which posts changed); not after a
                # failed build, whose paths are passed again with the next change anyway
                missed = self._unseen_changes() if not self._unbuilt else []
                if missed and self.rebuild(missed):
                    continue
                self._flush_builder()  # the post index, page digests, state: for a later ``build``
                tidy_memory()
                untidy = False

    def rebuild(self, paths: Iterable[Path]) -> bool:
        """Rebuild for these changed paths; True when something was rebuilt successfully."""
        changes = classify(self.source, paths, self.output)
        if changes.empty:
            return False
        changed = set(changes.paths) | self._unbuilt
        self._say(f"changed: {', '.join(sorted(_rel(self.source, p) for p in changes.paths))}")
        with paused_gc():  # collected when idle (tidy_memory), not while the author waits
            built = self._run_build(changed)
            if built is not None:
                self._unbuilt = set()
                result, cleared = built
                self._announce(result, cleared, css_only=changes.css_only and not cleared)
        if built is None:
            self._unbuilt = changed
            self._say_trace()
            return False
        self._say_trace()
        return True

    def _unseen_changes(self) -> list[Path]:
        """Posts changed on disk since the last build that no watcher event reported (a walk)."""
        check = getattr(self._builder, "unseen_changes", None)
        if check is None:
            return []
        try:
            return list(check(Path(self.options.source)))
        except OSError:
            return []

    def _flush_builder(self) -> None:
        flush = getattr(self._builder, "flush", None)
        if flush is not None:
            flush()

    def _say_trace(self) -> None:
        trace, self._trace = self._trace, None
        if self.debug and trace is not None:
            self._say(trace.line())

    def _full_build(self, first: bool = False) -> None:
        built = self._run_build(None)
        if built is not None:
            self._announce(*built, css_only=False, first=first)

    def _run_build(self, changed: set[Path] | None) -> tuple[Any, bool] | None:
        """One build under the gate; errors go to the terminal and the overlay, never up."""
        with self.state.build():
            started = time.perf_counter()
            if self._trace is not None:
                self._trace.build_start = time.monotonic()
            try:
                result = self._build(changed)
            except (SiteErrors, SiteError) as exc:
                self._report(format_errors(exc))
                return None
            except Exception as exc:
                traceback.print_exc(file=self._out)
                self._report(format_errors(exc), title="Internal error (see the terminal)")
                return None
            finally:
                if self._trace is not None:
                    self._trace.build_end = time.monotonic()
            self.last_build_seconds = time.perf_counter() - started
            cleared = self.state.succeeded()  # inside the gate: no page is served with the old generation
            return result, cleared

    def _build(self, changed: set[Path] | None) -> Any:
        if self._builder is None:
            self._builder = self._builder_factory()
        if changed is None:
            return self._builder.build(self.options, changed=None)
        try:
            return self._builder.build(self.options, changed=sorted(changed))
        except (SiteErrors, SiteError):
            raise
        except Exception:
            # A fast path failed: drop every cache and build everything.
            self._say("incremental build failed; rebuilding everything")
            self._builder = self._builder_factory()
            return self._builder.build(self.options, changed=None)

    def _report(self, lines: list[str], title: str = "Build failed") -> None:
        self.state.failed(lines)
        self._say("build failed:\n" + "\n".join(f"  {line}" for line in lines))
        self.hub.publish("error", error_payload(lines, title))

    def _announce(self, result: Any, had_errors: bool, css_only: bool, first: bool = False) -> None:
        """Tell browsers first (that is what the author waits for), then the terminal."""
        if not first:
            if had_errors:
                self.hub.publish("ok")
            if css_only:
                self.hub.publish("css")
            elif had_errors or _wrote_something(result):
                self.hub.publish("reload")
        if self._trace is not None:
            self._trace.announced = time.monotonic()
            self._trace.builder_seconds = _builder_seconds(result)
        pages = getattr(result, "pages", "?")
        took = self.last_build_seconds or 0.0
        self._say(f"built {pages} pages in {took * 1000:.0f} ms")

    # -- output ------------------------------------------------------------

    def _say(self, text: str) -> None:
        print(f"[serve] {text}", file=self._out, flush=True)

    def say_debug(self, text: str) -> None:
        if self.debug:
            self._say(text)

    def log_request(self, line: str) -> None:
        if self._log_requests:
            self._say(line)


def tidy_memory() -> None:
    """Collect reference cycles, then freeze what survives (``gc.freeze``), while the server is idle.

    A serve process holds the whole site (10,000 posts: millions of objects); the collector's
    full passes walked all of them every other rebuild (70-130 ms each, measured). Frozen, they
    are skipped until the next tidy, which unfreezes them so cycles among them are still freed.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _wrote_something(result: Any) -> bool:
    written = getattr(result, "written", None)
    removed = getattr(result, "removed", None)
    if written is None and removed is None:
        return True  # unknown: assume pages changed
    return bool(written) or bool(removed)


def _rel(source: Path, path: Path) -> str:
    try:
        return path.relative_to(source).as_posix()
    except ValueError:
        return str(path)


def _with_base_url(options: Any, url: str) -> Any:
    """Pages link to the preview server, not to the published site."""
    try:
        return replace(options, base_url=url)
    except TypeError:
        return options


class _Recorder(FileSystemEventHandler):
    """Watchdog handler that only records paths (all decisions happen in the build thread).

    It tells the debouncer whether a write is still under way: "modified" is
    followed by "closed" once the editor has finished, and that is the moment
    to rebuild; deletes and renames are complete when they are reported.
    """

    def __init__(self, debouncer: Debouncer) -> None:
        super().__init__()
        self._debouncer = debouncer

    def dispatch(self, event: Any) -> None:
        kind = getattr(event, "event_type", "")
        if kind in ("opened", "closed_no_write"):
            return  # reads (the build itself reads every source)
        directory = bool(getattr(event, "is_directory", False))
        if kind == "modified" and directory:
            return  # a folder's mtime changes with every file in it
        src = Path(_text(event.src_path)) if event.src_path else None
        dest = Path(_text(getattr(event, "dest_path", "") or "")) if getattr(event, "dest_path", "") else None
        if kind in ("deleted", "moved") and src is not None:
            self._debouncer.forget_writing([src])
        paths = [p for p in (src, dest) if p is not None]
        self._debouncer.add(paths, finished=kind != "modified" or directory)


#: The watchdog events the preview needs. Leaving out "opened" and "closed_no_write" matters:
#: every build reads every source, and each read would otherwise wake three watchdog threads.
def _event_filter() -> list[Any]:
    from watchdog import events as ev

    return [
        ev.FileCreatedEvent,
        ev.DirCreatedEvent,
        ev.FileModifiedEvent,
        ev.FileDeletedEvent,
        ev.DirDeletedEvent,
        ev.FileMovedEvent,
        ev.DirMovedEvent,
        ev.FileClosedEvent,
    ]


#: How long watchdog's inotify backend holds a rename's first half to pair it with the second.
#: Both halves arrive in one read, so a few milliseconds pair them as well as the default 0.5 s,
#: which is paid in full whenever the second half never comes: a post moved to the trash or
#: out of the site, a file moved between two watched folders (measured: 501 ms -> 6 ms).
MOVE_PAIRING_SECONDS = 0.005


def _make_observer() -> Any:
    """A watchdog observer; on Linux one whose inotify emitters pair renames promptly."""
    from watchdog.observers import Observer

    try:
        from watchdog.observers.inotify import InotifyEmitter, InotifyObserver
    except ImportError:  # not Linux
        return Observer()
    if Observer is not InotifyObserver:
        return Observer()

    class PromptEmitter(InotifyEmitter):
        def on_thread_start(self) -> None:
            super().on_thread_start()
            shorten_move_pairing(self)

    observer = InotifyObserver()
    observer._emitter_class = PromptEmitter  # watchdog has no public hook for this
    return observer


def shorten_move_pairing(emitter: Any, seconds: float = MOVE_PAIRING_SECONDS) -> bool:
    """Set the rename-pairing delay of one inotify emitter; False if watchdog's internals moved."""
    queue = getattr(getattr(getattr(emitter, "_inotify", None), "_move_event_grouper", None), "_queue", None)
    if queue is None or not isinstance(getattr(queue, "delay", None), int | float):
        return False
    queue.delay = seconds
    return True


def _text(path: str | bytes) -> str:
    return path.decode() if isinstance(path, bytes) else path


# ---------------------------------------------------------------------------
# Command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``netjournal serve`` (the CLI adds them to its sub-command)."""
    parser.add_argument("--source", type=Path, default=Path("."), help="site folder (default: .)")
    parser.add_argument("--output", type=Path, default=None, help="output folder (default: a temporary one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    parser.add_argument("--no-drafts", dest="drafts", action="store_false", help="hide draft posts")
    parser.add_argument("--future", action="store_true", help="show posts dated in the future")


def main_serve(args: argparse.Namespace) -> int:
    """Run ``netjournal serve`` until Ctrl-C; returns the exit status."""
    from builder.build import BuildOptions

    source = Path(args.source).resolve()
    if not (source / "site.yaml").is_file() and not (source / "content").is_dir():
        print(f"error: {source} is not a site folder (no site.yaml or content/)", file=sys.stderr)
        return 2
    temp = None if args.output else Path(tempfile.mkdtemp(prefix="netjournal-serve-"))
    output = Path(args.output).resolve() if args.output else temp
    assert output is not None
    drafts = getattr(args, "drafts", not getattr(args, "no_drafts", False))  # cli.py says --no-drafts
    options = BuildOptions(source=source, output=output, drafts=drafts, future=args.future, serve=True)
    try:
        return run_server(options, args.host, args.port)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def run_server(options: Any, host: str = "127.0.0.1", port: int = 8000, **kwargs: Any) -> int:
    """Serve until Ctrl-C (or SIGTERM), then shut down cleanly. Blocking."""
    if not is_loopback(host):
        print(
            f"warning: serving on {host}: anyone who can reach this machine can read your drafts",
            file=sys.stderr,
        )
    stop = threading.Event()
    restore = _install_stop_signals(stop)
    try:
        try:
            server = DevServer(options, host, port, **kwargs).start()
        except OSError as exc:
            print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("\nStopped.", file=sys.stderr, flush=True)
            return 130
        print(f"Serving {server.output} at {server.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            print("\nStopping…", file=sys.stderr, flush=True)
            server.stop()
    finally:
        restore()
    return 0


def _install_stop_signals(stop: threading.Event) -> Callable[[], None]:
    """Ctrl-C and SIGTERM ask for a clean stop; a second Ctrl-C interrupts at once.

    Installed explicitly because shells start background jobs with SIGINT
    ignored, and Python then never raises KeyboardInterrupt.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m builder.serve``)."""
    parser = argparse.ArgumentParser(prog="netjournal serve", description=__doc__)
    add_arguments(parser)
    return main_serve(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

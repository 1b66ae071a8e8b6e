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
import ipaddress
import json
import mimetypes
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import IO, Any, Literal, Protocol
from urllib.parse import unquote

from watchdog.events import FileSystemEventHandler

from builder.errors import SiteError, SiteErrors
from builder.watch import WATCHED_DIRS, Debouncer, classify

INTERNAL_PREFIX = "/__netjournal/"
EVENTS_PATH = INTERNAL_PREFIX + "events"
CLIENT_PATH = INTERNAL_PREFIX + "livereload.js"
HEARTBEAT_SECONDS = 15.0
IDLE_WAIT_SECONDS = 60.0

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
    """The script element added to served HTML (an external file, so a strict CSP still allows it)."""
    return (
        f'<script src="{CLIENT_PATH}" data-generation="{int(generation)}" data-events="{EVENTS_PATH}" defer></script>'
    ).encode()


def inject_client(html: bytes, generation: int) -> bytes:
    """Insert the live-reload script before the last ``</body>`` (or at the end)."""
    tag = client_tag(generation)
    at = html.lower().rfind(b"</body")
    if at == -1:
        return html + tag
    return html[:at] + tag + html[at:]


def client_script() -> bytes:
    """The browser side of the preview, shipped as a package resource."""
    return resources.files("builder").joinpath("assets/livereload.js").read_bytes()


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

    def succeeded(self) -> int:
        with self._cond:
            self.generation += 1
            self.errors = []
            self.good_build = True
            return self.generation

    def failed(self, lines: list[str]) -> None:
        with self._cond:
            self.errors = list(lines)


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
            self._send(HTTPStatus.OK, content_type("livereload.js"), client_script(), head)
            return
        if path.startswith(INTERNAL_PREFIX):
            self._send_text(HTTPStatus.NOT_FOUND, "not found", head)
            return
        preview.state.wait_idle()
        found = lookup(preview.output, path)
        if found.kind == "forbidden":
            self._send_text(HTTPStatus.FORBIDDEN, "forbidden: outside the output folder", head)
        elif found.kind == "redirect":
            location = path + "/" + (f"?{query}" if query else "")
            self._send(HTTPStatus.MOVED_PERMANENTLY, "text/plain", b"", head, {"Location": location})
        elif found.kind == "file" and found.path is not None:
            self._send_file(found.path, head)
        else:
            self._not_found(head)

    def _send_file(self, path: Path, head: bool) -> None:
        try:
            body = path.read_bytes()
        except OSError:
            self._not_found(head)
            return
        self._send(HTTPStatus.OK, content_type(path), body, head)

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
        self, status: HTTPStatus, ctype: str, body: bytes, head: bool, extra: dict[str, str] | None = None
    ) -> None:
        if is_html(ctype):
            body = inject_client(body, self.server.preview.state.generation)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
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
        quiet: float = 0.08,
        watch: bool = True,
        out: IO[str] | None = None,
        log_requests: bool = False,
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
        from watchdog.observers import Observer

        observer = Observer()
        handler = _Recorder(self.debouncer)
        observer.schedule(handler, str(self.source), recursive=False)
        for name in WATCHED_DIRS:
            folder = self.source / name
            if folder.is_dir():
                observer.schedule(handler, str(folder), recursive=True)
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
                    self._observer.schedule(_Recorder(self.debouncer), str(path), recursive=True)

    # -- building ----------------------------------------------------------

    def _build_loop(self) -> None:
        while not self._stop.is_set():
            paths = self.debouncer.wait(self._stop)
            if paths:
                self._watch_new_top_folders(paths)
                self.rebuild(paths)

    def rebuild(self, paths: Iterable[Path]) -> bool:
        """Rebuild for these changed paths; True when something was rebuilt successfully."""
        changes = classify(self.source, paths, self.output)
        if changes.empty:
            return False
        changed = set(changes.paths) | self._unbuilt
        self._say(f"changed: {', '.join(sorted(_rel(self.source, p) for p in changes.paths))}")
        result = self._run_build(changed)
        if result is None:
            self._unbuilt = changed
            return False
        self._unbuilt = set()
        self._announce(result, css_only=changes.css_only and not self.state.errors)
        return True

    def _full_build(self, first: bool = False) -> None:
        result = self._run_build(None)
        if result is not None:
            self._announce(result, css_only=False, first=first)

    def _run_build(self, changed: set[Path] | None) -> Any | None:
        """One build under the gate; errors go to the terminal and the overlay, never up."""
        with self.state.build():
            started = time.perf_counter()
            try:
                result = self._build(changed)
            except (SiteErrors, SiteError) as exc:
                self._report(format_errors(exc))
                return None
            except Exception as exc:
                traceback.print_exc(file=self._out)
                self._report(format_errors(exc), title="Internal error (see the terminal)")
                return None
            self.last_build_seconds = time.perf_counter() - started
            return result

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

    def _announce(self, result: Any, css_only: bool, first: bool = False) -> None:
        had_errors = bool(self.state.errors)
        self.state.succeeded()
        pages = getattr(result, "pages", "?")
        took = self.last_build_seconds or 0.0
        self._say(f"built {pages} pages in {took * 1000:.0f} ms")
        if first:
            return
        if had_errors:
            self.hub.publish("ok")
        if css_only:
            self.hub.publish("css")
        elif had_errors or _wrote_something(result):
            self.hub.publish("reload")

    # -- output ------------------------------------------------------------

    def _say(self, text: str) -> None:
        print(f"[serve] {text}", file=self._out, flush=True)

    def log_request(self, line: str) -> None:
        if self._log_requests:
            self._say(line)


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
    """Watchdog handler that only records paths (all decisions happen in the build thread)."""

    def __init__(self, debouncer: Debouncer) -> None:
        super().__init__()
        self._debouncer = debouncer

    def dispatch(self, event: Any) -> None:
        kind = getattr(event, "event_type", "")
        if kind in ("opened", "closed", "closed_no_write"):
            return  # reads and closes after writing follow a "modified" already recorded
        if kind == "modified" and getattr(event, "is_directory", False):
            return  # a folder's mtime changes with every file in it
        paths = [event.src_path, getattr(event, "dest_path", "")]
        self._debouncer.add(Path(_text(p)) for p in paths if p)


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

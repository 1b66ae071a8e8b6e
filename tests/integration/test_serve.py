"""`serve` against a real server on a free port: rebuilds, overlay events, safety, shutdown.

Two kinds of tests: the first group drives the real Builder on a small site in
tmp_path; the second swaps in a recording builder to check the server's own
decisions (debouncing, fallback, gating) independently of what the builder does.
"""

from __future__ import annotations

import gc
import http.client
import io
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from watchdog.events import FileSystemEventHandler

from builder.build import BuildOptions
from builder.errors import SiteError, SiteErrors
from builder.serve import CLIENT_PATH, DevServer, _event_filter, _make_observer

# ---------------------------------------------------------------------------
# helpers


def write_post(site: Path, name: str, title: str, body: str, **meta: Any) -> Path:
    lines = [f"title: {title}", f"date: {meta.pop('date', '2020-01-01')}"]
    lines += [f"{key}: {json.dumps(value)}" for key, value in meta.items()]
    path = site / "content" / "posts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\n" + "\n".join(lines) + "\n---\n" + body + "\n", encoding="utf-8")
    return path


def make_site(root: Path) -> Path:
    site = root / "site"
    site.mkdir()
    (site / "site.yaml").write_text("title: Preview test\nbase_url: https://example.org/\nsearch: false\n")
    write_post(site, "2020-01-01-hello.md", "Hello", "The first version of the text.", tags=["alpha"])
    write_post(site, "2020-02-01-second.md", "Second", "Another post.", date="2020-02-01", tags=["beta"])
    write_post(site, "2020-03-01-sketch.md", "Sketch", "Unfinished.", date="2020-03-01", draft=True)
    return site


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """Send the request line exactly as given (clients normally normalise ``..`` away)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


def wait_until(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class EventStream:
    """A minimal SSE client over a raw socket, so tests can read frames with timeouts."""

    def __init__(self, port: int, generation: int | None = None) -> None:
        query = "" if generation is None else f"?generation={generation}"
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(f"GET /__netjournal/events{query} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        self.buf = b""
        head = self._read_until(b"\r\n\r\n")
        self.headers = head.decode("latin-1")
        self.pending: list[tuple[str, str]] = []
        assert self._frame() is None  # "retry:" frame: the server now follows new events

    def _read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("stream closed")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(marker)
        return head

    def _frame(self, timeout: float = 10.0) -> tuple[str, str] | None:
        frame = self._read_until(b"\n\n", timeout).decode()
        event, data = "message", []
        for line in frame.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line.startswith(("retry:", ":")):
                return None
        return event, "\n".join(data)

    def next(self, timeout: float = 10.0) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            frame = self._frame(max(0.01, deadline - time.monotonic()))
            if frame is not None:
                return frame

    def wait_for(self, name: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            event, data = self.next(max(0.01, deadline - time.monotonic()))
            self.pending.append((event, data))
            if event == name:
                return data

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(autouse=True)
def no_stray_threads() -> Iterator[None]:
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        extra = [t for t in threading.enumerate() if t.ident not in before]
        if not extra:
            return
        time.sleep(0.02)
    raise AssertionError(f"threads left running: {[t.name for t in extra]}")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return make_site(tmp_path)


@pytest.fixture
def server(site: Path, tmp_path: Path) -> Iterator[DevServer]:
    options = BuildOptions(source=site, output=tmp_path / "out", drafts=True, serve=True)
    srv = DevServer(options, port=0, out=io.StringIO()).start()
    try:
        yield srv
    finally:
        srv.stop()


def post_url(slug: str) -> str:
    return f"/posts/{slug}/"


# ---------------------------------------------------------------------------
# with the real builder


def test_edit_serves_new_content_and_tells_browsers(server: DevServer, site: Path) -> None:
    status, headers, body = get(server.port, post_url("hello"))
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"The first version of the text." in body
    stream = EventStream(server.port)
    try:
        write_post(site, "2020-01-01-hello.md", "Hello", "An edited sentence.", tags=["alpha"])
        stream.wait_for("reload")
        _, _, body = get(server.port, post_url("hello"))
        assert b"An edited sentence." in body
        assert b"The first version of the text." not in body
    finally:
        stream.close()


def test_script_is_injected_into_served_html_only(server: DevServer) -> None:
    _, _, body = get(server.port, "/")
    assert body.count(CLIENT_PATH.encode()) == 1
    assert body.index(CLIENT_PATH.encode()) < body.lower().rindex(b"</body>")
    on_disk = [p for p in server.output.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in on_disk)
    assert not any(b"__netjournal" in p.read_bytes() for p in on_disk)
    status, headers, js = get(server.port, CLIENT_PATH)
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert b"EventSource" in js


def test_drafts_are_served(server: DevServer) -> None:
    status, _, body = get(server.port, post_url("sketch"))
    assert status == 200
    assert b"Unfinished." in body
    assert b"draft" in body.lower()


def test_broken_front_matter_shows_error_keeps_last_build_and_clears(server: DevServer, site: Path) -> None:
    stream = EventStream(server.port)
    post = site / "content/posts/2020-01-01-hello.md"
    good = post.read_text()
    try:
        post.write_text("---\ntitle: Hello\ndate: [unclosed\n---\nBroken text.\n")
        payload = json.loads(stream.wait_for("error"))
        assert payload["errors"], payload
        assert payload["errors"][0].startswith("content/posts/2020-01-01-hello.md:")
        # still alive, still serving the last good build
        status, _, body = get(server.port, post_url("hello"))
        assert status == 200 and b"The first version of the text." in body
        # a page opened now learns about the error at once
        late = EventStream(server.port, generation=server.state.generation)
        try:
            assert late.next()[0] == "error"
        finally:
            late.close()
        post.write_text(good.replace("The first version", "The fixed version"))
        stream.wait_for("ok")
        stream.wait_for("reload")
        _, _, body = get(server.port, post_url("hello"))
        assert b"The fixed version of the text." in body
        assert server.state.errors == []
    finally:
        stream.close()


def test_missing_title_is_reported_with_file_and_line(server: DevServer, site: Path) -> None:
    stream = EventStream(server.port)
    try:
        (site / "content/posts/2020-04-01-untitled.md").write_text("---\ndate: 2020-04-01\n---\nNo title.\n")
        payload = json.loads(stream.wait_for("error"))
        assert any(line.startswith("content/posts/2020-04-01-untitled.md:") for line in payload["errors"])
        assert any("title" in line for line in payload["errors"])
    finally:
        stream.close()


def test_changing_tags_updates_every_listing(server: DevServer, site: Path) -> None:
    status, _, body = get(server.port, "/tags/alpha/")
    assert status == 200 and b"Hello" in body
    stream = EventStream(server.port)
    try:
        write_post(site, "2020-01-01-hello.md", "Hello", "The first version of the text.", tags=["gamma"])
        stream.wait_for("reload")
    finally:
        stream.close()
    status, _, body = get(server.port, "/tags/gamma/")
    assert status == 200 and b"Hello" in body
    status, _, body = get(server.port, "/tags/alpha/")
    assert status == 404 or b"Hello" not in body


def test_unknown_url_gets_the_sites_404_page(server: DevServer) -> None:
    site_404 = (server.output / "404.html").read_bytes()
    status, headers, body = get(server.port, "/no/such/page/")
    assert status == 404
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert body.replace(body[body.index(b"<script src=") : body.index(b"</script>") + 9], b"") == site_404


def test_folder_without_slash_redirects(server: DevServer) -> None:
    status, headers, _ = get(server.port, "/posts/hello?x=1")
    assert status == 301
    assert headers["location"] == "/posts/hello/?x=1"


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/posts/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%5csecret.txt",
        "/posts/%00",
        "//etc/passwd",
        "/leak.txt",
    ],
)
def test_traversal_attempts_are_refused(server: DevServer, tmp_path: Path, target: str) -> None:
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    leak = server.output / "leak.txt"
    if not leak.is_symlink():
        leak.symlink_to(tmp_path / "secret.txt")
    status, body = raw_get(server.port, target)
    assert status in (403, 404)
    assert b"TOP SECRET" not in body
    assert b"root:" not in body


def test_several_browsers_all_hear_the_reload(server: DevServer, site: Path) -> None:
    streams = [EventStream(server.port) for _ in range(4)]
    try:
        assert server.hub.clients == 4
        write_post(site, "2020-01-01-hello.md", "Hello", "Shared edit.", tags=["alpha"])
        for stream in streams:
            stream.wait_for("reload")
    finally:
        for stream in streams:
            stream.close()


def test_page_that_missed_a_build_is_told_to_reload(server: DevServer) -> None:
    stale = EventStream(server.port, generation=server.state.generation - 1)
    current = EventStream(server.port, generation=server.state.generation)
    try:
        assert stale.next(timeout=2) == ("reload", "")
        with pytest.raises((TimeoutError, socket.timeout)):
            current.next(timeout=0.3)
    finally:
        stale.close()
        current.close()


# ---------------------------------------------------------------------------
# the file watcher itself (real inotify through watchdog)


class _Events(FileSystemEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[float, Any]] = []

    def dispatch(self, event: Any) -> None:
        self.seen.append((time.monotonic(), event))


@contextmanager
def watching(folder: Path, handler: FileSystemEventHandler) -> Iterator[None]:
    observer = _make_observer()
    observer.schedule(handler, str(folder), recursive=True, event_filter=_event_filter())
    observer.start()
    try:
        yield
    finally:
        observer.stop()
        observer.join(timeout=5)


def test_a_rename_save_is_still_one_move(tmp_path: Path) -> None:
    post, temp = tmp_path / "a.md", tmp_path / "a.md.tmp"
    post.write_text("old")
    events = _Events()
    with watching(tmp_path, events):
        temp.write_text("new")
        time.sleep(0.2)  # the temporary file's own events are through
        os.replace(temp, post)
        wait_until(lambda: any(e.event_type == "moved" for _, e in events.seen), what="the rename")
    moved = next(e for _, e in events.seen if e.event_type == "moved")
    assert (moved.src_path, moved.dest_path) == (str(temp), str(post))  # paired despite the short delay


def test_a_post_moved_out_of_the_site_is_reported_without_watchdogs_pairing_delay(tmp_path: Path) -> None:
    watched, trash = tmp_path / "content", tmp_path / "Trash"
    watched.mkdir()
    trash.mkdir()
    post = watched / "a.md"
    post.write_text("text")
    events = _Events()
    with watching(watched, events):
        time.sleep(0.1)
        moved = time.monotonic()
        os.replace(post, trash / "a.md")  # "move to trash": the rename's other half is never seen
        wait_until(lambda: any(e.event_type == "deleted" for _, e in events.seen), what="the move")
    at = next(t for t, e in events.seen if e.event_type == "deleted")
    assert at - moved < 0.4  # watchdog on its own holds an unpaired rename for 0.5 s


def test_reading_sources_wakes_no_watcher_thread(tmp_path: Path) -> None:
    files = [tmp_path / f"post-{i}.md" for i in range(20)]
    for path in files:
        path.write_text("text")
    events = _Events()
    with watching(tmp_path, events):
        time.sleep(0.1)
        for path in files:
            path.read_text()  # what every build does with every source
        files[0].write_text("changed")  # a real change afterwards is still seen
        wait_until(lambda: any(e.event_type == "closed" for _, e in events.seen), what="the write")
    kinds = {e.event_type for _, e in events.seen}
    assert kinds <= {"modified", "closed"}, kinds


def test_a_rename_save_rebuilds(site: Path, tmp_path: Path) -> None:
    log: list[tuple[int, Any]] = []
    with recording_server(site, tmp_path, log) as srv:
        stream = EventStream(srv.port)
        try:
            post = site / "content/posts/2020-01-01-hello.md"
            temp = post.with_name(post.name + ".tmp")
            temp.write_text(post.read_text().replace("The first version", "A renamed-in version"))
            os.replace(temp, post)
            stream.wait_for("reload")
        finally:
            stream.close()
        assert b"A renamed-in version" in get(srv.port, "/")[2]
    assert [changed for _, changed in log][1:] == [["2020-01-01-hello.md"]]  # the temporary is junk


# ---------------------------------------------------------------------------
# with a recording builder: the server's own decisions


class RecordingBuilder:
    """Writes one page listing the posts' bodies; raises for a post containing BROKEN."""

    def __init__(self, log: list[tuple[int, Any]], crash_incremental: bool = False, gate: Any = None) -> None:
        self.log = log
        self.crash_incremental = crash_incremental
        self.gate = gate

    def build(self, options: Any, changed: Any = None) -> Any:
        self.log.append((id(self), None if changed is None else sorted(Path(p).name for p in changed)))
        if self.gate is not None:
            self.gate.wait(10)
        if changed is not None and self.crash_incremental:
            raise RuntimeError("fast path bug")
        texts = []
        for path in sorted((Path(options.source) / "content/posts").glob("*.md")):
            text = path.read_text()
            if "BROKEN" in text:
                raise SiteErrors([SiteError(f"content/posts/{path.name}", 2, "broken front matter")])
            texts.append(text)
        out = Path(options.output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "index.html").write_text("<html><body>" + "".join(texts) + "</body></html>")
        return SimpleNamespace(pages=1, written=("index.html",), removed=())


def recording_server(site: Path, tmp_path: Path, log: list[tuple[int, Any]], **kwargs: Any) -> DevServer:
    gate = kwargs.pop("gate", None)
    crash = kwargs.pop("crash_incremental", False)
    options = BuildOptions(source=site, output=tmp_path / "out", drafts=True, serve=True)
    return DevServer(
        options,
        port=0,
        out=io.StringIO(),
        builder_factory=lambda: RecordingBuilder(log, crash, gate),
        **kwargs,
    ).start()


def test_a_burst_of_saves_is_one_rebuild_and_junk_is_ignored(site: Path, tmp_path: Path) -> None:
    log: list[tuple[int, Any]] = []
    with recording_server(site, tmp_path, log, quiet=0.15) as srv:
        stream = EventStream(srv.port)
        try:
            posts = site / "content/posts"
            (posts / ".2020-01-01-hello.md.swp").write_text("x")
            (posts / "4913").write_text("")
            (posts / "4913").unlink()
            for i in range(5):
                write_post(site, "2020-01-01-hello.md", "Hello", f"Edit {i}.")
                write_post(site, "2020-02-01-second.md", "Second", f"Edit {i}.")
                time.sleep(0.02)
            stream.wait_for("reload")
            time.sleep(0.4)  # any second build would have started by now
        finally:
            stream.close()
    assert len(log) == 2, log  # the first build, then one for the whole burst
    assert log[0][1] is None
    assert log[1][1] == ["2020-01-01-hello.md", "2020-02-01-second.md"]


def test_only_junk_files_trigger_no_build(site: Path, tmp_path: Path) -> None:
    log: list[tuple[int, Any]] = []
    with recording_server(site, tmp_path, log, quiet=0.05) as srv:
        posts = site / "content/posts"
        (posts / ".hello.md.swp").write_text("x")
        (posts / "hello.md~").write_text("x")
        (site / "README.md").write_text("not watched")
        time.sleep(0.5)
        assert srv.state.generation == 1
    assert len(log) == 1


def test_fast_path_crash_falls_back_to_a_full_build_with_fresh_caches(site: Path, tmp_path: Path) -> None:
    log: list[tuple[int, Any]] = []
    with recording_server(site, tmp_path, log, quiet=0.05, crash_incremental=True) as srv:
        stream = EventStream(srv.port)
        try:
            write_post(site, "2020-01-01-hello.md", "Hello", "After the crash.")
            stream.wait_for("reload")
        finally:
            stream.close()
        assert b"After the crash." in get(srv.port, "/")[2]
    assert [changed for _, changed in log] == [None, ["2020-01-01-hello.md"], None]
    assert log[1][0] != log[2][0]  # a new Builder: its caches are not trusted


def test_changes_of_a_failed_build_are_passed_again(site: Path, tmp_path: Path) -> None:
    log: list[tuple[int, Any]] = []
    with recording_server(site, tmp_path, log, quiet=0.05) as srv:
        stream = EventStream(srv.port)
        try:
            write_post(site, "2020-01-01-hello.md", "Hello", "BROKEN")
            assert json.loads(stream.wait_for("error"))["errors"] == [
                "content/posts/2020-01-01-hello.md:2: broken front matter"
            ]
            write_post(site, "2020-01-01-hello.md", "Hello", "Mended.")
            write_post(site, "2020-02-01-second.md", "Second", "Also changed.")
            stream.wait_for("ok")
            stream.wait_for("reload")
        finally:
            stream.close()
    assert log[-1][1] == ["2020-01-01-hello.md", "2020-02-01-second.md"]


def test_requests_wait_while_a_build_runs(site: Path, tmp_path: Path) -> None:
    log: list[tuple[int, Any]] = []
    gate = threading.Event()
    gate.set()
    with recording_server(site, tmp_path, log, quiet=0.02, gate=gate) as srv:
        gate.clear()
        write_post(site, "2020-01-01-hello.md", "Hello", "Gated edit.")
        wait_until(lambda: srv.state.building, what="the build to start")
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(get(srv.port, "/")[2]))
        reader.start()
        time.sleep(0.3)
        assert got == []  # held at the gate, not answered with a half-built site
        gate.set()
        reader.join(timeout=10)
        assert got and b"Gated edit." in got[0]


def test_first_build_failing_still_serves_and_recovers(site: Path, tmp_path: Path) -> None:
    write_post(site, "2020-01-01-hello.md", "Hello", "BROKEN")
    log: list[tuple[int, Any]] = []
    with recording_server(site, tmp_path, log, quiet=0.05) as srv:
        status, _, body = get(srv.port, "/")
        assert status == 404 and CLIENT_PATH.encode() in body
        stream = EventStream(srv.port, generation=0)
        try:
            assert stream.next()[0] == "error"
            write_post(site, "2020-01-01-hello.md", "Hello", "Good now.")
            stream.wait_for("reload")
        finally:
            stream.close()
        assert b"Good now." in get(srv.port, "/")[2]


def test_stop_is_prompt_with_open_streams_and_idle_connections(site: Path, tmp_path: Path) -> None:
    log: list[tuple[int, Any]] = []
    srv = recording_server(site, tmp_path, log)
    stream = EventStream(srv.port)
    idle = socket.create_connection(("127.0.0.1", srv.port))  # sends nothing, like a preconnect
    try:
        started = time.monotonic()
        srv.stop()
        assert time.monotonic() - started < 3
        with pytest.raises((EOFError, OSError)):
            stream.next(timeout=2)
    finally:
        stream.close()
        idle.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()


def test_css_only_change_swaps_styles_instead_of_reloading(site: Path, tmp_path: Path) -> None:
    css = site / "static/css/extra.css"
    css.parent.mkdir(parents=True)
    css.write_text("body { color: black; }")
    log: list[tuple[int, Any]] = []
    with recording_server(site, tmp_path, log, quiet=0.05) as srv:
        stream = EventStream(srv.port)
        try:
            css.write_text("body { color: red; }")
            assert stream.next()[0] == "css"
            write_post(site, "2020-01-01-hello.md", "Hello", "Text edit.")
            assert stream.next()[0] == "reload"
        finally:
            stream.close()


def test_exposed_host_warns(capsys: pytest.CaptureFixture[str]) -> None:
    from builder.serve import run_server

    with socket.socket() as taken:  # the port is busy, so nothing is actually exposed
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run_server(SimpleNamespace(source=".", output="."), "0.0.0.0", port) == 2
    err = capsys.readouterr().err
    assert "warning: serving on 0.0.0.0" in err
    assert "cannot listen" in err


def test_main_serve_rejects_a_folder_that_is_not_a_site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from builder.serve import add_arguments, main_serve

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--source", str(tmp_path), "--port", "0"])
    assert args.host == "127.0.0.1" and args.drafts is True
    assert main_serve(args) == 2
    assert "not a site folder" in capsys.readouterr().err
    assert parser.parse_args(["--no-drafts"]).drafts is False


def test_ctrl_c_stops_the_process_cleanly_and_removes_its_temp_output(site: Path) -> None:
    import os
    import re
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "builder.serve", "--source", str(site), "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stderr is not None
        banner = ""
        deadline = time.monotonic() + 60
        while "Serving" not in banner and time.monotonic() < deadline:
            banner = proc.stderr.readline()
            assert banner or proc.poll() is None, "serve exited early"
        found = re.search(r"Serving (\S+) at http://127\.0\.0\.1:(\d+)/", banner)
        assert found, banner
        output, port = Path(found[1]), int(found[2])
        assert get(port, "/posts/hello/")[0] == 200
        assert output.is_dir()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert not output.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_invalid_round_data_is_reported_and_fixing_it_clears(site: Path, tmp_path: Path) -> None:
    rounds = site / "data/rounds"
    rounds.mkdir(parents=True)
    (site / "data/people.yaml").write_text("ann: {name: Ann, public: true}\nbob: {name: Bob, public: true}\n")
    good = "round: 1\ndate: 2020-01-10\npairs:\n  - [ann, bob]\n"
    (rounds / "round-1.yaml").write_text(good)
    options = BuildOptions(source=site, output=tmp_path / "out", drafts=True, serve=True)
    with DevServer(options, port=0, out=io.StringIO()) as srv:
        assert get(srv.port, "/network/round-1/")[0] == 200
        stream = EventStream(srv.port)
        try:
            (rounds / "round-1.yaml").write_text(good + "  - [ann, carl]\n")  # ann twice in one round
            payload = json.loads(stream.wait_for("error"))
            assert any(line.startswith("data/rounds/round-1.yaml:") for line in payload["errors"]), payload
            assert get(srv.port, "/network/round-1/")[0] == 200  # last good build still served
            (rounds / "round-1.yaml").write_text(good + "  - [carl, dora]\n")
            stream.wait_for("ok")
        finally:
            stream.close()
        assert srv.state.errors == []


def test_draft_flag_and_date_changes_update_every_listing(site: Path, tmp_path: Path) -> None:
    options = BuildOptions(source=site, output=tmp_path / "out", drafts=False, serve=True)  # --no-drafts
    with DevServer(options, port=0, out=io.StringIO()) as srv:
        assert get(srv.port, "/posts/sketch/")[0] == 404
        assert b"/posts/hello/" in get(srv.port, "/")[2]
        assert b"/posts/hello/" in get(srv.port, "/archive/")[2]
        stream = EventStream(srv.port)
        try:
            write_post(site, "2020-01-01-hello.md", "Hello", "Now a draft.", tags=["alpha"], draft=True)
            stream.wait_for("reload")
            assert get(srv.port, "/posts/hello/")[0] == 404
            for listing in ("/", "/archive/", "/feed.xml"):
                assert b"/posts/hello/" not in get(srv.port, listing)[2], listing
            status, _, body = get(srv.port, "/tags/alpha/")
            assert status == 404 or b"/posts/hello/" not in body
            write_post(site, "2020-01-01-hello.md", "Hello", "Back, and older.", date="2010-06-01", tags=["alpha"])
            stream.wait_for("reload")
        finally:
            stream.close()
        archive = get(srv.port, "/archive/")[2]
        assert b"2010" in archive and b"/posts/hello/" in archive
        assert b"/posts/hello/" in get(srv.port, "/tags/alpha/")[2]


def test_debug_log_times_every_stage_of_a_rebuild_and_each_request(site: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    options = BuildOptions(source=site, output=tmp_path / "out", drafts=True, serve=True)
    with DevServer(options, port=0, out=out, debug=True) as srv:
        stream = EventStream(srv.port)
        try:
            write_post(site, "2020-01-01-hello.md", "Hello", "Timed edit.", tags=["alpha"])
            stream.wait_for("reload")
            get(srv.port, post_url("hello"))
            wait_until(lambda: "timing: burst" in out.getvalue(), what="the rebuild's timing line")
        finally:
            stream.close()
    text = out.getvalue()
    number = r"\d+\.\d"
    stages = (
        rf"burst {number} ms, quiet wait {number} ms, to build {number} ms, build {number} ms \(builder says {number}\)"
    )
    assert re.search(stages + rf", announce {number} ms; first event -> reload sent {number} ms", text), text
    quiet = float(re.search(rf"quiet wait ({number}) ms", text)[1])  # type: ignore[index]
    assert quiet >= srv.debouncer.quiet * 1000 - 1
    assert re.search(rf"timing: GET /posts/hello/ waited {number} ms for the build, answered in {number} ms", text)
    assert "timing: sent reload to a browser" in text


def test_no_timing_lines_without_debug(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETJOURNAL_SERVE_DEBUG", raising=False)
    out = io.StringIO()
    options = BuildOptions(source=site, output=tmp_path / "out", drafts=True, serve=True)
    with DevServer(options, port=0, out=out) as srv:
        stream = EventStream(srv.port)
        try:
            write_post(site, "2020-01-01-hello.md", "Hello", "Quiet edit.", tags=["alpha"])
            stream.wait_for("reload")
        finally:
            stream.close()
    assert "built" in out.getvalue() and "timing:" not in out.getvalue()


class GcWatchingBuilder(RecordingBuilder):
    """Records whether the cyclic collector could run during each build."""

    def __init__(self, log: list[tuple[int, Any]], enabled: list[bool]) -> None:
        super().__init__(log)
        self.enabled = enabled

    def build(self, options: Any, changed: Any = None) -> Any:
        self.enabled.append(gc.isenabled())
        return super().build(options, changed)


def test_rebuilds_run_without_the_collector_and_an_idle_server_freezes_its_objects(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from builder import serve as serve_module

    monkeypatch.setattr(serve_module, "TIDY_AFTER_SECONDS", 0.1)
    log: list[tuple[int, Any]] = []
    enabled: list[bool] = []
    options = BuildOptions(source=site, output=tmp_path / "out", drafts=True, serve=True)
    gc.unfreeze()
    with DevServer(
        options, port=0, out=io.StringIO(), builder_factory=lambda: GcWatchingBuilder(log, enabled), quiet=0.02
    ).start() as srv:
        wait_until(lambda: gc.get_freeze_count() > 0, what="the idle tidy after the first build")
        gc.unfreeze()
        stream = EventStream(srv.port)
        try:
            write_post(site, "2020-01-01-hello.md", "Hello", "Edited.")
            stream.wait_for("reload")
        finally:
            stream.close()
        assert gc.isenabled()  # turned back on once the reload was sent
        wait_until(lambda: gc.get_freeze_count() > 0, what="the idle tidy after the rebuild")
    assert gc.get_freeze_count() == 0  # stopping hands the objects back to the collector
    assert enabled == [True, False]  # the first build as usual; the rebuild without collections


def test_an_edit_the_watcher_missed_shows_up_after_the_next_rebuild(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rebuilds take the watcher's word for which posts changed; when idle, the server walks the
    posts once and rebuilds what it missed (as a full walk per rebuild used to catch it)."""
    from builder import serve as serve_module

    real = serve_module._Recorder.dispatch

    def deaf_to_hello(self: object, event: Any) -> None:
        if "hello" not in str(getattr(event, "src_path", "")):
            real(self, event)  # type: ignore[arg-type]

    monkeypatch.setattr(serve_module._Recorder, "dispatch", deaf_to_hello)
    options = BuildOptions(source=site, output=tmp_path / "out", drafts=True, serve=True)
    with DevServer(options, port=0, out=io.StringIO()).start() as srv:
        write_post(site, "2020-01-01-hello.md", "Hello", "Changed where nobody heard.", tags=["alpha"])
        write_post(site, "2020-02-01-second.md", "Second", "Heard.", date="2020-02-01", tags=["beta"])
        wait_until(lambda: b"Heard." in get(srv.port, post_url("second"))[2], what="the heard edit")
        wait_until(lambda: b"nobody heard" in get(srv.port, post_url("hello"))[2], what="the missed edit")


def test_a_missed_edit_that_breaks_the_build_is_reported_once(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The idle walk rebuilds a missed edit; when that build fails, it is not retried every second."""
    from builder import serve as serve_module

    real = serve_module._Recorder.dispatch

    def deaf_to_hello(self: object, event: Any) -> None:
        if "hello" not in str(getattr(event, "src_path", "")):
            real(self, event)  # type: ignore[arg-type]

    monkeypatch.setattr(serve_module._Recorder, "dispatch", deaf_to_hello)
    log = io.StringIO()
    options = BuildOptions(source=site, output=tmp_path / "out", drafts=True, serve=True)
    with DevServer(options, port=0, out=log).start() as srv:
        (site / "content/posts/2020-01-01-hello.md").write_text("---\ntitle: [unclosed\n---\nBroken.\n")
        write_post(site, "2020-02-01-second.md", "Second", "Heard.", date="2020-02-01", tags=["beta"])
        wait_until(lambda: "build failed" in log.getvalue(), what="the missed, broken edit to be built")
        time.sleep(3.5)  # three more idle seconds: no rebuild of the same failure
        assert log.getvalue().count("build failed") == 1
        assert b"Heard." in get(srv.port, post_url("second"))[2]


def test_a_failed_build_is_not_built_again_when_idle(site: Path, tmp_path: Path) -> None:
    """Its changes are passed again with the next save; the idle walk does not retry them."""
    log = io.StringIO()
    options = BuildOptions(source=site, output=tmp_path / "out", drafts=True, serve=True)
    with DevServer(options, port=0, out=log).start():
        time.sleep(0.5)
        (site / "content/posts/2020-01-01-hello.md").write_text("---\ntitle: [unclosed\n---\nBroken.\n")
        wait_until(lambda: "build failed" in log.getvalue(), what="the broken edit to be built")
        time.sleep(3.5)
        assert log.getvalue().count("build failed") == 1

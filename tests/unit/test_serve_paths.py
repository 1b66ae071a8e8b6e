"""The pure parts of `serve`: path safety, content types, injection, event frames."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest

from builder.errors import SiteError, SiteErrors
from builder.serve import (
    CLIENT_PATH,
    IMMUTABLE,
    NO_STORE,
    EventHub,
    RebuildTrace,
    cache_control,
    client_script,
    client_version,
    content_type,
    debug_enabled,
    error_payload,
    format_errors,
    inject_client,
    is_loopback,
    lookup,
    public_url,
    resolve_request_path,
    sse_message,
)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    root = tmp_path / "public"
    (root / "posts/hello").mkdir(parents=True)
    (root / "posts/hello/index.html").write_text("<p>hi</p>")
    (root / "index.html").write_text("<p>home</p>")
    (root / "css").mkdir()
    (root / "css/site.css").write_text("body{}")
    (tmp_path / "secret.txt").write_text("do not serve")
    return root


@pytest.mark.parametrize(
    "url",
    [
        "/../secret.txt",
        "/posts/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/posts/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/posts%00/index.html",
        "/index.html%00.css",
        "//etc/passwd",
        "/C:/Windows/win.ini",
        "etc/passwd",
        "/%ff%fe",
    ],
)
def test_traversal_spellings_are_refused(out: Path, url: str) -> None:
    assert resolve_request_path(out, url) is None
    assert lookup(out, url).kind == "forbidden"


def test_absolute_path_after_decoding_stays_inside(out: Path) -> None:
    # "%2fetc%2fpasswd" decodes to "/etc/passwd" relative to the root, never the real one.
    resolved = resolve_request_path(out, "/%2fetc%2fpasswd")
    assert resolved == out.resolve() / "etc/passwd"
    assert lookup(out, "/%2fetc%2fpasswd").kind == "missing"


def test_symlink_pointing_outside_is_refused(out: Path, tmp_path: Path) -> None:
    (out / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (out / "leakdir").symlink_to(tmp_path)
    assert resolve_request_path(out, "/leak.txt") is None
    assert resolve_request_path(out, "/leakdir/secret.txt") is None


def test_symlink_inside_the_output_is_served(out: Path) -> None:
    (out / "alias.css").symlink_to(out / "css/site.css")
    assert lookup(out, "/alias.css").path == (out / "css/site.css").resolve()


def test_clean_urls_and_redirects(out: Path) -> None:
    assert lookup(out, "/").path == (out / "index.html").resolve()
    assert lookup(out, "/posts/hello/").path == (out / "posts/hello/index.html").resolve()
    assert lookup(out, "/posts/hello").kind == "redirect"
    assert lookup(out, "/posts/hello/?x=1").kind == "file"
    assert lookup(out, "/css/site.css").kind == "file"
    assert lookup(out, "/nope/").kind == "missing"
    assert lookup(out, "/posts/").kind == "missing"  # folder without an index


def test_percent_encoded_names_are_decoded(out: Path) -> None:
    (out / "a b.txt").write_text("x")
    assert lookup(out, "/a%20b.txt").path == (out / "a b.txt").resolve()


@pytest.mark.parametrize(
    ("name", "ctype"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("site.css", "text/css; charset=utf-8"),
        ("network.js", "text/javascript; charset=utf-8"),
        ("data.json", "application/json"),
        ("feed.xml", "application/xml; charset=utf-8"),
        ("round-1.graphml", "application/xml; charset=utf-8"),
        ("robots.txt", "text/plain; charset=utf-8"),
        ("logo.svg", "image/svg+xml"),
        ("font.woff2", "font/woff2"),
        ("pagefind.wasm", "application/wasm"),
        ("PHOTO.JPG", "image/jpeg"),
        ("blob.pf_fragment", "application/octet-stream"),
    ],
)
def test_content_types(name: str, ctype: str) -> None:
    assert content_type(name) == ctype


def test_inject_before_the_last_body_close() -> None:
    html = b"<html><body><pre>&lt;/body&gt; </body></pre></BODY></html>"
    got = inject_client(html, 7)
    tag = f'<script src="{CLIENT_PATH}?v={client_version()}" data-generation="7"'.encode()
    assert got.index(tag) == html.rindex(b"</BODY>")
    assert got.count(b"<script") == 1
    assert got.replace(got[got.index(tag) : got.index(b"</script>") + 9], b"") == html


def test_inject_appends_when_there_is_no_body_close() -> None:
    got = inject_client(b"<p>fragment", 0)
    assert got.startswith(b"<p>fragment<script")


def test_client_script_is_packaged_and_uses_text_only() -> None:
    js = client_script().decode()
    assert "EventSource" in js
    assert "sessionStorage" in js
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js


def test_client_version_is_the_scripts_hash() -> None:
    assert client_version() == hashlib.sha256(client_script()).hexdigest()[:10]
    assert cache_control(CLIENT_PATH, f"v={client_version()}", client_script()) == IMMUTABLE
    assert cache_control(CLIENT_PATH, "v=0123456789", client_script()) == NO_STORE  # an old script's URL
    assert cache_control(CLIENT_PATH, "", client_script()) == NO_STORE


def test_only_content_addressed_files_may_be_cached() -> None:
    css = b"body { color: red }"
    digest = hashlib.sha256(css).hexdigest()[:10]
    assert cache_control(f"/static/css/style.{digest}.css", "", css) == IMMUTABLE
    assert cache_control(f"/static/css/style.{digest}.css", "netjournal=123", css) == IMMUTABLE  # CSS swap bust
    assert cache_control("/static/js/vendor/d3.min.js", f"v={digest}", css) == IMMUTABLE
    # a hash-like name whose hash is not the content's (a file named so by hand, or stale) is never cached
    assert cache_control("/static/css/style.0123456789.css", "", css) == NO_STORE
    assert cache_control(f"/static/css/style.{digest}.css", "", css + b" ") == NO_STORE
    assert cache_control("/static/css/style.css", "", css) == NO_STORE
    assert cache_control("/static/js/vendor/d3.min.js", "", css) == NO_STORE
    assert cache_control(f"/static/css/empty.{hashlib.sha256(b'').hexdigest()[:10]}.css", "", b"") == NO_STORE


def test_sse_frames_prefix_every_data_line() -> None:
    assert sse_message("reload") == b"event: reload\ndata: \n\n"
    assert sse_message("error", "a\nb") == b"event: error\ndata: a\ndata: b\n\n"


def test_error_payload_and_format() -> None:
    errors = SiteErrors(
        [
            SiteError("content/posts/b.md", 3, "missing title", "add title: …"),
            SiteError("content/posts/a.md", 2, "bad YAML"),
        ]
    )
    lines = format_errors(errors)
    assert lines == ["content/posts/a.md:2: bad YAML", "content/posts/b.md:3: missing title (add title: …)"]
    assert format_errors(SiteError("site.yaml", None, "x")) == ["site.yaml: x"]
    assert format_errors(KeyError("k")) == ["internal error: KeyError: 'k'"]
    assert json.loads(error_payload(lines))["errors"] == lines


def test_event_hub_delivers_to_every_reader_and_closes() -> None:
    hub = EventHub(keep=3)
    start = hub.cursor()
    hub.publish("reload")
    hub.publish("css")
    got = hub.wait(start, timeout=0.01)
    assert got == ([("reload", ""), ("css", "")], start + 2)
    assert hub.wait(start + 2, timeout=0.01) == ([], start + 2)  # heartbeat case
    for i in range(5):
        hub.publish("e", str(i))
    events, _ = hub.wait(start, timeout=0.01) or ([], 0)
    assert [d for _, d in events] == ["2", "3", "4"]  # keeps only the newest

    results: list[object] = []
    reader = threading.Thread(target=lambda: results.append(hub.wait(hub.cursor(), timeout=5)))
    reader.start()
    hub.close()
    reader.join(timeout=2)
    assert not reader.is_alive()
    assert results == [None]


def test_event_hub_counts_clients() -> None:
    hub = EventHub()
    with hub.client(), hub.client():
        assert hub.clients == 2
    assert hub.clients == 0


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.1.2.3", True), ("0.0.0.0", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_public_url() -> None:
    assert public_url("127.0.0.1", 8000) == "http://127.0.0.1:8000/"
    assert public_url("0.0.0.0", 81) == "http://localhost:81/"
    assert public_url("::1", 9) == "http://[::1]:9/"


def test_rebuild_trace_line_gives_each_stage_in_ms() -> None:
    trace = RebuildTrace(first_event=10.0, last_event=10.001, due=10.021, build_start=10.0215)
    trace.build_end, trace.announced, trace.builder_seconds = 10.1215, 10.122, 0.0995
    line = trace.line()
    assert "burst 1.0 ms, quiet wait 20.0 ms, to build 0.5 ms, build 100.0 ms (builder says 99.5)" in line
    assert "announce 0.5 ms; first event -> reload sent 122.0 ms" in line
    assert "[event@10.000000 sent@10.122000]" in line
    unfinished = RebuildTrace(first_event=1.0, last_event=1.0, due=1.02, build_start=1.03, build_end=1.5).line()
    assert "announce - ms" in unfinished and "builder says -" in unfinished  # a failed build: never announced


@pytest.mark.parametrize(
    ("value", "on"), [("", False), ("0", False), ("off", False), ("no", False), ("1", True), ("yes", True)]
)
def test_debug_switch(value: str, on: bool) -> None:
    assert debug_enabled({"NETJOURNAL_SERVE_DEBUG": value}) is on
    assert debug_enabled({}) is False

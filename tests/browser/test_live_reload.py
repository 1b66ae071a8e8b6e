"""Live reload in headless Chromium against the real `serve`: save -> reloaded page.

Measures save -> reloaded-with-new-text for 10 edits (printed; run with ``-s`` to
see it), and checks scroll position, the error overlay and the CSS swap.
"""

from __future__ import annotations

import io
import re
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from builder.build import BuildOptions
from builder.serve import DevServer
from tests.browser.built_site import chromium

pytestmark = pytest.mark.browser

PARAGRAPHS = 60  # long enough to scroll


def post_text(marker: str, title: str = "A long post") -> str:
    body = "\n\n".join(f"Paragraph {i} of a long reflective post about listening." for i in range(PARAGRAPHS))
    front = f"---\ntitle: {title}\ndate: 2020-01-01\ntags: [listening]\n---\n"
    return f"{front}{marker}\n\n{body}\n\nEnd: {marker}\n"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "content/posts").mkdir(parents=True)
    (root / "site.yaml").write_text("title: Live\nbase_url: https://example.org/\nsearch: false\n")
    (root / "content/posts/2020-01-01-long.md").write_text(post_text("Marker zero."))
    (root / "content/posts/2020-02-01-other.md").write_text("---\ntitle: Other\ndate: 2020-02-01\n---\nAnother post.\n")
    return root


@pytest.fixture
def server_log() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def server(site: Path, tmp_path: Path, server_log: io.StringIO) -> Iterator[DevServer]:
    before = {t.ident for t in threading.enumerate()}
    options = BuildOptions(source=site, output=tmp_path / "out", drafts=True, serve=True)
    srv = DevServer(options, port=0, out=server_log, debug=True).start()
    yield srv
    srv.stop()
    deadline = time.monotonic() + 5
    while [t for t in threading.enumerate() if t.ident not in before] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [t.name for t in threading.enumerate() if t.ident not in before] == []


@pytest.fixture
def page(browser: Browser, server: DevServer) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1000, "height": 700})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server.url + "posts/long/")
    # the client is connected once the server counts it
    deadline = time.monotonic() + 10
    while server.hub.clients < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.hub.clients >= 1
    yield pg
    ctx.close()
    assert errors == []


def wait_connected(server: DevServer, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while server.hub.clients < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.hub.clients >= count


PAINTED_AT = """() => {
  const p = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');
  return p ? performance.timeOrigin + p.startTime : null;
}"""


def save_and_time(page: Page, server: DevServer, post: Path, marker: str, painted: list[float] | None = None) -> float:
    """Write the post and return seconds until Playwright sees the new text after a reload.

    With ``painted``, also append the seconds from the save to the reloaded page's first
    contentful paint as the browser itself timed it (Playwright's polling not included).
    """
    page.evaluate("window.__notReloaded = true")
    saved_epoch = time.time()
    started = time.perf_counter()
    post.write_text(post_text(marker))
    page.wait_for_function(
        "m => !window.__notReloaded && document.body && document.body.textContent.includes(m)",
        arg=marker,
        timeout=10_000,
        polling="raf",
    )
    took = time.perf_counter() - started
    if painted is not None:
        page.wait_for_load_state("load")
        at = page.evaluate(PAINTED_AT)
        assert at is not None, "no first-contentful-paint entry"
        painted.append(at / 1000 - saved_epoch)
    wait_connected(server)  # the reloaded page has re-subscribed before the next edit
    return took


def test_ten_saves_each_reload_with_the_new_text(
    page: Page, server: DevServer, site: Path, server_log: io.StringIO
) -> None:
    post = site / "content/posts/2020-01-01-long.md"
    painted: list[float] = []
    times = [save_and_time(page, server, post, f"Marker number {i}.", painted) for i in range(10)]
    builds = [float(ms) for ms in re.findall(r"timing: burst .*?, build ([\d.]+) ms \(builder", server_log.getvalue())]
    assert len(builds) == len(times)  # one rebuild per save
    rebuild = statistics.median(builds) / 1000
    paint = statistics.median(painted)
    assert all(0 < p < t + 1 for p, t in zip(painted, times, strict=True))  # the reloaded page, after the save
    print(
        f"\nsave->reloaded page painted over {len(times)} edits: median {paint * 1000:.0f} ms "
        f"= rebuild {rebuild * 1000:.0f} ms + everything else {(paint - rebuild) * 1000:.0f} ms "
        f"(min {min(painted) * 1000:.0f}, max {max(painted) * 1000:.0f}); "
        f"until Playwright saw the new text: median {statistics.median(times) * 1000:.0f} ms"
    )
    assert "Marker number 9." in page.locator("body").inner_text()
    assert "Marker zero." not in page.locator("body").inner_text()


def test_reload_keeps_the_scroll_position(page: Page, server: DevServer, site: Path) -> None:
    page.evaluate("window.scrollTo(0, 900)")
    page.wait_for_function("window.scrollY >= 890")
    save_and_time(page, server, site / "content/posts/2020-01-01-long.md", "Scrolled marker.")
    page.wait_for_function("document.readyState === 'complete'")
    assert abs(page.evaluate("window.scrollY") - 900) <= 2


def test_overlay_appears_on_broken_front_matter_and_clears_when_fixed(
    page: Page, server: DevServer, site: Path
) -> None:
    post = site / "content/posts/2020-01-01-long.md"
    good = post.read_text()
    post.write_text("---\ntitle: <b>Broken</b>\ndate: [2020\n---\nBroken.\n")
    overlay = page.locator("#netjournal-error-overlay")
    expect(overlay).to_be_visible(timeout=10_000)
    expect(overlay).to_contain_text("content/posts/2020-01-01-long.md:")
    assert page.locator("#netjournal-error-overlay b").count() == 0  # text only, never HTML
    assert "Marker zero." in page.locator("main").inner_text()  # last good build still shown
    # a second browser opened now sees the overlay too
    other = page.context.new_page()
    other.goto(server.url + "posts/long/")
    expect(other.locator("#netjournal-error-overlay")).to_be_visible(timeout=10_000)
    post.write_text(good.replace("Marker zero.", "Fixed marker."))
    for pg in (page, other):
        expect(pg.locator("#netjournal-error-overlay")).to_have_count(0, timeout=10_000)
        expect(pg.locator("main")).to_contain_text("Fixed marker.", timeout=10_000)
    other.close()


def test_css_only_edit_swaps_styles_without_reloading(browser: Browser, site: Path, tmp_path: Path) -> None:
    theme_css = Path(__file__).resolve().parents[2] / "themes/default/static/css/style.css"
    css = site / "static/css/style.css"
    css.parent.mkdir(parents=True)
    css.write_text(theme_css.read_text() + "\nh1 { outline: 1px solid rgb(0, 0, 255); }\n")
    options = BuildOptions(source=site, output=tmp_path / "out-css", drafts=True, serve=True)
    with DevServer(options, port=0, out=io.StringIO()) as srv:
        ctx = browser.new_context()
        pg = ctx.new_page()
        try:
            pg.goto(srv.url + "posts/long/")
            wait_connected(srv)
            assert pg.evaluate("getComputedStyle(document.querySelector('h1')).outlineColor") == "rgb(0, 0, 255)"
            pg.evaluate("window.__sameDocument = true")
            css.write_text(css.read_text().replace("rgb(0, 0, 255)", "rgb(255, 0, 0)"))
            pg.wait_for_function(
                "getComputedStyle(document.querySelector('h1')).outlineColor === 'rgb(255, 0, 0)'",
                timeout=10_000,
            )
            assert pg.evaluate("window.__sameDocument") is True  # swapped in place, not reloaded
            assert pg.evaluate("window.netjournalCssSwaps") == 1
            assert pg.locator("link[rel=stylesheet][href*='style']").count() == 1
        finally:
            ctx.close()


def test_a_reload_refetches_the_page_but_not_its_fingerprinted_css_or_the_client(
    browser: Browser, site: Path, tmp_path: Path
) -> None:
    log = io.StringIO()
    options = BuildOptions(source=site, output=tmp_path / "out-cache", drafts=True, serve=True)
    with DevServer(options, port=0, out=log, log_requests=True) as srv:
        ctx = browser.new_context()
        pg = ctx.new_page()
        try:
            pg.goto(srv.url + "posts/long/")
            pg.wait_for_load_state("load")
            wait_connected(srv)
            first = log.getvalue()
            assert '"GET /static/css/style.' in first and '"GET /__netjournal/livereload.js?v=' in first
            save_and_time(pg, srv, site / "content/posts/2020-01-01-long.md", "Cached marker.")
            pg.wait_for_load_state("load")
            again = log.getvalue()[len(first) :]
        finally:
            ctx.close()
    assert '"GET /posts/long/' in again  # the page itself is always fetched fresh
    assert '"GET /static/css/style.' not in again  # content-addressed: the cached copy cannot be stale
    assert "livereload.js" not in again

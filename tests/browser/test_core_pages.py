"""Headless Chromium opens the built example site: index, a post with a diagram, a tag page.

The site is built into a temporary folder and served by http.server on 127.0.0.1;
every request the browser makes is recorded and must stay on that server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLE_NOW, ROOT
from playwright.sync_api import Page

from builder.build import Builder, BuildOptions
from tests.browser.built_site import chromium, serve_folder

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example site under /journal/ (its base_url path), served on a free local port."""
    root = tmp_path_factory.mktemp("served")
    Builder().build(BuildOptions(ROOT, root / "journal", now=EXAMPLE_NOW))
    with serve_folder(root) as origin:
        yield origin


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def visit(browser, origin: str, path: str, shot: str) -> tuple[Page, list[str], list[str]]:
    """Open a page; return it with every requested URL and every console error / page error."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # anything not on our server is recorded above and then refused, so the test never needs a network
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(origin) else route.abort())
    response = page.goto(origin + path, wait_until="networkidle")
    assert response is not None and response.status == 200
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"core-{shot}.png"), full_page=False)
    return page, requests, errors


def only_local(requests: list[str], origin: str) -> list[str]:
    return [u for u in requests if not (u.startswith(origin + "/") or u.startswith("data:"))]


def test_index_page(browser, server):
    page, requests, errors = visit(browser, server, "/journal/", "index")
    assert only_local(requests, server) == []
    assert errors == []
    assert page.locator("h1").first.inner_text() == "Notes from the Network"
    assert page.locator("ol.post-list > li").count() == 5  # paginate: 5
    assert page.locator("a[rel=next]").first.is_visible()
    skip = page.locator("a.skip-link")
    page.keyboard.press("Tab")
    assert skip.evaluate("el => el === document.activeElement")
    assert any(u.endswith(".css") for u in requests)
    page.context.close()


def test_post_page_with_diagram(browser, server):
    page, requests, errors = visit(browser, server, "/journal/posts/the-first-chains/", "post")
    assert only_local(requests, server) == []
    assert errors == []
    assert page.locator("h1").inner_text() == "The first chains"
    assert page.locator("figure.nj-diagram").first.is_visible()
    assert page.locator("figure.nj-diagram svg").count() >= 1
    assert any("/vendor/d3/d3.min.js" in u for u in requests)
    assert page.locator("nav.post-nav a").count() >= 1
    assert page.locator("ul.tag-list a.tag").count() >= 1
    page.context.close()


def test_tag_page(browser, server):
    page, requests, errors = visit(browser, server, "/journal/tags/yet/", "tag")
    assert only_local(requests, server) == []
    assert errors == []
    assert page.locator("h1").inner_text() == "Yet"
    assert page.locator(".tag-description").is_visible()
    titles = page.locator("ol.post-list h2").all_inner_texts()
    assert titles and 'The power of "yet"' in titles
    feed = page.locator("head link[type='application/atom+xml']").last.get_attribute("href")
    assert feed == "/journal/tags/yet/feed.xml"
    page.context.close()

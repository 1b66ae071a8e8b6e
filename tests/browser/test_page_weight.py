"""What each page type really fetches: nothing external, D3 only where a diagram is, assets cache-busted.

The requests are recorded in a real browser, so this also checks that
``scripts/page_weight.py`` counts exactly the CSS and JS a browser loads.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from built_site import EXAMPLE_NOW, BuiltSite, chromium, served_example
from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "page_weight.py"
FINGERPRINT = re.compile(r"\.[0-9a-f]{10}\.(css|js)$")


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location("nj_page_weight", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


page_weight = _load_script()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltSite]:
    with served_example(tmp_path_factory.mktemp("weight")) as built:
        yield built


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def fetched(site: BuiltSite, browser: Browser) -> dict[str, list[str]]:
    """page path -> every URL the browser requested while loading it (and drawing, and searching)."""
    out: dict[str, list[str]] = {}
    targets = set(page_weight.page_types(site.files).values())
    for path in sorted(targets):
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        urls: list[str] = []
        page.on("request", lambda r, urls=urls: urls.append(r.url))
        url_path = "" if path == "index.html" else path.removesuffix("index.html")
        page.goto(site.url(url_path), wait_until="networkidle")
        page.wait_for_function("document.querySelectorAll('figure.nj-diagram:not([data-nj-ready])').length === 0")
        out[path] = urls
        ctx.close()
    return out


def local(site: BuiltSite, url: str) -> str:
    return urlsplit(url).path.removeprefix("/" + site.base.split("/", 3)[3]).lstrip("/")


def test_every_page_type_is_covered(site: BuiltSite) -> None:
    kinds = page_weight.page_types(site.files)
    expected = {
        "index",
        "post",
        "post+diagram",
        "page",
        "tags",
        "tag",
        "archive",
        "network",
        "round",
        "search",
        "404",
    }
    assert set(kinds) == expected


def test_no_external_requests(site: BuiltSite, fetched: dict[str, list[str]]) -> None:
    for path, urls in fetched.items():
        outside = [u for u in urls if not u.startswith(site.base) and not u.startswith("data:")]
        assert outside == [], f"{path} requested {outside}"


def test_no_external_requests_while_searching(site: BuiltSite, browser: Browser) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(site.url("search/?q=listening"))
    page.locator(".search-result").first.wait_for()
    ctx.close()
    assert [u for u in urls if not u.startswith(site.base)] == []
    assert any("/pagefind/" in u for u in urls)


def test_d3_and_diagram_script_only_on_pages_with_a_diagram(site: BuiltSite, fetched: dict[str, list[str]]) -> None:
    with_diagram = without = 0
    for path, urls in fetched.items():
        has_diagram = b'class="nj-diagram"' in site.files[path]
        loads_d3 = any("/vendor/d3/" in u for u in urls)
        loads_network = any(re.search(r"/js/network\.[0-9a-f]+\.js$", urlsplit(u).path) for u in urls)
        assert loads_d3 == has_diagram, path
        assert loads_network == has_diagram, path
        with_diagram += has_diagram
        without += not has_diagram
    assert with_diagram >= 3 and without >= 5  # network, round, a post with a diagram; the rest


def test_css_and_js_are_fingerprinted_or_cache_busted(site: BuiltSite, fetched: dict[str, list[str]]) -> None:
    for urls in fetched.values():
        for url in urls:
            parts = urlsplit(url)
            if parts.path.endswith((".css", ".js")) and "/pagefind/" not in parts.path:
                assert FINGERPRINT.search(parts.path) or re.fullmatch(r"v=[0-9a-f]{10}", parts.query), url
    search_page = site.files["search/index.html"].decode()
    assert re.search(r'data-pagefind-version="[0-9a-f]{10}"', search_page)


def test_the_script_counts_what_the_browser_loads(site: BuiltSite, fetched: dict[str, list[str]]) -> None:
    base = page_weight.base_path_of(site.files)
    assert base == "/journal/"
    rows = {r.kind: r for r in page_weight.report(site.files)}
    for kind, path in page_weight.page_types(site.files).items():
        counted = set(rows[kind].assets)
        loaded = {local(site, u) for u in fetched[path] if urlsplit(u).path.endswith((".css", ".js"))}
        assert counted == loaded, kind


def test_images_in_posts_are_lazy(tmp_path: Path) -> None:
    """The example has no images, so a small site with two (Markdown and raw HTML) stands in."""
    from conftest import make_post, make_site

    from builder.build import Builder, BuildOptions

    body = '![A chart](chart.png)\n\nText.\n\n![Second](b.png "title")\n'
    source = make_site(tmp_path, {"content/posts/a.md": make_post("Pictures", body=body)})
    _, files = Builder().render(BuildOptions(source, tmp_path / "out", now=EXAMPLE_NOW))
    tags = [t for p, d in files.items() if p.endswith(".html") for t in re.findall(rb"<img\b[^>]*>", d)]
    assert len(tags) >= 2
    assert all(b'loading="lazy"' in t for t in tags), tags


def test_weights_are_reported_and_small_where_no_diagram(site: BuiltSite) -> None:
    rows = {r.kind: r for r in page_weight.report(site.files)}
    text = page_weight.format_table(list(rows.values()))
    for kind in ("index", "post", "network", "search"):
        assert kind in text
    for kind in ("index", "post", "page", "tags", "tag", "archive", "404"):
        assert rows[kind].js == 0, kind  # reading pages run no script
        assert rows[kind].gzip_total < 30 * 1024, kind
    assert rows["search"].js > 0 and rows["search"].gzip_total < 30 * 1024

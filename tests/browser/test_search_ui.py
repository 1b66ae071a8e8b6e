"""Search in a real browser: static files only, under a sub-path, by keyboard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from built_site import BuiltSite, chromium, served_example
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltSite]:
    with served_example(tmp_path_factory.mktemp("search")) as built:
        yield built


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert errors == []


def test_typing_finds_posts_and_links_stay_under_the_sub_path(site: BuiltSite, page: Page) -> None:
    page.goto(site.url("search/"))
    expect(page.locator(".search-nojs")).to_be_hidden()
    box = page.get_by_label("Search the posts")
    box.fill("unmentoring")
    results = page.locator(".search-result a")
    expect(results.first).to_be_visible()
    expect(page.locator(".search-status")).to_contain_text("found for")
    hrefs = results.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith("/journal/posts/") for h in hrefs)
    # each result really is a page of the build
    for href in hrefs:
        assert href.removeprefix("/journal/") + "index.html" in site.files
    # the query is kept in the address, so the result page can be shared and reloaded
    assert "q=unmentoring" in page.url
    page.goto(page.url)
    expect(page.locator(".search-result a").first).to_be_visible()
    assert page.get_by_label("Search the posts").input_value() == "unmentoring"


def test_excerpts_highlight_the_words(site: BuiltSite, page: Page) -> None:
    page.goto(site.url("search/?q=listening"))
    expect(page.locator(".search-excerpt mark").first).to_be_visible()
    assert "listen" in page.locator(".search-excerpt mark").first.inner_text().lower()


def test_no_results_is_said_in_words(site: BuiltSite, page: Page) -> None:
    page.goto(site.url("search/"))
    page.get_by_label("Search the posts").fill("xylophonequux")
    expect(page.locator(".search-status")).to_have_text("No posts found for “xylophonequux”.")
    assert page.locator(".search-result").count() == 0


def test_keyboard_only_search(site: BuiltSite, page: Page) -> None:
    page.goto(site.url("search/"))
    # Tab from the top of the page: skip link, site title, menu links..., then the search box
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "search-input":
            break
    assert page.evaluate("document.activeElement.id") == "search-input"
    page.keyboard.type("network")
    expect(page.locator(".search-result a").first).to_be_visible()
    page.keyboard.press("Tab")  # the Search button
    assert page.evaluate("document.activeElement.type") == "submit"
    page.keyboard.press("Tab")  # the first result
    first_href = page.locator(".search-result a").first.get_attribute("href")
    assert page.evaluate("document.activeElement.getAttribute('href')") == first_href
    # arrows move between results, Escape returns to the box
    page.keyboard.press("ArrowDown")
    second = page.locator(".search-result a").nth(1)
    assert page.evaluate("document.activeElement.getAttribute('href')") == second.get_attribute("href")
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") == "search-input"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.getAttribute('href')") == first_href
    page.keyboard.press("Enter")
    page.wait_for_url(site.origin + first_href)
    assert page.locator("h1").count() == 1


def test_only_same_origin_requests_while_searching(site: BuiltSite, page: Page) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(site.url("search/?q=round"))
    expect(page.locator(".search-result a").first).to_be_visible()
    assert requests
    assert all(r.startswith(site.base) for r in requests), [r for r in requests if not r.startswith(site.base)]
    assert any(r.endswith(".pf_fragment") for r in requests)


def test_without_javascript_the_page_points_elsewhere(site: BuiltSite, browser: Browser) -> None:
    ctx = browser.new_context(java_script_enabled=False)
    pg = ctx.new_page()
    pg.goto(site.url("search/"))
    assert pg.locator("form.search-form").is_hidden()
    expect(pg.get_by_text("Search needs JavaScript")).to_be_visible()
    ctx.close()

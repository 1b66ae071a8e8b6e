"""axe-core on every page type, light and dark; keyboard use of the diagram and search.

The gate is the issue's: zero *serious* or *critical* violations. Moderate and minor
findings are listed in the failure message of the serious check when it fails, and
reported by ``scripts/page_weight.py --axe`` for review.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from built_site import BuiltSite, chromium, served_example
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

PAGE_TYPES = ["index", "post", "page", "tags", "tag", "archive", "network", "round", "search", "404"]
SCHEMES = ["light", "dark"]
WIDTHS = [1280, 390]  # desktop and phone: tables and code blocks scroll sideways only on phones
GATE = {"serious", "critical"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltSite]:
    with served_example(tmp_path_factory.mktemp("a11y")) as built:
        yield built


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def open_ready(browser: Browser, site: BuiltSite, kind: str, scheme: str, width: int = 1280) -> Page:
    """Open a page type and wait until scripts have drawn (diagrams) or answered (search)."""
    ctx = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme, reduced_motion="reduce")
    page = ctx.new_page()
    path = site.page_types()[kind]
    if kind == "search":
        path += "?q=network"
    page.goto(site.url(path))
    page.wait_for_function("document.querySelectorAll('figure.nj-diagram:not([data-nj-ready])').length === 0")
    if kind == "search":
        expect(page.locator(".search-result").first).to_be_visible()
    return page


def audit(page: Page) -> list[dict[str, Any]]:
    return Axe().run(page).response["violations"]


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['impact']}: {v['id']} ({v['help']}) at {[n['target'] for n in v['nodes']][:4]}" for v in violations
    )


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("kind", PAGE_TYPES)
def test_no_serious_or_critical_violations(
    browser: Browser, site: BuiltSite, kind: str, scheme: str, width: int
) -> None:
    page = open_ready(browser, site, kind, scheme, width)
    try:
        violations = audit(page)
    finally:
        page.context.close()
    serious = [v for v in violations if v["impact"] in GATE]
    assert serious == [], describe(violations)


def test_the_audit_can_fail(browser: Browser) -> None:
    """The gate works: a page with known faults is reported serious/critical."""
    ctx = browser.new_context()
    page = ctx.new_page()
    page.set_content(
        "<html><body><img src='data:,'><p style='color:#999;background:#aaa'>low contrast</p>"
        "<input type='text'></body></html>"
    )
    ids = {v["id"] for v in audit(page) if v["impact"] in GATE}
    ctx.close()
    assert {"image-alt", "color-contrast", "label"} <= ids


def tab_until(page: Page, predicate: str, limit: int = 300) -> int:
    """Press Tab until ``predicate`` (JS on document.activeElement, as ``el``) holds; returns presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!({predicate}); }})()"):
            return presses
    raise AssertionError(f"never reached by Tab: {predicate}")


def test_network_diagram_controls_by_keyboard(browser: Browser, site: BuiltSite) -> None:
    page = open_ready(browser, site, "network", "light")
    try:
        fig = page.locator("figure.nj-diagram[data-stepper]")
        last = fig.get_attribute("data-nj-shown-round")
        tab_until(page, "el.closest('figure[data-stepper]') && el.getAttribute('aria-label') === 'Previous round'")
        page.keyboard.press("Enter")
        assert fig.get_attribute("data-nj-shown-round") != last
        tab_until(page, "el.closest('figure[data-stepper]') && el.getAttribute('aria-label') === 'Play'")
        tab_until(page, "el.closest('figure[data-stepper]') && el.type === 'range'")
        before = fig.get_attribute("data-nj-shown-round")
        page.keyboard.press("ArrowRight")
        assert fig.get_attribute("data-nj-shown-round") != before
        tab_until(page, "el.closest('figure[data-stepper]') && el.type === 'radio'")
        tab_until(page, "el.closest('figure[data-stepper]') && el.getAttribute('aria-label') === 'Zoom in'")
        # the drawing is a single Tab stop: arrows move between people, Enter fills the details panel
        presses = tab_until(page, "el.closest('figure[data-stepper]') && el.classList.contains('nj-surface')")
        assert presses == 3  # Zoom out, Reset zoom, then the drawing
        first = fig.get_attribute("data-nj-focused")
        assert first
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowDown")
        assert fig.get_attribute("data-nj-focused") not in ("", None)
        page.keyboard.press("Enter")
        assert fig.get_attribute("data-nj-selected") == fig.get_attribute("data-nj-focused")
        panel = fig.get_by_role("region", name="Selected person")
        expect(panel.locator(".nj-details-name")).not_to_be_empty()
        page.keyboard.press("Tab")
        assert not page.evaluate("document.activeElement.matches('.nj-node, .nj-surface')")
        serious = [v for v in audit(page) if v["impact"] in GATE]
        assert serious == [], describe(serious)
    finally:
        page.context.close()


def test_network_diagram_has_a_text_summary(browser: Browser, site: BuiltSite) -> None:
    for kind in ("network", "round"):
        page = open_ready(browser, site, kind, "light")
        try:
            summary = page.locator(".nj-summary").first.inner_text()
            assert "people" in summary and "connections" in summary
        finally:
            page.context.close()


def test_skip_link_is_first_and_moves_focus_to_main(browser: Browser, site: BuiltSite) -> None:
    page = open_ready(browser, site, "post", "dark", width=390)
    try:
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        expect(page.locator(".skip-link")).to_be_in_viewport()
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
    finally:
        page.context.close()


def test_search_box_reachable_by_keyboard_and_results_by_tab(browser: Browser, site: BuiltSite) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 800})
    page = ctx.new_page()
    try:
        page.goto(site.url("search/"))
        tab_until(page, "el.id === 'search-input'", limit=40)
        page.keyboard.type("conversation")
        expect(page.locator(".search-result").first).to_be_visible()
        tab_until(page, "el.closest('.search-result')", limit=3)
    finally:
        ctx.close()

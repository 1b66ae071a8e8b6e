"""The network pages of the real example build, in Chromium: counts, stepping, embeds.

The diagram script is tested on hand-made payloads in test_diagram_js.py; these tests
check that the *built* pages wire it up correctly: the diagram on /network/round-k/
shows exactly the people and connections the metrics report for round k, stepping on
/network/ keeps everyone in place, and a post with two embeds draws both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.built_site import BuiltSite, chromium, served_example

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltSite]:
    with served_example(tmp_path_factory.mktemp("network-pages")) as built:
        yield built


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def metrics_by_round() -> dict[int, dict[str, int]]:
    """The figures `netjournal network --json` reports, computed independently of the page."""
    from builder.check import load_network
    from builder.network import metrics_json

    root = Path(__file__).resolve().parents[2]
    data = json.loads(metrics_json(load_network(root)))
    return {int(r["round"]): r["metrics"] for r in data["rounds"]}


def open_page(browser: Browser, site: BuiltSite, path: str, outside: list[str]) -> Page:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(site.origin) else None)
    page.goto(site.url(path))
    page.wait_for_selector("figure.nj-diagram[data-nj-ready='1']")
    return page


@pytest.mark.parametrize("k", [1, 3, 5])
def test_round_page_draws_the_people_and_connections_of_round_k(browser: Browser, site: BuiltSite, k: int) -> None:
    outside: list[str] = []
    page = open_page(browser, site, f"network/round-{k}/", outside)
    figure = page.locator("figure.nj-diagram").first
    expected = metrics_by_round()[k]
    people, connections = expected["people"], expected["connections"]
    assert int(figure.get_attribute("data-nj-nodes") or -1) == people
    assert int(figure.get_attribute("data-nj-links") or -1) == connections
    assert page.locator("figure.nj-diagram circle.nj-node").count() == people
    assert outside == []
    page.close()


def test_stepping_on_the_network_page_keeps_people_in_place(browser: Browser, site: BuiltSite) -> None:
    outside: list[str] = []
    page = open_page(browser, site, "network/", outside)
    stepper = "figure.nj-diagram[data-stepper]"

    def positions() -> dict[str, tuple[float, float]]:
        return page.eval_on_selector_all(
            f"{stepper} circle.nj-node",
            "els => Object.fromEntries(els.map(e => { const r = e.getBoundingClientRect();"
            " return [e.dataset.id, [r.x + r.width / 2, r.y + r.height / 2]]; }))",
        )

    page.evaluate("() => window.NetJournal.diagrams.find(d => d.figure.hasAttribute('data-stepper')).setRound(2)")
    page.wait_for_function(f"() => document.querySelector('{stepper}').dataset.njShownRound === '2'")
    page.wait_for_timeout(700)  # let the short transition finish
    before = positions()
    page.evaluate("() => window.NetJournal.diagrams.find(d => d.figure.hasAttribute('data-stepper')).setRound(3)")
    page.wait_for_function(f"() => document.querySelector('{stepper}').dataset.njShownRound === '3'")
    page.wait_for_timeout(700)
    after = positions()
    assert before and set(before) <= set(after)
    assert len(after) > len(before)
    for node, (x, y) in before.items():
        assert abs(after[node][0] - x) < 0.5 and abs(after[node][1] - y) < 0.5, node
    assert outside == []
    page.close()


def test_post_with_two_embeds_draws_both_rounds(browser: Browser, site: BuiltSite) -> None:
    outside: list[str] = []
    page = open_page(browser, site, "posts/the-first-chains/", outside)
    figures = page.locator("figure.nj-diagram")
    assert figures.count() == 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('figure.nj-diagram')].every(f => f.dataset.njReady === '1')"
    )
    expected = metrics_by_round()
    counts = [int(figures.nth(i).get_attribute("data-nj-nodes") or -1) for i in range(2)]
    people = [expected[k]["people"] for k in (1, 2)]
    assert counts == people
    assert outside == []
    page.close()

"""network.js in headless Chromium: counts, stable positions, marking, safety, scale, keyboard.

Pages are built from Python payloads (tests/browser/fixtures/diagram_pages.py)
and served from 127.0.0.1 together with the real vendored d3 and network.js.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.built_site import chromium, serve_folder

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
SHOTS = Path("/tmp/shots")


def _load_pages_module():
    spec = importlib.util.spec_from_file_location("nj_diagram_pages", HERE / "fixtures" / "diagram_pages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pages = _load_pages_module()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("diagram-site")
    payloads = pages.write_site(root)
    with serve_folder(root) as origin:
        yield {"base": origin, **payloads}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page_factory(browser: Browser) -> Iterator[Any]:
    contexts = []

    def make(
        width: int = 1000, height: int = 900, scheme: str = "light", reduced: str = "reduce"
    ) -> tuple[Page, list[str], list[str]]:
        ctx = browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=scheme, reduced_motion=reduced
        )
        contexts.append(ctx)
        pg = ctx.new_page()
        requests: list[str] = []
        errors: list[str] = []
        pg.on("request", lambda r: requests.append(r.url))
        pg.on("pageerror", lambda e: errors.append(str(e)))
        return pg, requests, errors

    yield make
    for ctx in contexts:
        ctx.close()


def _open(pg: Page, url: str) -> None:
    pg.goto(url)
    pg.wait_for_function("document.querySelectorAll('figure.nj-diagram:not([data-nj-ready])').length === 0")


def _drawn(pg: Page, fig: str) -> tuple[set[str], set[frozenset[str]], set[frozenset[str]]]:
    """Node ids, links and new-round links actually present in a figure's SVG."""
    data = pg.evaluate(
        """fig => {
            const f = document.getElementById(fig);
            const links = [...f.querySelectorAll('line.nj-link')].map(l => [
                l.dataset.source, l.dataset.target, l.classList.contains('nj-link-new')]);
            return {nodes: [...f.querySelectorAll('circle.nj-node')].map(c => c.dataset.id), links};
        }""",
        fig,
    )
    links = {frozenset(lk[:2]) for lk in data["links"]}
    new = {frozenset(lk[:2]) for lk in data["links"] if lk[2]}
    assert len(links) == len(data["links"]), "a link is drawn twice"
    assert len(set(data["nodes"])) == len(data["nodes"]), "a node is drawn twice"
    return set(data["nodes"]), links, new


@pytest.mark.parametrize(
    ("fig", "k", "mode", "n_nodes", "n_links", "n_new"),
    [
        # hand-counted from small_payload(): see the round lists there
        ("c1", 1, "cumulative", 5, 4, 4),
        ("c2", 2, "cumulative", 7, 6, 2),
        ("c2r", 2, "round", 6, 2, 2),
        ("c3", 3, "cumulative", 8, 8, 2),
        ("c3r", 3, "round", 6, 3, 2),
    ],
)
def test_people_view_draws_the_contract_graph(
    site: dict[str, Any],
    page_factory: Any,
    fig: str,
    k: int,
    mode: str,
    n_nodes: int,
    n_links: int,
    n_new: int,
) -> None:
    pg, _, errors = page_factory()
    _open(pg, site["base"] + "/counts.html")
    nodes, links, new = _drawn(pg, fig)
    exp_nodes, exp_links, exp_new = pages.expected_view(site["small"], k, mode)
    assert (len(exp_nodes), len(exp_links), len(exp_new)) == (n_nodes, n_links, n_new)
    assert nodes == exp_nodes
    assert links == exp_links
    assert new == exp_new
    assert errors == []


def test_org_view_counts_and_weights(site: dict[str, Any], page_factory: Any) -> None:
    pg, _, _ = page_factory()
    _open(pg, site["base"] + "/counts.html")
    o2 = pg.evaluate(
        """() => [...document.querySelectorAll('#o2 line.nj-link')].map(l =>
            [l.dataset.source + '-' + l.dataset.target, +l.getAttribute('stroke-width')])"""
    )
    widths = dict(o2)
    # round 2 cumulative: every cross-organisation pair with a conversation so far; o1-o1 is internal
    assert set(widths) == {"o1-o3", "o1-o4", "o3-o4", "o1-o2", "o2-o3"}
    assert pg.locator("#o2 circle.nj-node").count() == 4
    # this round only (3): o1-o4 and o1-o2 had conversations; o3 only an internal one
    assert pg.locator("#o3r line.nj-link").count() == 2
    assert pg.locator("#o3r circle.nj-node").count() == 4
    # weight shows: o1-o4 up to round 3 has 2 conversations, o1-o3 has 1
    pg2, _, _ = page_factory()
    _open(pg2, site["base"] + "/counts.html")
    pg2.evaluate("() => NetJournal.diagrams.find(d => d.figure.id === 'o2').setRound(3)")
    w3 = dict(
        pg2.evaluate(
            """() => [...document.querySelectorAll('#o2 line.nj-link')].map(l =>
                [l.dataset.source + '-' + l.dataset.target, +l.getAttribute('stroke-width')])"""
        )
    )
    assert w3["o1-o4"] > w3["o1-o3"]


def _centres(pg: Page, fig: str) -> dict[str, tuple[float, float]]:
    raw = pg.evaluate(
        """fig => Object.fromEntries([...document.querySelectorAll('#' + fig + ' circle.nj-node')].map(c => {
            const b = c.getBoundingClientRect();
            return [c.dataset.id, [b.x + b.width / 2, b.y + b.height / 2]];
        }))""",
        fig,
    )
    return {k: (v[0], v[1]) for k, v in raw.items()}


@pytest.mark.parametrize("reduced", ["reduce", "no-preference"])
def test_stepping_keeps_people_in_place(site: dict[str, Any], page_factory: Any, reduced: str) -> None:
    pg, _, errors = page_factory(reduced=reduced)
    _open(pg, site["base"] + "/stepper.html")
    status = pg.locator("#s .nj-status")
    assert status.text_content() == "Round 1 of 3: 5 people, 4 connections"
    before = _centres(pg, "s")
    pg.get_by_role("button", name="Next round").click()
    assert status.text_content() == "Round 2 of 3: 7 people, 6 connections"
    pg.wait_for_timeout(600)  # let any transition finish
    after = _centres(pg, "s")
    assert set(before) < set(after)
    for node_id, (x, y) in before.items():
        ax, ay = after[node_id]
        assert abs(ax - x) < 0.5 and abs(ay - y) < 0.5, node_id
    assert pg.locator("#s circle.nj-node").count() == 7
    # this round only, then back
    pg.get_by_label("This round only").check()
    pg.wait_for_timeout(600)
    assert status.text_content() == "Round 2 of 3: 6 people, 2 connections (this round only)"
    assert pg.locator("#s circle.nj-node").count() == 6
    assert pg.locator("#s line.nj-link").count() == 2
    pg.locator("#s input[type=range]").fill("2")
    assert status.text_content() == "Round 3 of 3: 6 people, 3 connections (this round only)"
    assert errors == []


def test_new_links_look_different(site: dict[str, Any], page_factory: Any) -> None:
    pg, _, _ = page_factory()
    _open(pg, site["base"] + "/counts.html")
    styles = pg.evaluate(
        """() => {
            const s = el => { const c = getComputedStyle(el); return [c.stroke, c.strokeDasharray]; };
            return {
                fresh: s(document.querySelector('#c2 line.nj-link-new')),
                old: s(document.querySelector('#c2 line.nj-link:not(.nj-link-new)')),
                legend: [...document.querySelectorAll('#c2 .nj-legend-label')].map(e => e.textContent),
            };
        }"""
    )
    assert styles["fresh"][0] != styles["old"][0]
    assert styles["fresh"][1] not in ("none", "")
    assert styles["old"][1] in ("none", "")
    assert "New connection this round" in styles["legend"]
    assert "Other organisation" in styles["legend"]
    assert "Org <b>B</b>" in styles["legend"]


def test_names_stay_inert_text(site: dict[str, Any], page_factory: Any) -> None:
    pg, requests, errors = page_factory()
    _open(pg, site["base"] + "/single.html")
    assert pg.evaluate("() => window.__pwned") is None
    assert pg.locator("img").count() == 0
    pg.locator('#k circle.nj-node[data-id="n2"]').hover()
    tip = pg.locator("#k .nj-tooltip")
    assert tip.is_visible()
    text = tip.text_content() or ""
    assert pages.INJECTION in text
    assert "Org <b>B</b>" in text
    assert tip.locator("img, b, i, script, a").count() == 0
    # a click fills the details panel: names and post titles as text, only the safe link kept
    pg.locator('#k circle.nj-node[data-id="n2"]').click()
    panel = pg.locator("#k .nj-details")
    body = panel.text_content() or ""
    assert pages.INJECTION in body
    assert "Org <b>B</b>" in body
    assert "<i>Not italic</i>" in body
    assert "Bad link" in body
    assert panel.locator("img, b, i, script").count() == 0
    hrefs = panel.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert hrefs == [site["base"] + "/posts/b/"]
    assert pg.evaluate("() => window.__pwned") is None
    assert errors == []
    assert all(urlsplit(u).hostname == "127.0.0.1" for u in requests)


def test_private_people_show_no_details(site: dict[str, Any], page_factory: Any) -> None:
    pg, _, _ = page_factory()
    _open(pg, site["base"] + "/single.html")
    pg.locator('#k circle.nj-node[data-id="n5"]').hover()
    text = pg.locator("#k .nj-tooltip").text_content()
    # n5 met n3 and n4 (the round-1 triad)
    assert text == "A participant (not public)met 2 different people"
    pg.locator('#k circle.nj-node[data-id="n5"]').click()
    panel = pg.locator("#k .nj-details")
    assert panel.locator(".nj-details-name").text_content() == "A participant (not public)"
    assert panel.locator(".nj-details-org").count() == 0
    assert panel.locator("a").count() == 0
    body = panel.locator(".nj-details-body").text_content()
    assert body == "A participant (not public)Met 2 different people"


def test_no_request_leaves_localhost(site: dict[str, Any], page_factory: Any) -> None:
    pg, requests, _ = page_factory()
    for name in ("counts.html", "single.html", "stepper.html"):
        _open(pg, f"{site['base']}/{name}")
    pg.get_by_role("button", name="Play").click()
    pg.wait_for_timeout(200)
    assert len(requests) >= 9  # 3 pages x (html, css, d3, network.js) at least
    assert {urlsplit(u).hostname for u in requests} == {"127.0.0.1"}


def _tab_stops(pg: Page, limit: int = 80) -> list[dict[str, Any]]:
    """Press Tab from the top of the page until focus leaves the last figure; describe each stop."""
    pg.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    stops = []
    for _ in range(limit):
        pg.keyboard.press("Tab")
        stop = pg.evaluate(
            """() => { const el = document.activeElement; const fig = el.closest('figure');
                return {tag: el.tagName.toLowerCase(), fig: fig ? fig.id : null,
                        surface: el.classList.contains('nj-surface'), node: el.matches('.nj-node'),
                        label: el.getAttribute('aria-label')}; }"""
        )
        if stop["tag"] == "body" or (stops and stop == stops[0]):
            break
        stops.append(stop)
    return stops


def test_each_diagram_is_one_tab_stop(site: dict[str, Any], page_factory: Any) -> None:
    pg, _, _ = page_factory()
    _open(pg, site["base"] + "/counts.html")
    stops = _tab_stops(pg)
    figures = ["c1", "c2", "c2r", "c3", "c3r", "o2", "o3r"]
    surfaces = [s["fig"] for s in stops if s["surface"]]
    assert surfaces == figures  # once each, in page order
    assert not any(s["node"] for s in stops)  # no person is a Tab stop of its own
    # per figure: the three zoom buttons, then the drawing (nothing selected, so no post links)
    for fig in figures:
        assert [s["label"] for s in stops if s["fig"] == fig][:3] == ["Zoom in", "Zoom out", "Reset zoom"]


def _state(pg: Page, fig: str) -> dict[str, Any]:
    return pg.evaluate(
        """fig => {
            const f = document.getElementById(fig);
            const svg = f.querySelector('svg.nj-surface');
            const ad = svg.getAttribute('aria-activedescendant');
            const target = ad && document.getElementById(ad);
            const mid = b => [b.x + b.width / 2, b.y + b.height / 2];
            const ring = mid(f.querySelector('.nj-focus-ring circle').getBoundingClientRect());
            const at = target && mid(target.getBoundingClientRect());
            return {
                focused: f.dataset.njFocused, active: document.activeElement === svg,
                target: target ? target.dataset.id : null,
                targetLabel: target && target.getAttribute('aria-label'),
                announced: f.querySelector('.nj-announcer').textContent,
                ringShown: f.querySelector('.nj-focus-ring').getAttribute('display') !== 'none',
                ringOff: at ? Math.hypot(ring[0] - at[0], ring[1] - at[1]) : null,
            }; }""",
        fig,
    )


def test_keyboard_moves_between_people_and_highlights(site: dict[str, Any], page_factory: Any) -> None:
    pg, _, errors = page_factory()
    _open(pg, site["base"] + "/single.html")
    small = site["small"]
    nodes, links, _ = pages.expected_view(small, 3, "cumulative")
    data = {n["id"]: n for n in small["nodes"]}

    def degree(node_id: str) -> int:
        return sum(1 for pair in links if node_id in pair)

    presses = 0
    while not pg.evaluate("() => document.activeElement.matches('#k .nj-surface')"):
        pg.keyboard.press("Tab")
        presses += 1
        assert presses < 10, "Tab never reached the diagram"
    state = _state(pg, "k")
    # arriving starts at "me" (n1), described in words and marked with a ring
    assert state["focused"] == state["target"] == "n1"
    assert state["announced"] == f"Sarah R, Council A, met {degree('n1')} different people, this is me"
    assert state["targetLabel"] == state["announced"]
    assert state["ringShown"] and state["ringOff"] < 1
    assert pg.locator("#k .nj-tooltip").is_visible()

    # arrows move to a person in that direction; focus stays on the drawing
    x = {i: data[i]["x"] for i in nodes}
    y = {i: data[i]["y"] for i in nodes}
    for key, ahead in [
        ("ArrowRight", lambda a, b: x[b] > x[a]),
        ("ArrowDown", lambda a, b: y[b] > y[a]),
        ("ArrowLeft", lambda a, b: x[b] < x[a]),
        ("ArrowUp", lambda a, b: y[b] < y[a]),
    ]:
        before = _state(pg, "k")["focused"]
        pg.keyboard.press(key)
        state = _state(pg, "k")
        assert state["active"] and state["ringShown"] and state["ringOff"] < 1
        assert state["focused"] != before and ahead(before, state["focused"]), key
        assert state["target"] == state["focused"]
    # Home and End: the first and the last person to join (payload order)
    order = [n["id"] for n in small["nodes"] if n["id"] in nodes]
    pg.keyboard.press("End")
    assert _state(pg, "k")["focused"] == order[-1]
    pg.keyboard.press("Home")
    state = _state(pg, "k")
    assert state["focused"] == order[0]
    assert state["announced"].startswith("Sarah R, Council A, met ")

    # Enter highlights the person's connections and fills the details panel
    pg.keyboard.press("Enter")
    neighbours = {i for pair in links if "n1" in pair for i in pair}
    bright = set(pg.locator("#k circle.nj-node:not(.nj-faded)").evaluate_all("cs => cs.map(c => c.dataset.id)"))
    assert bright == neighbours
    assert pg.locator("#k").get_attribute("data-nj-selected") == "n1"
    panel = pg.get_by_role("region", name="Selected person")
    assert panel.locator(".nj-details-name").text_content() == "Sarah R"
    assert panel.locator(".nj-details-org").text_content() == "Council A"
    assert panel.locator(".nj-details-met").text_content() == f"Met {degree('n1')} different people"
    # the post link is the next Tab stop after the drawing, and a real link
    pg.keyboard.press("Tab")
    link = pg.evaluate(
        "() => { const a = document.activeElement; return a.closest('.nj-details') && a.tagName === 'A' ?"
        " [a.textContent, a.getAttribute('href')] : null; }"
    )
    assert link == ["What round one taught me", site["base"] + "/posts/round-one/"]
    # Escape from the panel clears, and focus goes back to the drawing
    pg.keyboard.press("Escape")
    assert pg.locator("#k").get_attribute("data-nj-selected") == ""
    assert pg.locator("#k circle.nj-node.nj-faded").count() == 0
    assert pg.evaluate("() => document.activeElement.matches('#k .nj-surface')")
    assert pg.locator("#k .nj-details a").count() == 0
    # Space toggles too; Escape on the drawing clears
    pg.keyboard.press("ArrowRight")
    moved = _state(pg, "k")["focused"]
    pg.keyboard.press(" ")
    assert pg.locator("#k").get_attribute("data-nj-selected") == moved
    pg.keyboard.press("Escape")
    assert pg.locator("#k").get_attribute("data-nj-selected") == ""
    # leaving hides the ring
    pg.keyboard.press("Tab")
    assert not _state(pg, "k")["ringShown"]
    assert errors == []


def test_click_selects_without_a_focus_ring_then_keys_carry_on(site: dict[str, Any], page_factory: Any) -> None:
    pg, _, errors = page_factory()
    _open(pg, site["base"] + "/single.html")
    pg.locator('#k circle.nj-node[data-id="n6"]').click()
    state = _state(pg, "k")
    assert state["focused"] == "n6" and state["active"]
    assert not state["ringShown"]
    assert pg.locator("#k .nj-details-name").text_content() == "李小龍"
    pg.keyboard.press("ArrowLeft")
    state = _state(pg, "k")
    assert state["ringShown"] and state["focused"] not in ("n6", "")
    assert errors == []


def test_large_network_uses_canvas_and_stays_responsive(site: dict[str, Any], page_factory: Any) -> None:
    pg, requests, errors = page_factory()
    started = time.perf_counter()
    _open(pg, site["base"] + "/large.html")
    elapsed = time.perf_counter() - started
    fig = pg.locator("#big")
    assert fig.get_attribute("data-nj-renderer") == "canvas"
    assert pg.locator("#big svg.nj-svg").count() == 0
    exp_nodes, exp_links, _ = pages.expected_view(site["large"], 6, "cumulative")
    assert len(exp_nodes) == 2500
    assert fig.get_attribute("data-nj-nodes") == str(len(exp_nodes))
    assert fig.get_attribute("data-nj-links") == str(len(exp_links))
    assert elapsed < 8, f"took {elapsed:.1f}s"
    painted = pg.evaluate(
        """() => { const c = document.querySelector('#big canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""
    )
    assert painted > 10000
    # hover hit-testing through the quadtree: move onto a node's drawn position
    target = pg.evaluate(
        """() => { const d = NetJournal.diagrams[0]; const n = d.current.byId['n2'];
            const p = d.place(n); const b = d.canvas.node().getBoundingClientRect();
            return [b.x + p[0] * b.width / d.width, b.y + p[1] * b.height / d.height]; }"""
    )
    pg.mouse.move(target[0], target[1])
    tip = pg.locator("#big .nj-tooltip")
    assert tip.is_visible()
    assert (tip.text_content() or "").startswith("Person 2")
    # stepping back re-draws quickly
    t0 = time.perf_counter()
    pg.get_by_role("button", name="Previous round").click()
    assert fig.get_attribute("data-nj-shown-round") == "5"
    assert time.perf_counter() - t0 < 2
    exp5, links5, _ = pages.expected_view(site["large"], 5, "cumulative")
    assert fig.get_attribute("data-nj-nodes") == str(len(exp5))
    assert fig.get_attribute("data-nj-links") == str(len(links5))
    # keyboard on the canvas, as on the SVG: one Tab stop, arrows, Home/End, Enter highlights
    stops = _tab_stops(pg)
    assert [s["tag"] for s in stops if s["surface"]] == ["canvas"]
    pg.locator("#big canvas").focus()
    announcer = pg.locator("#big .nj-announcer")
    start = fig.get_attribute("data-nj-focused")
    assert start == "n1"  # "me", who is private in this payload
    _, links5_now, _ = pages.expected_view(site["large"], 5, "cumulative")
    met = sum(1 for pair in links5_now if "n1" in pair)
    assert announcer.text_content() == f"A participant (not public), met {met} different people, this is me"
    pg.keyboard.press("ArrowRight")
    moved = fig.get_attribute("data-nj-focused")
    assert moved and moved != start
    moved_node = next(n for n in site["large"]["nodes"] if n["id"] == moved)
    start_node = site["large"]["nodes"][0]
    assert moved_node["x"] > start_node["x"]
    who = moved_node["label"] or "A participant (not public)"
    assert (announcer.text_content() or "").startswith(who + ", ")
    pg.keyboard.press("End")
    last = [n["id"] for n in site["large"]["nodes"] if n["first"] <= 5][-1]
    assert fig.get_attribute("data-nj-focused") == last
    pg.keyboard.press("Enter")
    assert fig.get_attribute("data-nj-selected") == last
    assert pg.locator("#big .nj-details-met").is_visible()
    pg.keyboard.press("Escape")
    assert fig.get_attribute("data-nj-selected") == ""
    assert errors == []
    assert {urlsplit(u).hostname for u in requests} == {"127.0.0.1"}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("width", "height"), [(1100, 1000), (390, 844)])
def test_layout_fits_and_screenshots(
    site: dict[str, Any], page_factory: Any, scheme: str, width: int, height: int
) -> None:
    pg, _, errors = page_factory(width=width, height=height, scheme=scheme)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name in ("stepper", "large", "counts"):
        _open(pg, f"{site['base']}/{name}.html")
        if name == "stepper":
            pg.get_by_role("button", name="Next round").click()
            pg.locator('circle.nj-node[data-id="n1"]').hover()
        overflow = pg.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} overflows by {overflow}px at {width}px"
        widest = pg.evaluate(
            "() => Math.max(...[...document.querySelectorAll('figure.nj-diagram, .nj-stage')]"
            ".map(f => f.getBoundingClientRect().right))"
        )
        assert widest <= width
        overlaps = pg.evaluate(
            """() => [...document.querySelectorAll('figure.nj-diagram')].flatMap(f => {
                const s = f.querySelector('.nj-stage').getBoundingClientRect();
                return [...f.querySelectorAll('.nj-zoom-btn')].map(b => b.getBoundingClientRect())
                    .filter(b => b.left < s.right && b.right > s.left && b.top < s.bottom && b.bottom > s.top)
                    .map(() => f.id); })"""
        )
        assert overlaps == [], f"zoom buttons cover the drawing in {name}"
        pg.screenshot(path=str(SHOTS / f"{name}-{scheme}-{width}.png"), full_page=True)
    assert errors == []


def test_drag_moves_one_node_and_its_links_zoom_buttons_scale(site: dict[str, Any], page_factory: Any) -> None:
    pg, _, errors = page_factory()
    _open(pg, site["base"] + "/single.html")
    before = _centres(pg, "k")
    x, y = before["n3"]
    pg.mouse.move(x, y)
    pg.mouse.down()
    pg.mouse.move(x + 20, y + 10, steps=4)
    pg.mouse.move(x + 40, y + 30, steps=4)
    pg.mouse.up()
    after = _centres(pg, "k")
    assert abs(after["n3"][0] - (x + 40)) < 1.5 and abs(after["n3"][1] - (y + 30)) < 1.5
    for node_id, (bx, by) in before.items():
        if node_id != "n3":
            assert abs(after[node_id][0] - bx) < 0.5 and abs(after[node_id][1] - by) < 0.5, node_id
    ends = pg.evaluate(
        """() => { const l = document.querySelector('#k line[data-source="n3"][data-target="n4"]');
            const m = l.getScreenCTM(); const p = new DOMPoint(+l.getAttribute('x1'), +l.getAttribute('y1'));
            const q = p.matrixTransform(m); return [q.x, q.y]; }"""
    )
    assert abs(ends[0] - after["n3"][0]) < 1.5 and abs(ends[1] - after["n3"][1]) < 1.5
    # a drag is not a click: nothing highlighted
    assert pg.locator("#k").get_attribute("data-nj-selected") in (None, "")
    # a click highlights, Escape clears
    pg.locator('#k circle.nj-node[data-id="n6"]').click()
    assert pg.locator("#k").get_attribute("data-nj-selected") == "n6"
    assert pg.locator("#k circle.nj-node.nj-faded").count() > 0
    pg.keyboard.press("Escape")
    assert pg.locator("#k circle.nj-node.nj-faded").count() == 0

    # zoom in with the button: distances between people grow
    def spread() -> float:
        c = _centres(pg, "k")
        return abs(c["n6"][0] - c["n2"][0])

    wide = spread()
    pg.get_by_role("button", name="Zoom in").click()
    assert spread() > wide * 1.3
    pg.get_by_role("button", name="Reset zoom").click()
    assert abs(spread() - wide) < 1
    assert errors == []

"""The d3graph explorer page in headless Chromium: local only, names intact, no script injection.

Needs the d3graph extra (``pip install -e '.[d3graph]'``), which the CI command installs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import MINIMAL_CONFIG, build, make_site
from playwright.sync_api import Browser, Page

from tests.browser.built_site import chromium, serve_folder

pytestmark = pytest.mark.browser

INJECTION = "</script><script>window.__pwned=1</script>"
PUBLIC = {"inj": INJECTION, "ana": "Ana María", "aegir": "Ægir", "wang": "王小明", "obrien": "O'Brien"}
SECRET_ID, SECRET_NAME = "zz-hidden-7", "Quentin Secretname"
PEOPLE = (
    "\n".join(
        [
            f"{pid}: {{name: {json.dumps(name)}, organisation: {json.dumps('<b>Org</b> ' + pid)}, public: true}}"
            for pid, name in PUBLIC.items()
        ]
        + [f"{SECRET_ID}: {{name: {SECRET_NAME}, organisation: Secret Org}}"]
    )
    + "\n"
)
FILES = {
    "data/people.yaml": PEOPLE,
    "data/rounds/round-1.yaml": (
        f"round: 1\ndate: 2024-01-10\npairs:\n  - [inj, ana]\n  - [aegir, wang]\n  - [{SECRET_ID}, obrien]\n"
    ),
    "data/rounds/round-2.yaml": (
        f"round: 2\ndate: 2024-02-10\npairs:\n  - [inj, aegir]\n  - [ana, {SECRET_ID}, wang]\n"
    ),
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("explorer-site")
    source = make_site(root, FILES, MINIMAL_CONFIG + "network:\n  explorer: d3graph\n")
    output = root / "public"
    build(source, output)
    with serve_folder(output) as origin:
        yield origin, output


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str], list[str]]]:
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = ctx.new_page()
    requests: list[str] = []
    errors: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield pg, requests, errors
    finally:
        ctx.close()


def _local_only(requests: list[str]) -> list[str]:
    return [
        u
        for u in requests
        if urlsplit(u).scheme not in ("data", "blob", "about") and urlsplit(u).hostname != "127.0.0.1"
    ]


def _labels(pg: Page) -> list[str]:
    return pg.evaluate("() => [...document.querySelectorAll('svg text')].map(t => t.textContent)")


def test_explorer_renders_every_public_name_intact_and_nothing_leaves_the_machine(
    served: tuple[str, Path], page: tuple[Page, list[str], list[str]]
) -> None:
    base, _ = served
    pg, requests, errors = page
    pg.goto(f"{base}/network/round-2/explorer.html")  # waits for the load event: inline scripts have run
    assert pg.evaluate("() => typeof window.__pwned") == "undefined", "a name broke out of the inline script"
    pg.wait_for_function("() => document.querySelectorAll('svg text').length >= 6", timeout=10_000)
    pg.wait_for_timeout(500)
    labels = _labels(pg)
    for name in PUBLIC.values():
        assert name in labels, f"{name!r} is not drawn intact"
    assert pg.evaluate("() => typeof window.__pwned") == "undefined"
    assert pg.title() == "Round 2 network explorer"
    html = pg.content()
    assert SECRET_NAME not in html and SECRET_ID not in html
    assert not errors, errors
    assert requests and not _local_only(requests), _local_only(requests)


def test_clicking_the_injection_name_shows_it_as_text(
    served: tuple[str, Path], page: tuple[Page, list[str], list[str]]
) -> None:
    base, _ = served
    pg, requests, errors = page
    pg.goto(f"{base}/network/round-2/explorer.html")
    pg.wait_for_function("() => document.querySelectorAll('svg text').length >= 6")
    count = pg.evaluate("() => document.querySelectorAll('svg g.node').length")
    assert count == len(PUBLIC) + 1  # five public people and one unlabelled private person
    # clicking a node fills d3graph's side panel (innerHTML) with its label and tooltip
    pg.evaluate(
        "name => [...document.querySelectorAll('svg g.node')]"
        ".find(n => n.querySelector('text').textContent === name)"
        ".dispatchEvent(new MouseEvent('click', {bubbles: true}))",
        INJECTION,
    )
    panel = pg.locator("#nodeInfoContent")
    panel.get_by_text("Ana María").wait_for()  # the clicked person's connections are listed
    text = panel.inner_text()
    assert INJECTION in text and "<b>Org</b> inj" in text  # shown as text, not parsed
    assert pg.evaluate("() => document.querySelectorAll('#nodeInfoContent b, #nodeInfoContent script').length") == 0
    assert pg.evaluate("() => typeof window.__pwned") == "undefined"
    assert pg.evaluate("() => document.querySelectorAll('script').length") == 1  # only d3graph's own
    assert not errors, errors
    assert not _local_only(requests), _local_only(requests)


def test_round_page_links_to_its_explorer_and_private_bytes_never_reach_it(
    served: tuple[str, Path], page: tuple[Page, list[str], list[str]]
) -> None:
    base, output = served
    pg, _, _ = page
    pg.goto(f"{base}/network/round-1/")
    pg.get_by_role("link", name="Open this round in the d3graph explorer").click()
    pg.wait_for_url(f"{base}/network/round-1/explorer.html")
    pg.wait_for_function("() => document.querySelectorAll('svg text').length >= 6")
    assert set(PUBLIC.values()) <= set(_labels(pg))
    for k in (1, 2):
        raw = (output / f"network/round-{k}/explorer.html").read_bytes()
        for secret in (SECRET_ID, SECRET_NAME, "Secret Org"):
            assert secret.encode() not in raw and json.dumps(secret).encode() not in raw

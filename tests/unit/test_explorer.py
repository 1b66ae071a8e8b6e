"""The optional d3graph explorer: off by default (never imported), hardened when on.

The tests that build explorer pages need the extra (``pip install -e '.[d3graph]'``),
which the CI command installs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MINIMAL_CONFIG, ROOT, make_site, render

from builder.errors import SiteError
from builder.explorer import PIP_HINT, explorer_pages, harden, load_d3graph

INJECTION = "</script><script>window.__pwned=1</script>"
PUBLIC = {"inj": INJECTION, "ana": "Ana María", "aegir": "Ægir", "wang": "王小明", "obrien": "O'Brien & <Co>"}
SECRET_ID, SECRET_NAME = "zz-hidden-7", "Quentin Secretname"

PEOPLE = (
    "\n".join(
        [
            f"{pid}: {{name: {json.dumps(name)}, organisation: {json.dumps('Org ' + pid)}, public: true}}"
            for pid, name in PUBLIC.items()
        ]
        + [
            f"{SECRET_ID}: {{name: {SECRET_NAME}, organisation: Secret Org}}",
            "loner: {name: Lone Wolf, public: true}",
        ]
    )
    + "\n"
)
ROUNDS = {
    "data/rounds/round-1.yaml": (
        f"round: 1\ndate: 2024-01-10\npairs:\n  - [inj, ana]\n  - [aegir, wang]\n  - [{SECRET_ID}, obrien]\n"
        "unmatched: [loner]\n"
    ),
    "data/rounds/round-2.yaml": (
        f"round: 2\ndate: 2024-02-10\npairs:\n  - [inj, aegir]\n  - [ana, {SECRET_ID}, wang]\n"
    ),
}
EXPLORER_CONFIG = MINIMAL_CONFIG + "network:\n  explorer: d3graph\n"


def site_files() -> dict[str, str]:
    return {"data/people.yaml": PEOPLE, **ROUNDS}


def embedded_graph(page: str) -> dict:
    start = page.index("graph = ") + len("graph = ")
    return json.JSONDecoder().raw_decode(page, start)[0]


# --- off by default ---


def test_a_default_build_never_imports_d3graph(tmp_path: Path) -> None:
    site = make_site(tmp_path, site_files())
    script = (
        "import sys\nfrom pathlib import Path\nfrom builder.build import Builder, BuildOptions\n"
        "result = Builder().build(BuildOptions(Path(sys.argv[1]), Path(sys.argv[2])))\n"
        "print(sorted(m for m in ('d3graph', 'sklearn', 'statsmodels') if m in sys.modules))\n"
        "print(sum(1 for p in result.files if p.endswith('explorer.html')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(site), str(tmp_path / "public")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split("\n")
    assert out[0] == "[]"  # none of the heavy modules was loaded
    assert out[1] == "0"
    round_page = (tmp_path / "public/network/round-1/index.html").read_text(encoding="utf-8")
    assert "explorer.html" not in round_page


def test_explorer_pages_is_a_no_op_unless_asked(tmp_path: Path) -> None:
    files = render(make_site(tmp_path, site_files()))
    assert not [p for p in files if "explorer" in p]
    assert explorer_pages(None, type("C", (), {"network": type("N", (), {"explorer": "d3graph"})()})()) == {}


def test_missing_d3graph_is_a_site_error_with_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "d3graph", None)  # makes "import d3graph" raise ImportError
    with pytest.raises(SiteError) as info:
        load_d3graph()
    assert info.value.path == "site.yaml" and "d3graph" in info.value.message
    assert "pip install 'netjournal[d3graph]'" in info.value.hint == PIP_HINT


# --- hardening (pure) ---


def test_harden_reescapes_the_embedded_data_and_keeps_it_equal() -> None:
    data = {"nodes": [{"node_name": INJECTION, "node_tooltip": "a & b <i>", "x": "\u2028"}], "links": []}
    raw = "<script>\n  graph = " + json.dumps(data) + "\n  window.go();\n</script>"
    raw_unsafe = raw.replace("\\u2028", "\u2028").replace(
        json.dumps(INJECTION), json.dumps(INJECTION, ensure_ascii=False)
    )
    page = harden(raw_unsafe)
    body = page[page.index("graph = ") : page.index("window.go")]
    assert "<" not in body and ">" not in body and "&" not in body and "\u2028" not in body
    assert embedded_graph(page) == data
    assert page.endswith("\n  window.go();\n</script>")


def test_harden_refuses_output_without_data_or_with_the_ad_script() -> None:
    with pytest.raises(SiteError):
        harden("<html></html>")
    with pytest.raises(SiteError):
        harden("<script async src='x/ethicalads.min.js'></script><script>graph = {}</script>")


# --- with the extra installed ---


@pytest.fixture(scope="module")
def explorer_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return render(make_site(tmp_path_factory.mktemp("explorer"), site_files(), EXPLORER_CONFIG))


def test_one_explorer_page_per_round_linked_from_the_round_page(explorer_build: dict[str, bytes]) -> None:
    assert sorted(p for p in explorer_build if p.endswith("explorer.html")) == [
        "network/round-1/explorer.html",
        "network/round-2/explorer.html",
    ]
    for k in (1, 2):
        assert f'href="/network/round-{k}/explorer.html"' in explorer_build[f"network/round-{k}/index.html"].decode()


def test_labels_land_on_the_right_people_and_private_people_are_unlabelled(
    explorer_build: dict[str, bytes],
) -> None:
    page = explorer_build["network/round-2/explorer.html"].decode("utf-8")
    graph = embedded_graph(page)
    names = sorted(n["node_name"] for n in graph["nodes"])
    assert names == sorted(["", *PUBLIC.values()])  # loner never met anyone: d3graph drops isolated people
    index = {i: n for i, n in enumerate(graph["nodes"])}
    pairs = {
        frozenset((index[link["source"]]["node_name"], index[link["target"]]["node_name"])) for link in graph["links"]
    }
    # round 1 + round 2 meetings, by name ("" is the private person)
    expected = {
        ("inj", "ana"),
        ("aegir", "wang"),
        ("", "obrien"),
        ("inj", "aegir"),
        ("ana", ""),
        ("ana", "wang"),
        ("", "wang"),
    }
    assert pairs == {frozenset(PUBLIC.get(a, a) for a in pair) for pair in expected}
    private = next(n for n in graph["nodes"] if n["node_name"] == "")
    assert private["node_tooltip"] == ""
    ana = next(n for n in graph["nodes"] if n["node_name"] == "Ana María")
    assert ana["node_tooltip"].startswith("Ana María\nOrg ana")


def test_no_private_id_or_name_no_ad_script_no_raw_script_breakout(explorer_build: dict[str, bytes]) -> None:
    for k in (1, 2):
        raw = explorer_build[f"network/round-{k}/explorer.html"]
        for secret in (SECRET_ID, SECRET_NAME, "Secret Org"):
            assert secret.encode() not in raw
            assert json.dumps(secret).encode() not in raw
        assert b"ethicalads" not in raw and b"data-ea-publisher" not in raw
        assert raw.count(b"</script>") == raw.count(b"<script")  # only the page's own scripts close
        assert b"window.__pwned=1</script>" not in raw
        assert b"<title>Round %d network explorer</title>" % k in raw

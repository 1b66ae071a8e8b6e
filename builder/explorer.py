"""Optional d3graph explorer: one standalone page per round (``network.explorer: d3graph``).

d3graph is heavy (pandas, scipy, statsmodels, ~500 MB; ~4 s to import), so it is an
optional extra (``pip install 'netjournal[d3graph]'``) imported only inside
:func:`explorer_pages` when the site asks for it: a default install never needs it and a
default build never imports it.

d3graph 3.2.1 is unsafe by default (see NETWORK-NOTES.md), so the page is hardened:

* ``support=False``: no third-party ad script;
* nodes are the network's opaque ASCII ids (``n12``) as the matrix index, so d3graph's
  name rewriting (NFD, ASCII, spaces to ``_``) never touches a name, and labels are set
  in ``d3.adjmat.columns`` order (d3graph re-sorts the nodes; positional labels given in
  input order would land on the wrong people);
* labels come from the privacy-filtered diagram payload: private people are unlabelled
  and their id never reaches d3graph;
* the embedded JSON is re-serialised with ``<``, ``>``, ``&`` as ``\\u003c`` etc., so no
  name can close the inline ``<script>``; the title is fixed text without quotes or ``<``.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import SiteError

PIP_HINT = "pip install 'netjournal[d3graph]' (d3graph 3.2.1 and scikit-learn), or set network.explorer: none"
#: Colour-blind-safe palette (Okabe-Ito) for organisation/sector groups; grey when unknown.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
UNKNOWN = "#999999"
_DATA_MARKER = "graph = "
_SAFE_TITLE = re.compile(r"^[A-Za-z0-9 .,:()-]*$")


def explorer_path(round_number: int) -> str:
    """Output path of round k's explorer page (linked from the round page)."""
    return f"network/round-{round_number}/explorer.html"


def explorer_pages(network: Any, config: Any) -> dict[str, bytes]:
    """Explorer pages per round when ``config.network.explorer`` is ``d3graph``; else nothing.

    ``network`` is the built :class:`builder.network.Network` (or None for a site without
    rounds); ``config`` is the :class:`builder.config.SiteConfig`.
    """
    if network is None or config.network.explorer != "d3graph":
        return {}
    d3graph_class, dataframe = load_d3graph()
    return {
        explorer_path(view.number): explorer_html(
            network.diagram_data(view.number), view.number, d3graph_class, dataframe
        ).encode("utf-8")
        for view in network.rounds
    }


def load_d3graph() -> tuple[Any, Any]:
    """Import d3graph (and pandas, which it depends on), or say how to install it."""
    try:
        from d3graph import d3graph
        from pandas import DataFrame
    except ImportError as exc:
        raise SiteError(
            "site.yaml", None, f"network.explorer is d3graph but d3graph cannot be imported ({exc})", PIP_HINT
        ) from None
    try:
        import sklearn  # noqa: F401 - d3graph needs it at its first graph() but does not declare it
    except ImportError:
        raise SiteError(
            "site.yaml", None, "network.explorer is d3graph but scikit-learn is not installed", PIP_HINT
        ) from None
    return d3graph, DataFrame


def node_colours(nodes: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Colour per node id from its colour group (organisation or sector), grey when unknown."""
    return {n["id"]: UNKNOWN if n.get("group") is None else PALETTE[int(n["group"]) % len(PALETTE)] for n in nodes}


def tooltip(node: Mapping[str, Any]) -> str:
    """Public people: name and organisation; everyone else: nothing."""
    if not node.get("label"):
        return ""
    met = int(node.get("degree") or 0)
    parts = [node["label"], node.get("org") or "", f"met {met} {'person' if met == 1 else 'people'}"]
    return "\n".join(p for p in parts if p)


def explorer_html(payload: Mapping[str, Any], round_number: int, d3graph_class: Any, dataframe: Any) -> str:
    """Round k's cumulative network as a hardened d3graph page (from the privacy-filtered payload)."""
    title = f"Round {int(round_number)} network explorer"
    assert _SAFE_TITLE.match(title)
    nodes = {n["id"]: n for n in payload["nodes"]}
    links = payload["links"]
    if not links:
        return _empty_page(title)
    ids = list(nodes)
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", i) for i in ids), "explorer node ids must be opaque ASCII ids"
    position = {node_id: i for i, node_id in enumerate(ids)}
    weights = [[0] * len(ids) for _ in ids]
    for link in links:  # one direction only: an undirected link, drawn once
        weights[position[link["source"]]][position[link["target"]]] = len(link["rounds"])
    matrix = dataframe(weights, index=ids, columns=ids)
    with warnings.catch_warnings():  # d3graph 3.2.1 trips pandas 3 deprecations; not the reader's problem
        warnings.simplefilter("ignore")
        d3 = d3graph_class(support=False, verbose=60)
        d3.graph(matrix, color=UNKNOWN)  # a fixed colour skips its community detection (replaced below)
        order = [str(c) for c in d3.adjmat.columns]  # d3graph's own (re-sorted) node order
        colours = node_colours(payload["nodes"])
        d3.set_node_properties(
            label=[nodes[i].get("label") or "" for i in order],
            tooltip=[tooltip(nodes[i]) for i in order],
            color=[colours[i] for i in order],
        )
        html = d3.show(
            filepath=None,
            showfig=False,
            overwrite=False,
            return_html=True,
            title=title,
            show_top_panel=False,  # its logo links off-site and adds ~100 KB
            save_button=True,
        )
    return harden(html)


def harden(html: str) -> str:
    """Re-serialise the embedded graph JSON so ``<``, ``>`` and ``&`` cannot end the script; drop ad code."""
    start = html.find(_DATA_MARKER)
    if start < 0:
        raise SiteError("site.yaml", None, "unexpected d3graph output (no embedded graph data)", PIP_HINT)
    start += len(_DATA_MARKER)
    data, end = json.JSONDecoder().raw_decode(html, start)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    page = html[:start] + text + html[end:]
    if "ethicalads" in page or "data-ea-publisher" in page:
        raise SiteError("site.yaml", None, "d3graph output contains its ad script despite support=False", PIP_HINT)
    return page


def _empty_page(title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="UTF-8">'
        f"<title>{title}</title></head><body><h1>{title}</h1>"
        "<p>No conversations have taken place yet, so there is nothing to explore.</p></body></html>\n"
    )


__all__ = ["explorer_html", "explorer_pages", "explorer_path", "harden", "load_d3graph"]

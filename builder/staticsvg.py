"""A static SVG of a round's diagram, drawn at build time from the diagram payload.

It is the no-JavaScript fallback: the same positions the script uses, public
names as <title> tooltips, and nothing that needs a browser to compute.
"""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

PALETTE = ("#1b6ca8", "#c2571a", "#2a8a4a", "#8e44ad", "#b3394b", "#6b6b00", "#00808a", "#8a5a2b", "#4a5fc1", "#5f6b73")


def visible(payload: dict[str, Any], round_number: int, mode: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and links shown for round k: cumulative (<= k) or this round only (== k)."""
    if mode == "round":
        nodes = [n for n in payload["nodes"] if round_number in n["rounds"]]
        links = [link for link in payload["links"] if round_number in link["rounds"]]
    else:
        nodes = [n for n in payload["nodes"] if n["first"] <= round_number]
        links = [link for link in payload["links"] if min(link["rounds"]) <= round_number]
    return nodes, links


def render_svg(payload: dict[str, Any], round_number: int, mode: str = "cumulative", size: int = 600) -> Markup:
    """The round's picture as inline SVG markup (escaped labels, fixed positions)."""
    nodes, links = visible(payload, round_number, mode)
    scale = size / 2 * 0.92
    pos = {n["id"]: (size / 2 + n["x"] * scale, size / 2 + n["y"] * scale) for n in nodes}
    parts = [
        f'<svg class="nj-static-svg" viewBox="0 0 {size} {size}" role="img" '
        f'aria-label="Network after round {round_number}: {len(nodes)} people, {len(links)} connections">'
    ]
    parts.append('<g class="nj-links">')
    for link in links:
        if link["source"] in pos and link["target"] in pos:
            (x1, y1), (x2, y2) = pos[link["source"]], pos[link["target"]]
            new = " nj-new" if min(link["rounds"]) == round_number else ""
            parts.append(f'<line class="nj-link{new}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>')
    parts.append('</g><g class="nj-nodes">')
    radius = 5 if len(nodes) < 300 else 2.5
    for node in nodes:
        x, y = pos[node["id"]]
        colour = PALETTE[node["group"] % len(PALETTE)] if node.get("group") is not None else "#777"
        me = " nj-me" if node.get("me") else ""
        title = f"<title>{escape(node['label'])}</title>" if node.get("label") else ""
        parts.append(
            f'<circle class="nj-node{me}" cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{colour}">{title}</circle>'
        )
    parts.append("</g></svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated string is escaped above

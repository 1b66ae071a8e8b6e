"""Per-round downloads (JSON, GraphML) for people who continue in Gephi or Kumu.

Both are derived from the already privacy-filtered diagram payload, so they can only
contain what the published diagram contains: opaque ids and public labels.
"""

from __future__ import annotations

import json
from typing import Any

import networkx as nx


def export_json(payload: dict[str, Any], k: int) -> str:
    """Nodes and links of G_k (payload cut at round k) as a small, stable JSON document."""
    nodes = [
        {
            "id": n["id"],
            "label": n["label"],
            "organisation": n["org"],
            "first_round": n["first"],
            "degree": n["degree"],
            "x": n["x"],
            "y": n["y"],
        }
        for n in payload["nodes"]
    ]
    links = [
        {
            "source": link["source"],
            "target": link["target"],
            "rounds": link["rounds"],
            "weight": len(link["rounds"]),
        }
        for link in payload["links"]
    ]
    document = {"round": k, "directed": False, "nodes": nodes, "links": links}
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def graph_of(payload: dict[str, Any]) -> nx.Graph:
    """A networkx graph of the payload; attributes that are None are left out (GraphML has no null)."""
    graph = nx.Graph()
    for n in payload["nodes"]:
        attrs = {"first_round": n["first"], "degree": n["degree"], "x": n["x"], "y": n["y"]}
        if n["label"] is not None:
            attrs["label"] = n["label"]
        if n["org"] is not None:
            attrs["organisation"] = n["org"]
        graph.add_node(n["id"], **attrs)
    for link in payload["links"]:
        rounds = link["rounds"]
        graph.add_edge(
            link["source"],
            link["target"],
            weight=len(rounds),
            first_round=min(rounds),
            rounds=",".join(str(r) for r in rounds),
        )
    return graph


def export_graphml(payload: dict[str, Any], k: int) -> str:
    """GraphML of G_k via networkx's writer (escaping handled by its XML serializer)."""
    graph = graph_of(payload)
    graph.graph["round"] = k
    return "\n".join(nx.generate_graphml(graph)) + "\n"

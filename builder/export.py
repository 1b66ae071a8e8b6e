"""Per-round downloads (JSON, GraphML) for people who continue in Gephi or Kumu.

Both are derived from the already privacy-filtered diagram payload, so they can only
contain what the published diagram contains: opaque ids and public labels.

The texts are written directly (a large network has 100,000s of links per round and
a download per round): byte for byte what ``json.dumps(..., indent=1,
ensure_ascii=False)`` and networkx's GraphML writer produce, which the tests check
against those reference writers (:func:`export_json_reference`, :func:`graph_of`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # networkx takes ~0.1 s to import: only builds that lay out a network need it
    import networkx as nx


_string = json.encoder.encode_basestring  # json.dumps' own escaping (ensure_ascii=False)


def _json_scalar(value: Any) -> str:
    """A scalar as json.dumps writes it."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        return float.__repr__(value)
    raise TypeError(f"not a plain JSON scalar: {value!r}")


def _int_list(values: list[int], indent: str) -> str:
    if not values:
        return "[]"
    inner = ",\n".join(indent + " " + _json_scalar(v) for v in values)
    return f"[\n{inner}\n{indent}]"


def export_json(payload: dict[str, Any], k: int) -> str:
    """Nodes and links of G_k (payload cut at round k) as a small, stable JSON document."""
    s = _json_scalar
    nodes = [
        f'  {{\n   "id": {s(n["id"])},\n   "label": {s(n["label"])},\n   "organisation": {s(n["org"])},\n'
        f'   "first_round": {s(n["first"])},\n   "degree": {s(n["degree"])},\n   "x": {s(n["x"])},\n'
        f'   "y": {s(n["y"])}\n  }}'
        for n in payload["nodes"]
    ]
    links = [
        f'  {{\n   "source": {s(link["source"])},\n   "target": {s(link["target"])},\n'
        f'   "rounds": {_int_list(link["rounds"], "   ")},\n   "weight": {len(link["rounds"])}\n  }}'
        for link in payload["links"]
    ]
    parts = [f'{{\n "round": {s(k)},\n "directed": false,\n "nodes": ']
    parts.append("[\n" + ",\n".join(nodes) + "\n ]" if nodes else "[]")
    parts.append(',\n "links": ')
    parts.append("[\n" + ",\n".join(links) + "\n ]" if links else "[]")
    parts.append("\n}\n")
    return "".join(parts)


def export_json_reference(payload: dict[str, Any], k: int) -> str:
    """The document :func:`export_json` writes, through json.dumps (slow; the tests' reference)."""
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
    import networkx as nx

    graph = nx.Graph()
    for n in payload["nodes"]:
        graph.add_node(n["id"], **_node_attributes(n))
    for link in payload["links"]:
        graph.add_edge(link["source"], link["target"], **_edge_attributes(link))
    return graph


def _node_attributes(n: dict[str, Any]) -> dict[str, Any]:
    attrs = {"first_round": n["first"], "degree": n["degree"], "x": n["x"], "y": n["y"]}
    if n["label"] is not None:
        attrs["label"] = n["label"]
    if n["org"] is not None:
        attrs["organisation"] = n["org"]
    return attrs


def _edge_attributes(link: dict[str, Any]) -> dict[str, Any]:
    rounds = link["rounds"]
    return {"weight": len(rounds), "first_round": min(rounds), "rounds": ",".join(str(r) for r in rounds)}


def export_graphml(payload: dict[str, Any], k: int) -> str:
    """GraphML of G_k, as networkx's writer formats it (see :func:`export_graphml_reference`)."""
    return _GraphML(payload, k).text()


def export_graphml_reference(payload: dict[str, Any], k: int) -> str:
    """GraphML of G_k via networkx's writer (slow; the tests' reference)."""
    import networkx as nx

    graph = graph_of(payload)
    graph.graph["round"] = k
    return "\n".join(nx.generate_graphml(graph)) + "\n"


_XML_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}
_HEADER = (
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">'
)


def _cdata(text: str) -> str:
    """ElementTree's escaping of element text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attrib(text: str) -> str:
    """ElementTree's escaping of attribute values."""
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        text = text.replace(raw, escaped)
    return text.replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#09;")


class _GraphML:
    """networkx 3's GraphML output for this graph shape, without building ElementTree objects.

    What is reproduced: key ids ``d0, d1, ...`` in order of first use (graph, then nodes,
    then edges) written newest first; a key's type is the most general of its values'
    types; edges in networkx's order (by first node, then by adjacency insertion); text
    escaped by ElementTree and encoded to ASCII with character references; lines as
    ``str.splitlines`` cuts them.
    """

    def __init__(self, payload: dict[str, Any], k: int) -> None:
        self.payload, self.k = payload, k
        self.types: dict[tuple[str, str], set[type]] = {}
        self.order: list[tuple[str, str]] = []  # (scope, name) in order of first use

    def _note(self, scope: str, attrs: dict[str, Any]) -> None:
        for name, value in attrs.items():
            found = self.types.get((scope, name))
            if found is None:
                self.types[(scope, name)] = found = set()
                self.order.append((scope, name))
            found.add(type(value))

    def _xml_type(self, scope: str, name: str) -> str:
        kinds = {_XML_TYPES[t] for t in self.types[(scope, name)]}
        if len(kinds) == 1:
            return kinds.pop()
        if "string" in kinds:
            return "string"
        return "double" if "double" in kinds else "long"

    def _edges(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Undirected edges in the order networkx's Graph.edges() yields them."""
        links = self.payload["links"]
        adjacency: dict[str, dict[str, int]] = {n["id"]: {} for n in self.payload["nodes"]}
        for i, link in enumerate(links):
            source, target = link["source"], link["target"]
            adjacency.setdefault(source, {})[target] = i
            adjacency.setdefault(target, {})[source] = i
        seen: set[str] = set()
        for node, neighbours in adjacency.items():
            for other, i in neighbours.items():
                if other not in seen:
                    yield node, other, _edge_attributes(links[i])
            seen.add(node)

    def text(self) -> str:
        graph_attrs = {"round": self.k}
        self._note("graph", graph_attrs)
        nodes = [(n["id"], _node_attributes(n)) for n in self.payload["nodes"]]
        for _, attrs in nodes:
            self._note("node", attrs)
        edges = list(self._edges())
        for _, _, attrs in edges:
            self._note("edge", attrs)
        ids = {key: f"d{i}" for i, key in enumerate(self.order)}

        def data(scope: str, attrs: dict[str, Any], indent: str) -> list[str]:
            return [
                f'{indent}<data key="{ids[(scope, name)]}">{_cdata(text)}</data>'
                if (text := str(v))
                else f'{indent}<data key="{ids[(scope, name)]}" />'  # ElementTree's empty element
                for name, v in attrs.items()
            ]

        lines = [_HEADER]
        for scope, name in reversed(self.order):
            lines.append(
                f'  <key id="{ids[(scope, name)]}" for="{scope}" attr.name="{_attrib(name)}" '
                f'attr.type="{self._xml_type(scope, name)}" />'
            )
        lines.append('  <graph edgedefault="undirected">')
        for node, attrs in nodes:
            lines.append(f'    <node id="{_attrib(node)}">')
            lines += data("node", attrs, "      ")
            lines.append("    </node>")
        for source, target, attrs in edges:
            lines.append(f'    <edge source="{_attrib(source)}" target="{_attrib(target)}">')
            lines += data("edge", attrs, "      ")
            lines.append("    </edge>")
        lines += data("graph", graph_attrs, "    ")
        lines.append("  </graph>")
        lines.append("</graphml>")
        text = "\n".join(lines).encode("ascii", "xmlcharrefreplace").decode("ascii")
        return "\n".join(text.splitlines()) + "\n"

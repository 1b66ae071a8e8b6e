"""Per-round downloads: GraphML parses back with networkx, JSON has the right counts, both private-safe."""

from __future__ import annotations

import io
import json
from pathlib import Path

import networkx as nx

from builder.network import NetworkSettings, build_network
from builder.rounds import load_round_data

FIXTURE = Path(__file__).parent.parent / "fixtures" / "rounds" / "basic" / "data"


def network():
    people = ("data/people.yaml", (FIXTURE / "people.yaml").read_text(encoding="utf-8"))
    rounds = [
        (f"data/rounds/{p.name}", p.read_text(encoding="utf-8")) for p in sorted((FIXTURE / "rounds").glob("*.yaml"))
    ]
    return build_network(load_round_data(people, rounds), NetworkSettings())


def test_graphml_parses_back_with_the_right_counts():
    net = network()
    # G_1: 6 people 4 edges; G_2: 7 people 5 edges; G_3: 8 people 8 edges (see test_metrics.py)
    for k, (people, edges) in {1: (6, 4), 2: (7, 5), 3: (8, 8)}.items():
        graph = nx.read_graphml(io.BytesIO(net.export_graphml(k).encode("utf-8")))
        assert (graph.number_of_nodes(), graph.number_of_edges()) == (people, edges)
        assert graph.graph["round"] == k
    graph = nx.read_graphml(io.BytesIO(net.export_graphml(2).encode("utf-8")))
    assert graph.nodes["n1"]["label"] == "Ana A" and graph.nodes["n1"]["organisation"] == "Council A"
    assert "label" not in graph.nodes["n4"]  # dan is private
    assert graph.edges["n1", "n2"]["weight"] == 2 and graph.edges["n1", "n2"]["rounds"] == "1,2"


def test_json_export_counts_and_labels():
    doc = json.loads(network().export_json(3))
    assert doc["round"] == 3 and doc["directed"] is False
    assert (len(doc["nodes"]), len(doc["links"])) == (8, 8)
    labels = [n["label"] for n in doc["nodes"]]
    assert labels == ["Ana A", "Ben B", "Cat C", None, "Eve E", "Fay F", None, None]
    assert sum(link["weight"] for link in doc["links"]) == 9  # ana-ben met twice


def test_exports_leave_private_people_out():
    net = network()
    text = "".join(net.export_json(k) + net.export_graphml(k) for k in (1, 2, 3))
    for secret in ("zz-secret-id", "Quentin", "Priv", "Secret Org", "Dan D", "gus"):
        assert secret not in text


def test_graphml_escapes_markup_in_names():
    people = ("p.yaml", 'x: {name: "<b>&</b>", public: true}\ny: {public: true}\n')
    data = load_round_data(people, [("r.yaml", "round: 1\ndate: 2016-01-01\npairs: [[x, y]]\n")])
    text = build_network(data, NetworkSettings()).export_graphml(1)
    assert "<b>" not in text
    assert nx.read_graphml(io.BytesIO(text.encode())).nodes["n1"]["label"] == "<b>&</b>"

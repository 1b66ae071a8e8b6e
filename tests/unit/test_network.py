"""Network views: payload shape (design.md), privacy, labels, `me`, posts, tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.metrics import MetricsCache
from builder.network import NetworkSettings, build_network, format_metrics_table, metrics_json
from builder.rounds import load_round_data

FIXTURE = Path(__file__).parent.parent / "fixtures" / "rounds" / "basic" / "data"
SECRETS = (
    "zz-secret-id",
    "Quentin",
    "Privé",
    "Priv\\u00e9",
    "Secret Org",
    "Secret Sector",
    "Dan D",
    '"dan"',
    '"gus"',
)


def fixture_data():
    people = ("data/people.yaml", (FIXTURE / "people.yaml").read_text(encoding="utf-8"))
    rounds = [
        (f"data/rounds/{p.name}", p.read_text(encoding="utf-8")) for p in sorted((FIXTURE / "rounds").glob("*.yaml"))
    ]
    return load_round_data(people, rounds)


PERSON_POSTS = {
    "fay": [{"title": "Talking with Fay", "url": "/posts/fay/"}],
    "zz-secret-id": [{"title": "A chat with Quentin Privé", "url": "/posts/secret/"}],
}
ROUND_POSTS = {2: [{"title": "Round two notes", "url": "/posts/round-two/"}]}


@pytest.fixture(scope="module")
def network():
    return build_network(fixture_data(), NetworkSettings(me="ana"), None, PERSON_POSTS, ROUND_POSTS)


def everything_published(net) -> str:
    parts = [json.dumps(net.diagram_data(k), ensure_ascii=False) for k in (None, 1, 2, 3)]
    parts += [json.dumps(net.diagram_data(k)) for k in (None, 1, 2, 3)]
    parts += [net.export_json(k) + net.export_graphml(k) for k in (1, 2, 3)]
    parts += [
        format_metrics_table(net),
        metrics_json(net),
        repr(net.metric_rows()),
        repr(net.rounds),
        repr(net),
    ]
    return "\n".join(parts)


def test_private_people_appear_nowhere(network):
    published = everything_published(network)
    for secret in SECRETS:
        assert secret not in published, secret
    assert "Fay F" in published and "Talking with Fay" in published  # public data does get through


def test_labels_none_removes_every_label():
    net = build_network(fixture_data(), NetworkSettings(labels="none"), None, PERSON_POSTS, ROUND_POSTS)
    published = everything_published(net)
    for name in ("Ana A", "Fay F", "Council A", "Charity C", "Talking with Fay", *SECRETS):
        assert name not in published, name
    payload = net.diagram_data()
    assert all(n["label"] is None and n["org"] is None and n["posts"] == [] for n in payload["nodes"])
    assert all(g["label"] is None for g in payload["groups"])
    assert all(o["label"] is None for o in payload["orgs"]["nodes"])
    assert all(r.public_pairs == () for r in net.rounds)


def test_payload_nodes_links_and_groups(network):
    payload = network.diagram_data()
    assert payload["version"] == 1 and payload["colour_by"] == "organisation"
    assert payload["rounds"] == [
        {"round": 1, "title": "Round one", "date": "2016-01-20"},
        {"round": 2, "title": "Round 2", "date": "2016-02-22"},
        {"round": 3, "title": "Round three", "date": "2016-03-21"},
    ]
    nodes = {n["id"]: n for n in payload["nodes"]}
    assert list(nodes) == [f"n{i}" for i in range(1, 9)]  # order of first appearance
    ana, dan, fay, zz, gus = nodes["n1"], nodes["n4"], nodes["n6"], nodes["n7"], nodes["n8"]
    assert (ana["label"], ana["org"], ana["me"], ana["rounds"], ana["degree"]) == (
        "Ana A",
        "Council A",
        True,
        [1, 2, 3],
        2,
    )
    assert (dan["label"], dan["org"], dan["posts"]) == (None, None, [])
    assert fay["posts"] == [{"title": "Talking with Fay", "url": "/posts/fay/"}]
    assert (zz["first"], zz["rounds"], zz["degree"], zz["posts"]) == (2, [2], 0, [])  # met: false -> no link
    assert (gus["group"], gus["first"]) == (None, 3)  # anonymous: no organisation
    # colour groups by first appearance; Secret Org has no public member so it is unnamed
    assert payload["groups"] == [
        {"label": "Council A"},
        {"label": "Council B"},
        {"label": "Charity C"},
        {"label": None},
    ]
    assert (dan["group"], zz["group"]) == (2, 3)
    links = {(link["source"], link["target"]): link["rounds"] for link in payload["links"]}
    assert links[("n1", "n2")] == [1, 2]  # the repeat pairing lists both rounds
    assert len(links) == 8 and ("n3", "n7") not in links
    assert all(-1 <= n[c] <= 1 for n in payload["nodes"] for c in ("x", "y"))


def test_cumulative_cut_at_a_round(network):
    cut = network.diagram_data(1)
    assert [n["id"] for n in cut["nodes"]] == ["n1", "n2", "n3", "n4", "n5", "n6"]
    assert {(link["source"], link["target"]) for link in cut["links"]} == {
        ("n1", "n2"),
        ("n3", "n4"),
        ("n3", "n5"),
        ("n4", "n5"),
    }
    assert all(link["rounds"] == [1] for link in cut["links"])
    assert cut["nodes"][0]["rounds"] == [1] and len(cut["rounds"]) == 1
    full = {n["id"]: (n["x"], n["y"]) for n in network.diagram_data()["nodes"]}
    assert all(full[n["id"]] == (n["x"], n["y"]) for n in cut["nodes"])  # same positions every round


def test_organisation_view(network):
    orgs = network.diagram_data()["orgs"]
    by_id = {o["id"]: o for o in orgs["nodes"]}
    assert [(o["label"], o["size"], o["first"]) for o in orgs["nodes"]] == [
        ("Council A", 2, 1),
        ("Council B", 2, 1),
        ("Charity C", 2, 1),
        (None, 1, 2),
    ]
    links = {(by_id[link["source"]]["label"], by_id[link["target"]]["label"]): link["rounds"] for link in orgs["links"]}
    # A-B: ana-ben and cat-eve in round 1, ana-ben in 2, ben-cat and ana-eve in 3; dan-fay is within Charity C
    assert links == {
        ("Council A", "Council B"): {"1": 2, "2": 1, "3": 2},
        ("Council A", "Charity C"): {"1": 1},
        ("Council B", "Charity C"): {"1": 1},
    }
    assert network.diagram_data(1)["orgs"]["nodes"][-1]["label"] == "Charity C"  # unnamed org not there yet


def test_round_views_public_pairs_and_posts(network):
    r1, r2, r3 = network.rounds
    assert [g.names for g in r1.public_pairs] == [("Ana A", "Ben B")]  # the triad has private dan
    assert r1.groups_total == 2
    assert [(g.names, g.node_ids, g.met) for g in r2.public_pairs] == [(("Ana A", "Ben B"), ("n1", "n2"), True)]
    assert r2.groups_total == 3 and r2.posts[0].url == "/posts/round-two/"
    assert [g.names for g in r3.public_pairs] == [("Ben B", "Cat C"), ("Ana A", "Eve E")]  # gus is anonymous
    assert r3.metrics.top_bridges == ("Fay F", "Cat C", "Eve E", "Ana A")
    assert r3.metrics.top_bridges_private == 1
    assert network.round(2) is r2 and network.round(9) is None


def test_person_node_id(network):
    assert network.person_node_id("ana") == "n1"
    assert network.person_node_id("zz-secret-id") == "n7"
    assert network.person_node_id("nobody") is None


def test_metric_rows_and_table(network):
    rows = {row.key: row for row in network.metric_rows()}
    assert rows["largest_share"].display == ("50%", "57%", "88%")
    assert rows["connections"].values == (4, 5, 8)
    assert rows["top_bridges"].display[2] == "Fay F, Cat C, Eve E, Ana A (+1 not named)"
    assert all(row.definition for row in rows.values())
    table = format_metrics_table(network)
    lines = table.splitlines()
    assert lines[0].split() == ["Metric", "R1", "R2", "R3"]
    assert lines[2].split() == ["Participants", "6", "6", "6"]
    share = next(line for line in lines if line.startswith("Largest component share"))
    assert share.split()[-3:] == ["50%", "57%", "88%"]
    data = json.loads(metrics_json(network))
    assert data["rounds"][2]["metrics"]["top_bridges"] == ["Fay F", "Cat C", "Eve E", "Ana A"]
    assert data["rounds"][1]["metrics"]["completion_rate"] == pytest.approx(2 / 3)
    assert set(data["definitions"]) == set(rows)


def test_sampled_values_are_marked_in_the_table():
    import sys

    sys.path.insert(0, str(Path(__file__).parent.parent.parent / "scripts"))
    from gen_rounds import generate

    people, texts = generate(80, 4, seed=5)
    data = load_round_data(("p.yaml", people), [(f"r{k}.yaml", t) for k, t in enumerate(texts, 1)])
    net = build_network(data, NetworkSettings(exact_paths_up_to=20))
    rows = {row.key: row for row in net.metric_rows()}
    largest = rows["largest_component"].values
    assert rows["path_mean"].sampled == tuple(size > 20 for size in largest)
    assert True in rows["path_mean"].sampled
    assert rows["people"].sampled == (False,) * 4
    table = format_metrics_table(net)
    assert "~" in next(line for line in table.splitlines() if line.startswith("Average shortest path"))
    assert "sample" in table.splitlines()[-1]


def test_cache_makes_the_same_network():
    cache = MetricsCache()
    first = build_network(fixture_data(), NetworkSettings(), cache)
    second = build_network(fixture_data(), NetworkSettings(), cache)
    assert cache.hits == 3 and cache.layouts
    assert first.diagram_data() == second.diagram_data()
    assert json.dumps(first.diagram_data()) == json.dumps(
        build_network(fixture_data(), NetworkSettings()).diagram_data()
    )


def test_colour_by_sector():
    payload = build_network(fixture_data(), NetworkSettings(colour_by="sector")).diagram_data()
    assert payload["colour_by"] == "sector"
    assert payload["groups"] == [{"label": "Local government"}, {"label": "Charity"}, {"label": None}]


def test_script_breaking_names_stay_data():
    people = ("people.yaml", 'x: {name: "</script><b>O\'Brien & Æ", public: true}\ny: {public: true}\n')
    data = load_round_data(people, [("r.yaml", "round: 1\ndate: 2016-01-01\npairs: [[x, y]]\n")])
    payload = build_network(data, NetworkSettings()).diagram_data()
    assert payload["nodes"][0]["label"] == "</script><b>O'Brien & Æ"  # escaping is the template's |tojson job
    assert payload["nodes"][1]["label"] == "y"  # a public person without a name is shown by id

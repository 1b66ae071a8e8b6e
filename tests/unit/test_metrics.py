"""Metrics against values computed by hand on tests/fixtures/rounds/basic.

The fixture (node index = order of first appearance):
  round 1: [ana, ben], triad [cat, dan, eve], unmatched fay        ana0 ben1 cat2 dan3 eve4 fay5
  round 2: [ana, ben] (repeat), {cat, zz-secret-id, met: false}, [dan, fay]          zz6
  round 3: [ben, cat], [gus, fay] (gus: anonymous newcomer), [ana, eve]                gus7
Organisations: ana, cat = Council A; ben, eve = Council B; dan, fay = Charity C;
zz = Secret Org; gus unknown. Public: ana, ben, cat, eve, fay.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from builder import metrics as metrics_module
from builder.metrics import METRICS, MetricsCache, RoundMetrics, brandes, compute_all
from builder.rounds import load_round_data

FIXTURE = Path(__file__).parent.parent / "fixtures" / "rounds" / "basic" / "data"
SCRIPTS = Path(__file__).parent.parent.parent / "scripts"


def fixture_data():
    people = ("data/people.yaml", (FIXTURE / "people.yaml").read_text(encoding="utf-8"))
    rounds = [
        (f"data/rounds/{p.name}", p.read_text(encoding="utf-8")) for p in sorted((FIXTURE / "rounds").glob("*.yaml"))
    ]
    return load_round_data(people, rounds)


@pytest.fixture(scope="module")
def rounds() -> list[RoundMetrics]:
    return compute_all(fixture_data())[0]


def test_round_one_by_hand(rounds):
    m = rounds[0]
    # participants: ana ben cat dan eve + unmatched fay = 6, all new; nobody before, so 0 lapsed
    assert (m.participants, m.newcomers, m.lapsed) == (6, 6, 0)
    # one pair, one triad, both met -> 2/2
    assert (m.pairs, m.triads, m.completion_rate) == (1, 1, 1.0)
    # met pairs: ana-ben, cat-dan, cat-eve, dan-eve: 4 new; all four cross organisations (A-B, A-C, A-B, C-B)
    assert (m.new_connections, m.repeat_pairings, m.round_cross_org_share) == (4, 0, 1.0)
    assert m.bridging_pairs == 0  # G_0 is empty
    # G_1: 6 people, 4 edges; components {ana,ben} {cat,dan,eve} {fay}; fay isolated
    assert (m.people, m.connections, m.components, m.largest_component, m.isolated) == (6, 4, 3, 3, 1)
    assert m.largest_share == pytest.approx(3 / 6)
    # degrees ana1 ben1 cat2 dan2 eve2 fay0: mean 8/6, median of [0,1,1,2,2,2] = 1.5, max 2
    assert (m.degree_mean, m.degree_median, m.degree_max) == (pytest.approx(8 / 6), 1.5, 2)
    assert m.density == pytest.approx(2 * 4 / (6 * 5))
    # reach within two steps: ana 1, ben 1, cat 2, dan 2, eve 2, fay 0 -> 8/6
    assert m.reach2_mean == pytest.approx(8 / 6)
    # clustering: the triad members have 1.0, everyone else 0 -> 3/6
    assert m.clustering == pytest.approx(0.5)
    # largest component is the triangle: every distance 1, diameter 1, nobody in between
    assert (m.path_mean, m.diameter, m.sampled, m.bridge_nodes) == (1.0, 1, False, ())
    # 4 external ties, 0 internal: share 1, E-I = (4-0)/4
    assert (m.cross_org_share, m.ei_index) == (1.0, 1.0)


def test_round_two_by_hand(rounds):
    m = rounds[1]
    # participants ana ben cat zz dan fay = 6 (zz only in a met:false group still counts); zz is new;
    # eve took part in round 1 but not round 2 -> 1 lapsed
    assert (m.participants, m.newcomers, m.lapsed) == (6, 1, 1)
    # three groups of two, cat+zz did not meet -> 2/3
    assert (m.pairs, m.triads) == (3, 0)
    assert m.completion_rate == pytest.approx(2 / 3)
    # ana-ben met before (repeat); dan-fay is new; ana-ben cross (A-B), dan-fay within Charity C -> 1/2
    assert (m.new_connections, m.repeat_pairings, m.round_cross_org_share) == (1, 1, 0.5)
    # dan (in {cat,dan,eve}) and fay (isolated) were in different components of G_1; ana-ben were not
    assert m.bridging_pairs == 1
    # G_2: 7 people, 5 edges (cat-zz made none); {ana,ben} {cat,dan,eve,fay} {zz}
    assert (m.people, m.connections, m.components, m.largest_component, m.isolated) == (7, 5, 3, 4, 1)
    assert m.largest_share == pytest.approx(4 / 7)
    # degrees ana1 ben1 cat2 dan3 eve2 fay1 zz0: sum 10; sorted [0,1,1,1,2,2,3] median 1
    assert (m.degree_mean, m.degree_median, m.degree_max) == (pytest.approx(10 / 7), 1.0, 3)
    assert m.density == pytest.approx(10 / (7 * 6))
    # reach2: ana 1, ben 1, cat {dan,eve,fay} 3, dan 3, eve {cat,dan,fay} 3, fay {dan,cat,eve} 3, zz 0 = 14/7
    assert m.reach2_mean == pytest.approx(2.0)
    # clustering: cat 1 (dan-eve linked), dan 1/3 (of cat-eve, cat-fay, eve-fay only cat-eve), eve 1
    # -> (7/3)/7
    assert m.clustering == pytest.approx(1 / 3)
    # largest component {cat,dan,eve,fay}: distances 1,1,2,1,1,2 -> 8/6; diameter 2 (cat-fay, eve-fay)
    assert (m.path_mean, m.diameter) == (pytest.approx(8 / 6), 2)
    # dan is on both shortest paths cat-fay and eve-fay: the only bridge
    assert m.bridge_nodes == (3,)
    # ties: 4 external + dan-fay internal -> share 4/5, E-I (4-1)/5
    assert (m.cross_org_share, m.ei_index) == (pytest.approx(0.8), pytest.approx(0.6))


def test_round_three_by_hand(rounds):
    m = rounds[2]
    # participants ben cat gus fay ana eve; gus new; zz and dan took part in round 2 only -> 2 lapsed
    assert (m.participants, m.newcomers, m.lapsed, m.pairs, m.triads, m.completion_rate) == (
        6,
        1,
        2,
        3,
        0,
        1.0,
    )
    # ben-cat, gus-fay, ana-eve all new; gus has no organisation so only ben-cat (B-A) and ana-eve (A-B) count
    assert (m.new_connections, m.repeat_pairings, m.round_cross_org_share) == (3, 0, 1.0)
    # ben-cat and ana-eve join {ana,ben} to {cat,dan,eve,fay}; gus was not in G_2 so gus-fay is not bridging
    assert m.bridging_pairs == 2
    # G_3: 8 people, 8 edges; everyone but zz connected
    assert (m.people, m.connections, m.components, m.largest_component, m.isolated) == (8, 8, 2, 7, 1)
    assert m.largest_share == pytest.approx(7 / 8)
    # degrees ana2 ben2 cat3 dan3 eve3 fay2 gus1 zz0 = 16; median of [0,1,2,2,2,3,3,3] = 2
    assert (m.degree_mean, m.degree_median, m.degree_max) == (2.0, 2.0, 3)
    assert m.density == pytest.approx(16 / 56)
    # reach2: ana {ben,eve,cat,dan}4 ben {ana,cat,eve,dan}4 cat {dan,eve,ben,fay,ana}5
    #         dan {cat,eve,fay,ben,ana,gus}6 eve {cat,dan,ana,ben,fay}5 fay {dan,gus,cat,eve}4
    #         gus {fay,dan}2 zz0
    assert m.reach2_mean == pytest.approx(30 / 8)
    # clustering: cat, dan, eve each 1/3 (only the old triangle), everyone else 0 -> 1/8
    assert m.clustering == pytest.approx(1 / 8)
    # BFS distance sums in the 7-person component: ana13 ben13 cat10 dan9 eve10 fay12 gus17 = 84 over 42
    # ordered pairs; diameter 4 (ana-gus, ben-gus)
    assert (m.path_mean, m.diameter) == (pytest.approx(2.0), 4)
    # betweenness: dan 8 (fay and gus to ana/ben/cat/eve), fay 5 (gus to everyone), cat 3.5, eve 3.5
    # (tie -> earlier node first), ana 0.5, ben 0.5 (cut at five)
    assert m.bridge_nodes == (3, 5, 2, 4, 0)
    # ties: ext ana-ben cat-dan cat-eve dan-eve ben-cat ana-eve = 6, int dan-fay = 1, fay-gus unknown
    assert (m.cross_org_share, m.ei_index) == (pytest.approx(6 / 7), pytest.approx(5 / 7))


def test_betweenness_matches_networkx_exactly():
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import shortest_path

    graph = nx.connected_watts_strogatz_graph(40, 4, 0.3, seed=3)
    matrix = csr_matrix(nx.to_scipy_sparse_array(graph, nodelist=range(40)))
    dist = shortest_path(matrix, method="D", directed=False, unweighted=True).astype(np.int32)
    ours = brandes(matrix, dist, list(range(40)))
    theirs = nx.betweenness_centrality(graph, normalized=False)
    assert ours == pytest.approx([theirs[i] for i in range(40)])


def test_above_the_size_limit_paths_are_sampled_and_flagged():
    data = fixture_data()
    exact = compute_all(data, exact_paths_up_to=7)[0][2]
    sampled = compute_all(data, exact_paths_up_to=6, sample_sources=3)[0][2]
    again = compute_all(data, exact_paths_up_to=6, sample_sources=3)[0][2]
    assert exact.sampled is False and sampled.sampled is True
    assert sampled == again  # fixed seed: the same sample every build
    # three sampled sources: the estimate is a mean of three of the BFS sums listed above, over 6 targets each
    sums = {13, 10, 9, 12, 17}
    assert any(abs(sampled.path_mean * 18 - (a + b + c)) < 1e-9 for a in sums for b in sums for c in sums)
    assert sampled.diameter <= exact.diameter


def test_definitions_cover_every_metric():
    fields = {f.name for f in dataclasses.fields(RoundMetrics)}
    keys = [d.key for d in METRICS]
    assert len(keys) == len(set(keys))
    assert set(keys) <= fields
    assert fields - set(keys) == {"round", "sampled", "reach_sampled", "bridge_nodes", "top_bridges_private"}
    assert all(len(d.definition) > 30 and d.section in {"round", "cumulative"} for d in METRICS)


def generated(rounds: int, edit: int | None = None):
    import sys

    sys.path.insert(0, str(SCRIPTS))
    from gen_rounds import generate

    people, texts = generate(60, rounds, seed=3)
    if edit is not None:  # swap the first two people of one group: new data for that round only
        texts[edit - 1] = texts[edit - 1].replace("pairs:\n  - [", "pairs:\n  - [zz-new, ", 1)
    return load_round_data(("people.yaml", people), [(f"r{k}.yaml", t) for k, t in enumerate(texts, 1)])


def test_editing_round_seven_reuses_rounds_one_to_six(monkeypatch):
    cache = MetricsCache()
    compute_all(generated(8), cache=cache)
    assert (cache.hits, cache.misses) == (0, 8)
    measured: list[int] = []
    original = metrics_module._measure
    monkeypatch.setattr(
        metrics_module,
        "_measure",
        lambda state, number, *rest: (measured.append(number), original(state, number, *rest))[1],
    )
    edited = generated(8, edit=7)
    results, _ = compute_all(edited, cache=cache)
    assert measured == [7, 8]
    assert (cache.hits, cache.misses) == (6, 10)
    assert results == compute_all(edited)[0]  # cached + recomputed == computed from scratch
    assert len(cache.rounds) == 8  # stale keys for the old rounds 7 and 8 were dropped


def _graphs_for_paths() -> dict[str, nx.Graph]:
    """One graph per route through paths_and_betweenness: batched, long ring, deep and dense."""
    ring = nx.cycle_graph(300)  # 150 BFS levels, few edges: walked in plain Python
    lollipop = nx.lollipop_graph(120, 60)  # a 120-clique with a 60-node tail: deep and dense
    return {
        "small world": nx.connected_watts_strogatz_graph(60, 6, 0.3, seed=4),
        "ring": ring,
        "lollipop": lollipop,
        "grid": nx.convert_node_labels_to_integers(nx.grid_2d_graph(7, 9)),
    }


@pytest.mark.parametrize("name", ["small world", "ring", "lollipop", "grid"])
def test_paths_and_betweenness_match_networkx_on_every_route(name, monkeypatch):
    from scipy.sparse import csr_matrix

    from builder.metrics import paths_and_betweenness

    monkeypatch.setattr(metrics_module, "SOURCE_BLOCK", 16)  # several blocks, summed
    graph = _graphs_for_paths()[name]
    n = graph.number_of_nodes()
    matrix = csr_matrix(nx.to_scipy_sparse_array(graph, nodelist=range(n), dtype=float))
    total, diameter, scores = paths_and_betweenness(matrix, list(range(n)))
    lengths = dict(nx.all_pairs_shortest_path_length(graph))
    assert total == sum(sum(row.values()) for row in lengths.values())
    assert diameter == nx.diameter(graph)
    theirs = nx.betweenness_centrality(graph, normalized=False)
    assert scores == pytest.approx([theirs[i] for i in range(n)], rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("name", ["small world", "ring", "lollipop"])
def test_sampled_betweenness_is_brandes_from_the_same_sources(name):
    """A sample of sources: the same scaled estimate as the per-source reference implementation."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import shortest_path

    from builder.metrics import paths_and_betweenness

    graph = _graphs_for_paths()[name]
    n = graph.number_of_nodes()
    matrix = csr_matrix(nx.to_scipy_sparse_array(graph, nodelist=range(n), dtype=float))
    sources = [1, 5, 17, 40]
    dist = shortest_path(matrix, method="D", directed=False, unweighted=True, indices=sources)
    total, diameter, scores = paths_and_betweenness(matrix, sources)
    assert (total, diameter) == (dist.sum(), dist.max())
    assert scores == pytest.approx(brandes(matrix, dist.astype(np.int32), sources), rel=1e-9, abs=1e-9)


def test_which_route_is_taken(monkeypatch):
    """The ring is too deep for the batch and thin enough to walk; the lollipop's clique is not."""
    from scipy.sparse import csr_matrix

    from builder.metrics import paths_and_betweenness

    taken: list[str] = []
    for route in ("_batched_brandes", "_dependencies_by_walking", "_dependencies"):
        original = getattr(metrics_module, route)
        monkeypatch.setattr(metrics_module, route, lambda *a, _f=original, _r=route: taken.append(_r) or _f(*a))
    for name, expected in [
        ("small world", ["_batched_brandes"]),
        ("ring", ["_batched_brandes", "_dependencies_by_walking"]),
        ("lollipop", ["_batched_brandes", "_dependencies"]),
    ]:
        graph = _graphs_for_paths()[name]
        n = graph.number_of_nodes()
        taken.clear()
        paths_and_betweenness(csr_matrix(nx.to_scipy_sparse_array(graph, nodelist=range(n), dtype=float)), [0, 3])
        assert taken == expected, name


@pytest.mark.parametrize("name", ["small world", "ring", "lollipop", "grid"])
def test_small_components_in_plain_python_match_the_sparse_route(name):
    """Exactly what the sparse-matrix route gives (all sources, and a sample), and networkx."""
    from scipy.sparse import csr_matrix

    from builder.metrics import paths_and_betweenness, paths_and_betweenness_small

    graph = _graphs_for_paths()[name]
    n = graph.number_of_nodes()
    adj = [set(graph.neighbors(v)) for v in range(n)]
    members = np.arange(n)
    matrix = csr_matrix(nx.to_scipy_sparse_array(graph, nodelist=range(n), dtype=float))
    for sources in (list(range(n)), [1, 5, 17, 40]):
        total, diameter, scores = paths_and_betweenness_small(adj, members, sources)
        sparse_total, sparse_diameter, sparse_scores = paths_and_betweenness(matrix, sources)
        assert (total, diameter) == (sparse_total, sparse_diameter)
        assert scores == pytest.approx(sparse_scores, rel=1e-9, abs=1e-9)
    theirs = nx.betweenness_centrality(graph, normalized=False)
    assert paths_and_betweenness_small(adj, members, list(range(n)))[2] == pytest.approx(
        [theirs[i] for i in range(n)], rel=1e-9, abs=1e-9
    )


def test_small_component_relabels_members_of_a_bigger_graph():
    """Only the component's nodes count, relabelled in ``members`` order."""
    from builder.metrics import paths_and_betweenness_small

    adj = [{1}, {0, 2}, {1}, {4}, {3}]  # a path 0-1-2 and a separate pair 3-4
    total, diameter, scores = paths_and_betweenness_small(adj, np.array([0, 1, 2]), [0, 1, 2])
    assert (total, diameter) == (8.0, 2)  # distances 1+2 + 1+1 + 2+1
    assert list(scores) == [0.0, 1.0, 0.0]


def test_a_small_scheme_never_imports_scipy(tmp_path):
    """The example journal's network (31 people) is measured without importing scipy (~0.15 s)."""
    import subprocess
    import sys

    from conftest import ROOT

    code = (
        "import sys, pathlib; from builder.build import Builder, BuildOptions; "
        f"Builder().render(BuildOptions(pathlib.Path({str(ROOT)!r}), pathlib.Path({str(tmp_path / 'o')!r}), "
        "cache=False)); print('scipy' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"

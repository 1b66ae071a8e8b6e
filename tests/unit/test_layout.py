"""Layout: deterministic, in [-1, 1], warm-started growth, cached, and a cheap path at scale."""

from __future__ import annotations

import math

from builder import layout
from builder.layout import normalise, person_positions

# a path a-b-c grows in round 2 by d (met c) and in round 3 by e (met a)
FIRST = [1, 1, 1, 2, 3]
EDGES = {(0, 1): [1], (1, 2): [1], (2, 3): [2], (0, 4): [3]}
GROUPS = ["A", "B", "A", None, "B"]


def test_deterministic_and_normalised():
    one = person_positions(FIRST, EDGES, GROUPS, seed=7)
    two = person_positions(FIRST, EDGES, GROUPS, seed=7)
    assert one == two
    assert all(-1.0 <= c <= 1.0 for p in one for c in p)
    assert max(abs(c) for p in one for c in p) == 1.0  # stretched to the full box
    assert person_positions(FIRST, EDGES, GROUPS, seed=8) != one


def test_partners_end_up_closer_than_strangers():
    pos = person_positions(FIRST, EDGES, GROUPS)
    assert math.dist(pos[2], pos[3]) < math.dist(pos[3], pos[4])  # d met c; d and e never met


def test_newcomer_starts_next_to_first_partner(monkeypatch):
    starts: list[dict] = []
    original = layout._spring

    def spy(graph, init, iterations, seed):
        starts.append({i: init[i] for i in graph.nodes})
        return original(graph, init, iterations, seed)

    monkeypatch.setattr(layout, "_spring", spy)
    person_positions(FIRST, EDGES, GROUPS)
    assert len(starts) == 3  # one warm-started pass per round
    assert set(starts[0]) == {0, 1, 2} and set(starts[2]) == {0, 1, 2, 3, 4}
    assert math.dist(starts[1][3], starts[1][2]) < 0.051  # d placed beside c
    assert math.dist(starts[2][4], starts[2][0]) < 0.051  # e placed beside a


def test_cache_is_used_and_keyed_by_data():
    cache: dict = {}
    first = person_positions(FIRST, EDGES, GROUPS, cache=cache)
    assert len(cache) == 1
    cache[next(iter(cache))] = ((0.5, 0.5),) * 5  # a planted value proves the cache is read
    assert person_positions(FIRST, EDGES, GROUPS, cache=cache) == [(0.5, 0.5)] * 5
    changed = {**EDGES, (1, 3): [3]}
    assert person_positions(FIRST, changed, GROUPS, cache=cache) != first
    assert len(cache) == 2


def test_large_networks_use_organisation_discs_without_spring(monkeypatch):
    n = layout.REFINE_MAX + 10
    groups = [f"org{i % 12}" for i in range(n)]
    edges = {(i, (i * 7 + 3) % n): [1] for i in range(n) if i != (i * 7 + 3) % n}
    calls: list[int] = []
    monkeypatch.setattr(layout, "_spring", lambda *a: calls.append(1))
    pos = person_positions([1] * n, edges, groups)
    assert calls == []
    assert len(pos) == n and len(set(pos)) == n  # nobody on top of anybody
    assert all(-1.0 <= c <= 1.0 for p in pos for c in p)
    # members of one organisation sit together: mean distance to own centre < to the overall centre
    own = [p for p, g in zip(pos, groups, strict=True) if g == "org0"]
    cx, cy = sum(p[0] for p in own) / len(own), sum(p[1] for p in own) / len(own)
    assert sum(math.dist(p, (cx, cy)) for p in own) < sum(math.dist(p, (0, 0)) for p in pos) / n * len(own)


def test_normalise_edge_cases():
    assert normalise([]) == []
    assert normalise([(3.0, 3.0)]) == [(0.0, 0.0)]
    assert normalise([(0.0, 0.0), (4.0, 2.0)]) == [(-1.0, -0.5), (1.0, 0.5)]

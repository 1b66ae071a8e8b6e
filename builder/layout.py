"""Stable, deterministic node positions computed once at build time.

Small networks (up to :data:`ROUND_BY_ROUND_MAX` people) are laid out round by round
with a seeded ``networkx.spring_layout``, each round warm-started from the previous
round's positions and newcomers placed next to their first partner, so the final
picture grows in place. Larger networks skip the per-round passes (a 1,000-node spring
pass costs about a second): people are arranged in sunflower discs around their
organisation, organisations are spring-laid out by how often they talk, and networks up to
:data:`REFINE_MAX` people get a short spring refinement from there. The browser never
runs a cold simulation; every round's diagram uses these final positions.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, MutableMapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # networkx takes ~0.1 s to import: only builds that lay out a network need it
    import networkx as nx


#: Above this many people, no per-round spring passes.
ROUND_BY_ROUND_MAX = 300
#: Above this many people, organisation discs only (no spring refinement at all).
REFINE_MAX = 1000
FIRST_ITERATIONS = 50
WARM_ITERATIONS = 15
REFINE_ITERATIONS = 10
_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))

Point = tuple[float, float]
Edges = Mapping[tuple[int, int], Sequence[int]]


def layout_key(first: Sequence[int], edges: Edges, groups: Sequence[object], seed: int) -> str:
    """Hash of everything positions depend on (node order, rounds, edges, organisations, seed).

    Edges go in as int64 arrays (insertion order and first round are data): a repr of
    100,000s of tuples cost a quarter of a second at 5,000 people.
    """
    import numpy as np

    digest = hashlib.sha256(repr((len(first), len(edges), list(groups), seed, ROUND_BY_ROUND_MAX, REFINE_MAX)).encode())
    digest.update(np.asarray(first, dtype=np.int64).tobytes())
    digest.update(_edge_array(edges).tobytes())
    digest.update(np.fromiter((v[0] for v in edges.values()), dtype=np.int64, count=len(edges)).tobytes())
    return digest.hexdigest()


def _edge_array(edges: Edges) -> Any:
    """The edge keys as an (E, 2) int64 array, in insertion order."""
    import numpy as np

    return np.fromiter(chain.from_iterable(edges), dtype=np.int64, count=2 * len(edges)).reshape(-1, 2)


def person_positions(
    first: Sequence[int],
    edges: Edges,
    groups: Sequence[object],
    seed: int = 7,
    cache: MutableMapping[str, Any] | None = None,
) -> list[Point]:
    """Positions in [-1, 1] for nodes ``0..n-1``.

    ``first[i]`` is node i's first round, ``edges`` maps ``(a, b)`` to the rounds the pair met,
    ``groups[i]`` is the organisation (any hashable, ``None`` for unknown) used at scale.
    """
    key = layout_key(first, edges, groups, seed)
    if cache is not None and key in cache:
        return list(cache[key])
    n = len(first)
    if n <= ROUND_BY_ROUND_MAX:
        raw = _round_by_round(first, edges, seed)
    else:
        raw = _organisation_discs(groups, edges, seed)
        if n <= REFINE_MAX:
            import networkx as nx

            graph = nx.Graph()
            graph.add_nodes_from(range(n))
            graph.add_edges_from(sorted(edges))
            refined = _spring(graph, raw, REFINE_ITERATIONS, seed)
            raw = [refined[i] for i in range(n)]
    positions = normalise(raw)
    if cache is not None:
        cache[key] = tuple(positions)
    return positions


def _round_by_round(first: Sequence[int], edges: Edges, seed: int) -> list[Point]:
    import networkx as nx

    n = len(first)
    rng = random.Random(seed)
    by_round: dict[int, list[tuple[int, int]]] = {}
    for (a, b), rounds in edges.items():
        by_round.setdefault(min(rounds), []).append((a, b))
    pos: dict[int, Point] = {}
    graph = nx.Graph()
    for number in sorted(set(first) | set(by_round)):
        new_nodes = [i for i in range(n) if first[i] == number]
        graph.add_nodes_from(new_nodes)
        graph.add_edges_from(sorted(by_round.get(number, [])))
        _place_newcomers(new_nodes, graph, pos, rng)
        iterations = FIRST_ITERATIONS if len(pos) == len(new_nodes) else WARM_ITERATIONS
        pos = _spring(graph, pos, iterations, seed)
    return [pos[i] for i in range(n)]


def _place_newcomers(new_nodes: list[int], graph: nx.Graph, pos: dict[int, Point], rng: random.Random) -> None:
    """Put each newcomer just beside their first already-placed partner (else at random)."""
    for i in new_nodes:
        partners = sorted(p for p in graph.neighbors(i) if p in pos)
        angle = rng.uniform(0, 2 * math.pi)
        if partners:
            px, py = pos[partners[0]]
            pos[i] = (px + 0.05 * math.cos(angle), py + 0.05 * math.sin(angle))
        else:
            pos[i] = (rng.uniform(-1, 1), rng.uniform(-1, 1))


def _spring(
    graph: nx.Graph, init: Mapping[int, Point] | Sequence[Point], iterations: int, seed: int
) -> dict[int, Point]:
    import networkx as nx

    start = {i: init[i] for i in graph.nodes}
    result = nx.spring_layout(graph, pos=start, iterations=iterations, seed=seed)
    return {i: (float(result[i][0]), float(result[i][1])) for i in graph.nodes}


def _organisation_discs(groups: Sequence[object], edges: Edges, seed: int) -> list[Point]:
    """People in sunflower discs (area ~ members) around spring-laid-out organisation centres."""
    names = list(dict.fromkeys(groups))
    slot = {name: i for i, name in enumerate(names)}
    members: list[list[int]] = [[] for _ in names]
    for i, g in enumerate(groups):
        members[slot[g]].append(i)
    centres = group_positions(len(names), _group_link_counts([slot[g] for g in groups], edges), seed)
    total = len(groups)
    points: list[Point] = [(0.0, 0.0)] * total
    for g, people in enumerate(members):
        radius = 0.9 * math.sqrt(len(people) / total) if len(names) > 1 else 1.0
        cx, cy = centres[g]
        for j, person in enumerate(people):
            r = radius * math.sqrt((j + 0.5) / len(people))
            points[person] = (cx + r * math.cos(j * _GOLDEN_ANGLE), cy + r * math.sin(j * _GOLDEN_ANGLE))
    return points


def _group_link_counts(slot_of: Sequence[int], edges: Edges) -> dict[tuple[int, int], int]:
    """``(group a, group b) -> edges between them`` for a < b (numpy: one pass over 100,000s of edges)."""
    import numpy as np

    if not edges:
        return {}
    pairs = np.asarray(slot_of, dtype=np.int64)[_edge_array(edges)]
    low, high = pairs.min(axis=1), pairs.max(axis=1)
    keep = low != high
    count = len(slot_of) + 1
    keys, counts = np.unique(low[keep] * count + high[keep], return_counts=True)
    return {(a // count, a % count): c for a, c in zip(keys.tolist(), counts.tolist(), strict=True)}


def group_positions(
    count: int, weights: Mapping[tuple[int, int], int], seed: int = 7, cache: MutableMapping[str, Any] | None = None
) -> list[Point]:
    """Seeded spring layout of ``count`` nodes joined by weighted links (organisation view).

    ``cache``: as ``person_positions``'s (a cold build's layouts are computed in another process,
    builder/warmup.py; importing networkx alone costs this one ~0.1 s).
    """
    if count == 0:
        return []
    key = ""
    if cache is not None:
        key = "groups:" + hashlib.sha256(repr((count, sorted(weights.items()), seed)).encode()).hexdigest()
        if key in cache:
            return list(cache[key])
    result = _group_spring(count, weights, seed)
    if cache is not None:
        cache[key] = tuple(result)
    return result


def _group_spring(count: int, weights: Mapping[tuple[int, int], int], seed: int) -> list[Point]:
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(count))
    graph.add_weighted_edges_from((a, b, w) for (a, b), w in sorted(weights.items()))
    result = nx.spring_layout(graph, iterations=FIRST_ITERATIONS, seed=seed, weight="weight")
    return [(float(result[i][0]), float(result[i][1])) for i in range(count)]


def normalise(points: Sequence[Point]) -> list[Point]:
    """Centre and scale uniformly into [-1, 1] (aspect kept), rounded for stable JSON."""
    if not points:
        return []
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    span = max(max(xs) - cx, max(ys) - cy)
    if span <= 0:
        return [(0.0, 0.0) for _ in points]
    return [(round((x - cx) / span, 4) + 0.0, round((y - cy) / span, 4) + 0.0) for x, y in points]

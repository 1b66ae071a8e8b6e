"""Per-round network metrics, computed incrementally and cached per round.

The cumulative graph G_k is grown round by round: components come from a union-find,
triangles are counted as each edge arrives (so clustering is O(n) per round), and the
costly figures (reach within two steps, shortest paths, betweenness) are computed only
for rounds whose data changed, thanks to :class:`MetricsCache`. Paths and betweenness
are exact while the largest component has at most ``exact_paths_up_to`` people and come
from a fixed-seed sample of BFS sources above that (flagged ``sampled``).

Nothing here knows names: people are node indices (order of first appearance), so the
cache can never leak a private participant; ``network.py`` turns indices into public labels.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import random
import statistics
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import TYPE_CHECKING, Any

from .rounds import Round, RoundData

if TYPE_CHECKING:  # numpy/scipy take ~0.4 s to import: loaded by the functions that need them
    import numpy as np
    from scipy.sparse import csr_matrix

#: Number of BFS sources used for paths and betweenness above the exact-size limit.
SAMPLE_SOURCES = 16
#: Number of people whose two-step reach is averaged above the exact-size limit.
REACH_SAMPLE = 1000
#: How many top-betweenness people each round reports (public names only are shown).
TOP_BRIDGES = 5


@dataclass(frozen=True)
class MetricDef:
    """A metric's key in :class:`RoundMetrics`, its table label and its precise definition."""

    key: str
    label: str
    section: str  # "round" (this round only) or "cumulative" (G_k)
    definition: str


METRICS: tuple[MetricDef, ...] = (
    MetricDef(
        "participants",
        "Participants",
        "round",
        "People seen in round k: in a group (whether or not it met) or listed as unmatched.",
    ),
    MetricDef("newcomers", "Newcomers", "round", "Participants of round k not seen in any earlier round."),
    MetricDef(
        "lapsed",
        "Lapsed",
        "round",
        "People who took part in round k-1 but not in round k (0 in the first round).",
    ),
    MetricDef("pairs", "Pairs", "round", "Groups of two proposed in round k (met or not)."),
    MetricDef("triads", "Triads", "round", "Groups of three proposed in round k (met or not)."),
    MetricDef(
        "completion_rate",
        "Completion rate",
        "round",
        "Groups that met divided by groups proposed in round k (met: false groups did not meet).",
    ),
    MetricDef(
        "new_connections",
        "New connections",
        "round",
        "Pairs of people who met in round k and had not met in any earlier round (a triad is three pairs).",
    ),
    MetricDef(
        "repeat_pairings",
        "Repeat pairings",
        "round",
        "Pairs of people who met in round k and had already met in an earlier round.",
    ),
    MetricDef(
        "round_cross_org_share",
        "Cross-organisation share (round)",
        "round",
        "Of the pairs who met in round k where both organisations are known, the share whose organisations differ.",
    ),
    MetricDef(
        "bridging_pairs",
        "Bridging pairs",
        "round",
        "Pairs who met in round k, were both already in G_(k-1) and were in different connected components of G_(k-1).",
    ),
    MetricDef("people", "People", "cumulative", "Nodes of G_k: everyone seen in any round up to k."),
    MetricDef(
        "connections",
        "Distinct connections",
        "cumulative",
        "Edges of G_k: distinct pairs of people who met in a group in any round up to k.",
    ),
    MetricDef(
        "components",
        "Connected components",
        "cumulative",
        "Connected components of G_k, counting each isolated person as a component.",
    ),
    MetricDef(
        "largest_component",
        "Largest component",
        "cumulative",
        "Number of people in the largest component of G_k.",
    ),
    MetricDef(
        "largest_share",
        "Largest component share",
        "cumulative",
        "Largest component size divided by the number of people in G_k (the headline figure).",
    ),
    MetricDef("isolated", "Isolated people", "cumulative", "People in G_k who have not met anyone yet (degree 0)."),
    MetricDef(
        "degree_mean",
        "People met (mean)",
        "cumulative",
        "Mean degree of G_k: the average number of different people each person has met.",
    ),
    MetricDef(
        "degree_median",
        "People met (median)",
        "cumulative",
        "Median degree of G_k: half of its people have met at least this many different people.",
    ),
    MetricDef(
        "degree_max",
        "People met (max)",
        "cumulative",
        "Largest degree in G_k: the most different people any one person has met.",
    ),
    MetricDef(
        "density",
        "Density",
        "cumulative",
        "Edges of G_k divided by the n(n-1)/2 possible pairs among its n people.",
    ),
    MetricDef(
        "reach2_mean",
        "Reach within two steps",
        "cumulative",
        "Mean, over people in G_k, of the number of other people they reach in at most two steps "
        "(people they met plus the people those met); when G_k is larger than the exact-path size limit, "
        "the mean over a fixed-seed sample of 1,000 people (sampled).",
    ),
    MetricDef(
        "clustering",
        "Average clustering",
        "cumulative",
        "Mean over people in G_k of the share of pairs of their contacts who have also met each other "
        "(0 for people with fewer than two contacts).",
    ),
    MetricDef(
        "path_mean",
        "Average shortest path",
        "cumulative",
        "Mean number of steps between two different people of the largest component of G_k; exact up to "
        "the configured size, above it the mean distance from a fixed-seed sample of sources (sampled).",
    ),
    MetricDef(
        "diameter",
        "Diameter",
        "cumulative",
        "Longest shortest path in the largest component of G_k; when sampled, the longest distance from "
        "the sampled sources (a lower bound).",
    ),
    MetricDef(
        "cross_org_share",
        "Cross-organisation share",
        "cumulative",
        "Of the edges of G_k whose two people both have a known organisation, the share across organisations.",
    ),
    MetricDef(
        "ei_index",
        "E-I index",
        "cumulative",
        "(external - internal) / (external + internal) edges of G_k by organisation, from -1 (all within "
        "organisations) to +1 (all across); edges with an unknown organisation are left out.",
    ),
    MetricDef(
        "top_bridges",
        "Top bridging people",
        "cumulative",
        "The people with the highest betweenness centrality in the largest component of G_k (the share of "
        "shortest paths passing through them); only public people are named. Sampled like the paths.",
    ),
)


@dataclass(frozen=True)
class RoundMetrics:
    """Everything measured for round k; see :data:`METRICS` for definitions."""

    round: int
    participants: int
    newcomers: int
    lapsed: int
    pairs: int
    triads: int
    completion_rate: float | None
    new_connections: int
    repeat_pairings: int
    round_cross_org_share: float | None
    bridging_pairs: int
    people: int
    connections: int
    components: int
    largest_component: int
    largest_share: float
    isolated: int
    degree_mean: float
    degree_median: float
    degree_max: int
    density: float
    reach2_mean: float
    clustering: float
    path_mean: float | None
    diameter: int | None
    cross_org_share: float | None
    ei_index: float | None
    sampled: bool  # paths, diameter and betweenness came from a sample of BFS sources
    reach_sampled: bool  # reach2_mean came from a sample of people
    bridge_nodes: tuple[int, ...]  # node indices, highest betweenness first (no names here)
    top_bridges: tuple[str, ...] = ()  # public names, filled in by network.py
    top_bridges_private: int = 0  # how many of bridge_nodes are not named


class MetricsCache:
    """A plain dict wrapper holding per-round metrics (and layouts) keyed by data hashes.

    Pass the same object to successive builds so that an edit to round 7 reuses rounds 1-6.
    """

    def __init__(self) -> None:
        self.rounds: dict[str, RoundMetrics] = {}
        self.layouts: dict[str, Any] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> RoundMetrics | None:
        found = self.rounds.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: str, value: RoundMetrics) -> None:
        self.rounds[key] = value

    def retain(self, keys: Iterable[str]) -> None:
        """Forget entries not used by the latest build, so a long `serve` session stays small."""
        keep = set(keys)
        self.rounds = {k: v for k, v in self.rounds.items() if k in keep}


@dataclass
class _UnionFind:
    parent: list[int] = field(default_factory=list)
    size: list[int] = field(default_factory=list)
    count: int = 0
    largest: int = 0

    def add(self) -> None:
        self.parent.append(len(self.parent))
        self.size.append(1)
        self.count += 1
        self.largest = max(self.largest, 1)

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        self.count -= 1
        self.largest = max(self.largest, self.size[ra])


@dataclass
class GraphState:
    """G_k grown edge by edge; cheap to replay from round 1 on every build.

    Triangles and neighbourhood bitsets are only needed when a round is measured, so they
    are folded in lazily (:meth:`fold`); a fully cached rebuild never pays for them.
    """

    orgs: Mapping[str, str | None]
    index: dict[str, int] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    adj: list[set[int]] = field(default_factory=list)
    org_of: list[str | None] = field(default_factory=list)
    edges: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    tails: list[int] = field(default_factory=list)  # edge ends in insertion order, for numpy
    heads: list[int] = field(default_factory=list)
    uf: _UnionFind = field(default_factory=_UnionFind)
    external: int = 0
    internal: int = 0
    bits: list[int] = field(default_factory=list)  # folded: neighbourhood bitsets (with self)
    triangles: list[int] = field(default_factory=list)  # folded: triangles through each node
    _folded_adj: list[set[int]] = field(default_factory=list)
    _folded: int = 0  # edges folded so far
    _keys: Any = None  # both directions of every edge as sorted (tail << 32 | head), for CSR matrices
    _keyed: int = 0  # edges merged into _keys so far

    def node(self, pid: str) -> int:
        found = self.index.get(pid)
        if found is not None:
            return found
        i = len(self.order)
        self.index[pid] = i
        self.order.append(pid)
        self.adj.append(set())
        self.org_of.append(self.orgs.get(pid))
        self.uf.add()
        return i

    def add_edge(self, a: int, b: int, round_number: int) -> None:
        key = (a, b) if a < b else (b, a)
        rounds = self.edges.get(key)
        if rounds is not None:
            rounds.append(round_number)
            return
        self.edges[key] = [round_number]
        self.tails.append(a)
        self.heads.append(b)
        self.adj[a].add(b)
        self.adj[b].add(a)
        self.uf.union(a, b)
        oa, ob = self.org_of[a], self.org_of[b]
        if oa is not None and ob is not None:
            if oa == ob:
                self.internal += 1
            else:
                self.external += 1

    def fold(self) -> None:
        """Bring triangles and bitsets up to date with every edge added so far."""
        n = len(self.order)
        for i in range(len(self.bits), n):
            self.bits.append(1 << i)
            self.triangles.append(0)
            self._folded_adj.append(set())
        adj, bits, tri = self._folded_adj, self.bits, self.triangles
        for a, b in zip(self.tails[self._folded :], self.heads[self._folded :], strict=True):
            common = adj[a] & adj[b]
            for w in common:
                tri[w] += 1
            tri[a] += len(common)
            tri[b] += len(common)
            adj[a].add(b)
            adj[b].add(a)
            bits[a] |= 1 << b
            bits[b] |= 1 << a
        self._folded = len(self.tails)

    def edge_keys(self) -> np.ndarray:
        """Every edge in both directions as ``tail << 32 | head``, sorted (CSR order).

        Kept up to date by merging each round's new edges into the sorted array, instead of
        sorting a quarter of a million edges from scratch for every measured round.
        """
        import numpy as np

        if self._keys is None:
            self._keys = np.zeros(0, dtype=np.int64)
        if self._keyed < len(self.tails):
            tails = np.asarray(self.tails[self._keyed :], dtype=np.int64)
            heads = np.asarray(self.heads[self._keyed :], dtype=np.int64)
            new = np.sort(np.concatenate([tails << 32 | heads, heads << 32 | tails]))
            self._keys = np.insert(self._keys, np.searchsorted(self._keys, new), new)
            self._keyed = len(self.tails)
        return self._keys


def data_fingerprint(data: RoundData, exact_paths_up_to: int, seed: int) -> str:
    """What every round's metrics depend on besides the rounds themselves (organisations, settings)."""
    orgs = sorted((pid, p.organisation or "") for pid, p in data.people.items())
    return _digest(repr((orgs, exact_paths_up_to, seed, SAMPLE_SOURCES, TOP_BRIDGES)))


def round_keys(data: RoundData, fingerprint: str) -> list[str]:
    """Chain hash per round: the key of round k covers rounds 1..k, so editing k leaves earlier keys alone."""
    keys: list[str] = []
    previous = fingerprint
    for rnd in data.rounds:
        body = repr((rnd.number, [(g.people, g.met) for g in rnd.groups], rnd.unmatched))
        previous = _digest(previous + body)
        keys.append(previous)
    return keys


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compute_all(
    data: RoundData,
    exact_paths_up_to: int = 2000,
    seed: int = 7,
    cache: MetricsCache | None = None,
    sample_sources: int = SAMPLE_SOURCES,
) -> tuple[list[RoundMetrics], GraphState]:
    """Metrics for every round plus the final graph state (reused by layout and diagram)."""
    orgs = {pid: p.organisation for pid, p in data.people.items()}
    state = GraphState(orgs=orgs)
    limits = _Limits(exact_paths_up_to, sample_sources, seed)
    keys = round_keys(data, data_fingerprint(data, exact_paths_up_to, seed) + repr(sample_sources))
    results: list[RoundMetrics] = []
    previous: set[str] = set()
    for rnd, key in zip(data.rounds, keys, strict=True):
        cached = cache.get(key) if cache is not None else None
        this_round = _advance(state, rnd, previous)
        if cached is None:
            cached = _measure(state, rnd.number, this_round, limits)
            if cache is not None:
                cache.put(key, cached)
        results.append(cached)
        previous = set(rnd.participants())
    if cache is not None:
        cache.retain(keys)
    return results, state


def _advance(state: GraphState, rnd: Round, previous: set[str]) -> dict[str, Any]:
    """Apply round k to the state; return the this-round figures, measured against G_(k-1).

    Newcomers become nodes first (isolated, so G_(k-1)'s components are unchanged); every
    meeting is classified before any of round k's edges is added, then the edges go in.
    This is the hot loop of a cold build (every meeting of every round), hence the inlining.
    """
    participants = rnd.participants()
    index = state.index
    known = len(state.order)  # nodes of G_(k-1) are 0..known-1
    for pid in participants:
        if pid not in index:
            state.node(pid)
    met_pairs = [(index[a], index[b]) for g in rnd.groups if g.met for a, b in combinations(g.people, 2)]
    edges, org_of, parent = state.edges, state.org_of, state.uf.parent
    new = repeat = bridging = cross = with_orgs = 0
    for a, b in met_pairs:
        if ((a, b) if a < b else (b, a)) in edges:
            repeat += 1
        else:
            new += 1
            if a < known and b < known:
                ra, rb = a, b
                while parent[ra] != ra:
                    ra = parent[ra]
                while parent[rb] != rb:
                    rb = parent[rb]
                bridging += ra != rb
        oa, ob = org_of[a], org_of[b]
        if oa is not None and ob is not None:
            with_orgs += 1
            cross += oa != ob
    number = rnd.number
    for a, b in met_pairs:
        state.add_edge(a, b, number)
    groups = len(rnd.groups)
    met = sum(1 for g in rnd.groups if g.met)
    return {
        "participants": len(participants),
        "newcomers": len(state.order) - known,
        "lapsed": len(previous.difference(participants)),
        "pairs": sum(1 for g in rnd.groups if len(g.people) == 2),
        "triads": sum(1 for g in rnd.groups if len(g.people) == 3),
        "completion_rate": met / groups if groups else None,
        "new_connections": new,
        "repeat_pairings": repeat,
        "round_cross_org_share": cross / with_orgs if with_orgs else None,
        "bridging_pairs": bridging,
    }


@dataclass(frozen=True)
class _Limits:
    exact_up_to: int
    sample_sources: int
    seed: int


def _measure(state: GraphState, number: int, this_round: dict[str, Any], limits: _Limits) -> RoundMetrics:
    state.fold()
    n = len(state.order)
    degrees = [len(a) for a in state.adj]
    edges = len(state.edges)
    paths = _path_figures(state, limits, number)
    reach2, reach_sampled = _reach2_mean(state, limits, number)
    ties = state.external + state.internal
    return RoundMetrics(
        round=number,
        **this_round,
        people=n,
        connections=edges,
        components=state.uf.count,
        largest_component=state.uf.largest,
        largest_share=state.uf.largest / n if n else 0.0,
        isolated=degrees.count(0),
        degree_mean=sum(degrees) / n if n else 0.0,
        degree_median=float(statistics.median(degrees)) if n else 0.0,
        degree_max=max(degrees, default=0),
        density=2 * edges / (n * (n - 1)) if n > 1 else 0.0,
        reach2_mean=reach2,
        reach_sampled=reach_sampled,
        clustering=_average_clustering(state.triangles, degrees),
        cross_org_share=state.external / ties if ties else None,
        ei_index=(state.external - state.internal) / ties if ties else None,
        **paths,
    )


def _reach2_mean(state: GraphState, limits: _Limits, number: int) -> tuple[float, bool]:
    """Bitset OR of neighbours' neighbourhoods: one C-level big-int OR per edge end.

    Above the exact-size limit the mean is taken over a fixed-seed sample of people.
    """
    bits, adj = state.bits, state.adj
    people: Iterable[int] = range(len(bits))
    if len(bits) > max(limits.exact_up_to, REACH_SAMPLE):
        people = random.Random(limits.seed * 7_919 + number).sample(range(len(bits)), REACH_SAMPLE)
    total = count = 0
    for v in people:
        count += 1
        if adj[v]:
            total += functools.reduce(operator.or_, map(bits.__getitem__, adj[v]), bits[v]).bit_count() - 1
    return (total / count if count else 0.0), count < len(bits)


def _average_clustering(triangles: list[int], degrees: list[int]) -> float:
    if not degrees:
        return 0.0
    total = sum(2 * t / (d * (d - 1)) for t, d in zip(triangles, degrees, strict=True) if d > 1)
    return total / len(degrees)


def _largest_component(state: GraphState) -> np.ndarray:
    """Members of the largest component (ties: the one holding the earliest-seen person), ascending."""
    import numpy as np

    uf = state.uf
    if uf.largest == len(state.order):  # everyone is connected: the usual case after a few rounds
        return np.arange(len(state.order))
    roots = np.fromiter((uf.find(v) for v in range(len(state.order))), dtype=np.int64, count=len(state.order))
    sizes = np.asarray(uf.size)[roots]
    target = roots[int(np.argmax(sizes))]  # argmax returns the first (earliest) maximum
    return np.flatnonzero(roots == target)


def _path_figures(state: GraphState, limits: _Limits, number: int) -> dict[str, Any]:
    if state.uf.largest < 2:
        return {"path_mean": None, "diameter": None, "sampled": False, "bridge_nodes": ()}
    members = _largest_component(state)
    m = len(members)
    sources = list(range(m))
    if m > limits.exact_up_to and limits.sample_sources < m:
        rng = random.Random(limits.seed * 1_000_003 + number)
        sources = sorted(rng.sample(sources, limits.sample_sources))
    sampled = len(sources) < m
    import numpy as np

    if m <= SMALL_COMPONENT:  # a journal's own scheme: plain BFS, and scipy is never imported
        distance_sum, diameter, scores = paths_and_betweenness_small(state.adj, members, sources)
    else:
        distance_sum, diameter, scores = paths_and_betweenness(_csr(state, members), sources)
    path_mean = float(distance_sum / (len(sources) * (m - 1)))
    order = np.lexsort((members, -np.round(scores, 9)))[:TOP_BRIDGES]
    top = tuple(int(members[i]) for i in order if scores[i] > 1e-12)
    return {"path_mean": path_mean, "diameter": diameter, "sampled": sampled, "bridge_nodes": top}


def _csr(state: GraphState, members: np.ndarray) -> csr_matrix:
    """Adjacency matrix of one component's nodes (relabelled 0..m-1 in ascending order), both directions.

    Canonical CSR (column indices sorted within each row, float ones), built straight from the
    sorted edge keys: relabelling keeps the order because ``members`` is ascending.
    """
    import numpy as np
    from scipy.sparse import csr_matrix

    keys = state.edge_keys()
    rows, cols = keys >> 32, keys & 0xFFFFFFFF
    size = len(members)
    if size != len(state.order):
        local = np.full(len(state.order), -1, dtype=np.int64)
        local[members] = np.arange(size)
        rows, cols = local[rows], local[cols]
        keep = rows >= 0  # an edge lies inside or outside the component as a whole
        rows, cols = rows[keep], cols[keep]
    indptr = np.searchsorted(rows, np.arange(size + 1))
    return csr_matrix((np.ones(len(cols)), cols.astype(np.int32), indptr.astype(np.int32)), shape=(size, size))


#: Components up to this size are measured by :func:`paths_and_betweenness_small` (plain Python):
#: below it, importing scipy and building sparse matrices costs more than the BFS itself.
SMALL_COMPONENT = 300


def paths_and_betweenness_small(
    adj: list[set[int]], members: np.ndarray, sources: list[int]
) -> tuple[float, int, np.ndarray]:
    """:func:`paths_and_betweenness` for a small connected component, by Brandes' algorithm in
    plain Python on the adjacency sets (nodes relabelled 0..m-1 in ``members`` order)."""
    import numpy as np

    local = {int(v): i for i, v in enumerate(members)}
    neighbours = [sorted(local[w] for w in adj[int(v)] if w in local) for v in members]
    m = len(neighbours)
    dependency = [0.0] * m
    total, diameter = 0, 0
    for s in sources:
        sigma = [0] * m
        dist = [-1] * m
        sigma[s], dist[s] = 1, 0
        order = [s]
        for v in order:  # BFS: ``order`` grows while it is walked
            dv = dist[v] + 1
            for w in neighbours[v]:
                if dist[w] < 0:
                    dist[w] = dv
                    order.append(w)
                if dist[w] == dv:
                    sigma[w] += sigma[v]
        total += sum(dist)
        diameter = max(diameter, dist[order[-1]])
        delta = [0.0] * m
        for w in reversed(order):
            dw = dist[w] - 1
            coefficient = (1.0 + delta[w]) / sigma[w]
            for v in neighbours[w]:
                if dist[v] == dw:
                    delta[v] += sigma[v] * coefficient
            if w != s:
                dependency[w] += delta[w]
    scores = np.asarray(dependency, dtype=float)
    return float(total), diameter, scores / 2.0 * (m / len(sources))


#: Sources handled together by :func:`paths_and_betweenness` (columns of its dense work arrays).
SOURCE_BLOCK = 128
#: Above this many BFS levels a block goes source by source instead (long chains early in a scheme).
MAX_BATCH_LEVELS = 48


def paths_and_betweenness(matrix: csr_matrix, sources: list[int]) -> tuple[float, int, np.ndarray]:
    """``(sum of BFS distances, largest distance, betweenness)`` from ``sources`` in a connected graph.

    Betweenness is scaled like :func:`brandes` (exact when every node is a source). Sources go in
    blocks through :func:`_batched_brandes`: one sparse-matrix product per BFS level serves a
    whole block, which is several times faster than one BFS per source on a dense late-round
    graph. A block whose BFS runs deeper than :data:`MAX_BATCH_LEVELS` (a long chain) is done
    source by source, where per-level cost does not multiply.
    """
    import numpy as np
    from scipy.sparse.csgraph import shortest_path

    m = matrix.shape[0]
    total, diameter, scores = 0.0, 0, np.zeros(m)
    for start in range(0, len(sources), SOURCE_BLOCK):
        block = sources[start : start + SOURCE_BLOCK]
        found = _batched_brandes(matrix, block)
        if found is None:
            dist = shortest_path(matrix, method="D", directed=True, unweighted=True, indices=block)
            levels = dist.astype(np.int32)
            deepest = int(levels.max())
            if matrix.nnz < 55 * deepest:  # long and thin (a ring, a chain): plain loops win
                dependency = _dependencies_by_walking(matrix, block)
            else:
                dependency = _dependencies(matrix, levels, block)
            found = (float(levels.sum()), deepest, dependency)
        total += found[0]
        diameter = max(diameter, found[1])
        scores += found[2]
    return total, diameter, scores / 2.0 * (m / len(sources))


def _batched_brandes(matrix: csr_matrix, sources: list[int]) -> tuple[float, int, np.ndarray] | None:
    """Level-synchronous BFS and dependency accumulation for several sources at once.

    Column j of the work arrays belongs to ``sources[j]``. Forward: the path counts of level
    L+1 are ``A @ (sigma on level L)``, restricted to nodes not reached before. Backward:
    ``delta[v] = sigma[v] * sum over successors w of (1 + delta[w]) / sigma[w]``, again one
    product per level. Returns (sum of distances, largest distance, summed dependencies),
    or None when the BFS runs too deep.
    """
    import numpy as np

    m, count = matrix.shape[0], len(sources)
    cols = np.arange(count)
    sigma = np.zeros((m, count))
    sigma[sources, cols] = 1.0
    unseen = np.ones((m, count), dtype=bool)
    unseen[sources, cols] = False
    on_level = [~unseen]  # on_level[L]: reached in exactly L steps
    frontier = sigma.copy()
    distance_sum, unreached = 0, m * count - count
    while unreached:
        reached = _spread(matrix, frontier)
        new = reached > 0
        new &= unseen
        found = int(np.count_nonzero(new))
        if not found:
            break  # not connected: the rest is unreachable
        if len(on_level) > MAX_BATCH_LEVELS:
            return None
        distance_sum += found * len(on_level)
        on_level.append(new)
        unseen &= ~new
        frontier = np.where(new, reached, 0.0)
        sigma += frontier
        unreached -= found
    delta = np.zeros((m, count))
    for current in range(len(on_level) - 1, 1, -1):  # level 1 would only feed the sources (unused)
        share = np.divide(1.0 + delta, sigma, out=np.zeros((m, count)), where=on_level[current])
        below = on_level[current - 1]
        rows = np.flatnonzero(below.any(axis=1))
        if len(rows) * 4 < m:  # few receivers (near the sources): multiply only their rows
            gained = _spread(matrix[rows], share)
            gained *= sigma[rows]
            gained *= below[rows]
            delta[rows] += gained
        else:
            gained = _spread(matrix, share)
            gained *= sigma
            gained *= below
            delta += gained
    return float(distance_sum), len(on_level) - 1, delta.sum(axis=1)


def _dependencies_by_walking(matrix: csr_matrix, sources: list[int]) -> np.ndarray:
    """Brandes in plain Python over adjacency lists: cost per edge, none per BFS level.

    Vectorised Brandes pays a fixed price for each BFS level, which dominates on a graph
    with thousands of levels and few edges (a scheme's second round is often one long ring).
    """
    import numpy as np

    m = matrix.shape[0]
    indptr, indices = matrix.indptr.tolist(), matrix.indices.tolist()
    adj = [indices[indptr[v] : indptr[v + 1]] for v in range(m)]
    total = [0.0] * m
    for source in sources:
        dist = [-1] * m
        sigma = [0] * m
        dist[source], sigma[source] = 0, 1
        order = [source]
        for v in order:  # BFS: the list grows while it is walked
            step, paths = dist[v] + 1, sigma[v]
            for w in adj[v]:
                if dist[w] < 0:
                    dist[w] = step
                    order.append(w)
                if dist[w] == step:
                    sigma[w] += paths
        delta = [0.0] * m
        for w in reversed(order):
            share, back = (1.0 + delta[w]) / sigma[w], dist[w] - 1
            for v in adj[w]:
                if dist[v] == back:
                    delta[v] += sigma[v] * share
            if w != source:
                total[w] += delta[w]
    return np.asarray(total)


def _spread(matrix: csr_matrix, values: np.ndarray) -> np.ndarray:
    """``matrix @ values``; a nearly empty ``values`` (a thin BFS frontier) goes through a sparse product."""
    import numpy as np
    from scipy.sparse import csr_matrix

    if np.count_nonzero(values) * 16 < values.size:
        return np.asarray((matrix @ csr_matrix(values)).toarray())
    return np.asarray(matrix @ values)


def brandes(matrix: csr_matrix, dist: np.ndarray, sources: list[int]) -> np.ndarray:
    """Unnormalised betweenness from the given BFS sources (all of them = exact), vectorised per level.

    ``dist[i]`` holds the distances from ``sources[i]``; the graph must be connected. Each
    undirected pair is counted once when all sources are used (as networkx does with
    ``normalized=False``); a sample is scaled up by ``m / len(sources)``.
    """
    return _dependencies(matrix, dist, sources) / 2.0 * (matrix.shape[0] / len(sources))


def _dependencies(matrix: csr_matrix, dist: np.ndarray, sources: list[int]) -> np.ndarray:
    """Brandes' dependency of every node, summed over ``sources`` (one BFS DAG at a time)."""
    import numpy as np

    m = matrix.shape[0]
    coo = matrix.tocoo()
    tails, heads = coo.row.astype(np.int64), coo.col.astype(np.int64)
    scores = np.zeros(m)
    for i, source in enumerate(sources):
        d = dist[i]
        on_path = d[heads] == d[tails] + 1
        t, h = tails[on_path], heads[on_path]
        level = d[t].astype(np.int16)
        order = np.argsort(level, kind="stable")
        t, h, level = t[order], h[order], level[order]
        bounds = np.searchsorted(level, np.arange(int(level.max(initial=0)) + 2))
        sigma = np.zeros(m)
        sigma[source] = 1.0
        for lo, hi in _spans(bounds):
            sigma += np.bincount(h[lo:hi], weights=sigma[t[lo:hi]], minlength=m)
        delta = np.zeros(m)
        for lo, hi in reversed(list(_spans(bounds))):
            tt, hh = t[lo:hi], h[lo:hi]
            delta += np.bincount(tt, weights=sigma[tt] / sigma[hh] * (1.0 + delta[hh]), minlength=m)
        delta[source] = 0.0
        scores += delta
    return scores


def _spans(bounds: np.ndarray) -> Iterator[tuple[int, int]]:
    for j in range(len(bounds) - 1):
        if bounds[j + 1] > bounds[j]:
            yield int(bounds[j]), int(bounds[j + 1])


def with_names(metrics: RoundMetrics, names: list[str | None]) -> RoundMetrics:
    """Fill ``top_bridges`` with the public names of ``bridge_nodes`` (``names[i]`` is None if private)."""
    public = tuple(n for n in (names[i] for i in metrics.bridge_nodes) if n is not None)
    return replace(metrics, top_bridges=public, top_bridges_private=len(metrics.bridge_nodes) - len(public))

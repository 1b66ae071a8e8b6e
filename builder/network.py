"""The network journal: cumulative graphs per round, metrics and privacy-filtered diagram data.

Privacy is enforced here, once: everything leaving this module (diagram payload, exports,
metric rows, round views) is built from opaque node ids (``n1``, ``n2``...) and labels that
exist only for people marked ``public: true``. Private ids and names are never stored on the
:class:`Network` object (person lookups go through a hash), so no template can reach them.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Literal

from . import export
from .layout import group_positions, person_positions
from .metrics import METRICS, GraphState, MetricsCache, RoundMetrics, compute_all, with_names
from .nogc import paused_gc
from .rounds import RoundData

PostLinks = Mapping[str, Sequence[Mapping[str, str]]]
RoundPostLinks = Mapping[int, Sequence[Mapping[str, str]]]


@dataclass(frozen=True)
class NetworkSettings:
    """The ``network:`` settings from site.yaml that shape the output."""

    labels: Literal["public", "none"] = "public"
    me: str | None = None
    colour_by: Literal["organisation", "sector"] = "organisation"
    exact_paths_up_to: int = 2000
    seed: int = 7


@dataclass(frozen=True)
class PostRef:
    """A link to a post that refers to a person or round."""

    title: str
    url: str


@dataclass(frozen=True)
class PublicGroup:
    """A group of round k whose members are all public (and labels are on)."""

    names: tuple[str, ...]
    node_ids: tuple[str, ...]
    met: bool


@dataclass(frozen=True)
class RoundView:
    """What a round page needs: metrics, the public groups, and posts about the round."""

    number: int
    date: datetime.date
    title: str
    metrics: RoundMetrics
    public_pairs: tuple[PublicGroup, ...]
    groups_total: int
    posts: tuple[PostRef, ...] = ()


@dataclass(frozen=True)
class MetricRow:
    """One row of the metrics table: a metric across every round."""

    key: str
    label: str
    section: str
    definition: str
    values: tuple[Any, ...]
    display: tuple[str, ...]
    sampled: tuple[bool, ...]


@dataclass(frozen=True)
class _Node:
    id: str
    label: str | None
    org: str | None
    group: int | None
    first: int
    rounds: tuple[int, ...]
    me: bool
    posts: tuple[PostRef, ...]
    x: float
    y: float


@dataclass(frozen=True)
class _Links:
    """Every link of the final network as parallel columns (one object instead of 100,000s).

    ``rounds[i]`` lists the rounds in which link i's pair met, ascending; links are in order
    of first meeting, which is also the payload's order.
    """

    sources: tuple[int, ...]
    targets: tuple[int, ...]
    rounds: tuple[tuple[int, ...], ...]

    def __len__(self) -> int:
        return len(self.sources)


@dataclass(frozen=True)
class _Org:
    id: str
    label: str | None
    member_firsts: tuple[int, ...]  # first round of each member, sorted
    x: float
    y: float


@dataclass(frozen=True)
class Network:
    """The built network; every public method returns privacy-filtered data."""

    rounds: tuple[RoundView, ...]
    settings: NetworkSettings
    groups: tuple[str | None, ...]
    nodes: tuple[_Node, ...] = field(repr=False)
    links: _Links = field(repr=False)
    orgs: tuple[_Org, ...] = field(repr=False)
    org_links: tuple[tuple[int, int, tuple[tuple[int, int], ...]], ...] = field(repr=False)
    _node_by_hash: Mapping[str, str] = field(repr=False)
    # Per-round downloads, computed once per Network: serve reuses the same (immutable) network
    # across edits that do not touch round data, and regenerating GraphML cost ~0.1 s per build.
    _downloads: dict[tuple[str, int], str] = field(default_factory=dict, repr=False, compare=False)

    def round(self, number: int) -> RoundView | None:
        """The view of round ``number``, or None when there is no such round."""
        return next((r for r in self.rounds if r.number == number), None)

    def person_node_id(self, person_id: str) -> str | None:
        """Opaque node id ("n12") of a person, for linking posts to the diagram."""
        return self._node_by_hash.get(_hash_id(person_id))

    def metric_rows(self) -> list[MetricRow]:
        """Rows for the metrics table (one per metric, one value per round)."""
        return [_metric_row(d.key, d.label, d.section, d.definition, self.rounds) for d in METRICS]

    def diagram_data(self, up_to_round: int | None = None) -> dict[str, Any]:
        """The JSON payload for network.js (see docs/design.md), cut at round ``up_to_round``."""
        return diagram_payload(self, up_to_round)

    def export_json(self, k: int) -> str:
        """Round k's cumulative graph as JSON (opaque ids, public labels only); memoised."""
        return self._download("json", k)

    def export_graphml(self, k: int) -> str:
        """Round k's cumulative graph as GraphML for Gephi/Kumu (opaque ids, public labels only); memoised."""
        return self._download("graphml", k)

    def _download(self, kind: str, k: int) -> str:
        """The network is immutable, so each download is a pure function of (kind, k)."""
        found = self._downloads.get((kind, k))
        if found is None:
            write = export.export_json if kind == "json" else export.export_graphml
            found = self._downloads[(kind, k)] = write(self.diagram_data(k), k)
        return found


def build_network(
    data: RoundData,
    settings: NetworkSettings,
    cache: MetricsCache | None = None,
    person_posts: PostLinks | None = None,
    round_posts: RoundPostLinks | None = None,
) -> Network:
    """Compute metrics, layout and the privacy-filtered views for every round.

    ``person_posts`` maps a person id to ``[{title, url}]`` of posts about them (shown only
    on public people's nodes); ``round_posts`` maps a round number to posts about that round.
    """
    with paused_gc():  # per-edge and per-node objects by the 100,000, none in cycles
        return _build_network(data, settings, cache, person_posts, round_posts)


def _build_network(
    data: RoundData,
    settings: NetworkSettings,
    cache: MetricsCache | None,
    person_posts: PostLinks | None,
    round_posts: RoundPostLinks | None,
) -> Network:
    metrics, state = compute_all(data, settings.exact_paths_up_to, settings.seed, cache)
    labels = _labels(data, state, settings)
    metrics = [with_names(m, labels) for m in metrics]
    groups, group_of = _colour_groups(data, state, settings)
    firsts, rounds_of = _appearances(data, state)
    layouts = cache.layouts if cache is not None else None
    positions = person_positions(
        firsts, state.edges, [state.org_of[i] for i in range(len(firsts))], settings.seed, layouts
    )
    person_posts = person_posts or {}
    nodes = tuple(
        _Node(
            id=f"n{i + 1}",
            label=labels[i],
            org=_public_org(data, pid, labels[i]),
            group=group_of[i],
            first=firsts[i],
            rounds=rounds_of[i],
            me=settings.me is not None and pid == settings.me,
            posts=_post_refs(person_posts.get(pid, ())) if labels[i] is not None else (),
            x=positions[i][0],
            y=positions[i][1],
        )
        for i, pid in enumerate(state.order)
    )
    # edges were inserted round by round, so dict order is already "by first meeting"
    ends: tuple[tuple[int, ...], ...] = tuple(zip(*state.edges, strict=True)) or ((), ())  # (smaller, larger)
    links = _Links(ends[0], ends[1], tuple(map(tuple, state.edges.values())))
    orgs, org_links = _org_view(data, state, firsts, settings, layouts)
    views = _round_views(data, state, metrics, labels, round_posts or {})
    by_hash = {_hash_id(pid): f"n{i + 1}" for i, pid in enumerate(state.order)}
    return Network(views, settings, groups, nodes, links, orgs, org_links, by_hash)


def _hash_id(person_id: str) -> str:
    return hashlib.sha256(person_id.encode("utf-8")).hexdigest()


def _labels(data: RoundData, state: GraphState, settings: NetworkSettings) -> list[str | None]:
    """Display label per node: the name of a public person, None for everyone else."""
    if settings.labels == "none":
        return [None] * len(state.order)
    result: list[str | None] = []
    for pid in state.order:
        person = data.people.get(pid)
        result.append((person.name or person.id) if person is not None and person.public else None)
    return result


def _public_org(data: RoundData, pid: str, label: str | None) -> str | None:
    person = data.people.get(pid)
    return person.organisation if label is not None and person is not None else None


def _colour_groups(
    data: RoundData, state: GraphState, settings: NetworkSettings
) -> tuple[tuple[str | None, ...], list[int | None]]:
    """Colour index per node (by organisation or sector); a group is named only if it has a public member."""
    keys: dict[str, int] = {}
    named: set[str] = set()
    group_of: list[int | None] = []
    for pid in state.order:
        person = data.people.get(pid)
        key = getattr(person, settings.colour_by, None) if person is not None else None
        if key is None:
            group_of.append(None)
            continue
        group_of.append(keys.setdefault(key, len(keys)))
        if person is not None and person.public and settings.labels == "public":
            named.add(key)
    return tuple(k if k in named else None for k in keys), group_of


def _appearances(data: RoundData, state: GraphState) -> tuple[list[int], list[tuple[int, ...]]]:
    """First round and every round of each node, from a rounds x people presence table."""
    import numpy as np

    n = len(state.order)
    present = np.zeros((n, len(data.rounds)), dtype=bool)
    for column, rnd in enumerate(data.rounds):
        present[list(map(state.index.__getitem__, rnd.participants())), column] = True
    nodes, columns = np.nonzero(present)  # by node, then by round
    numbers = np.asarray([r.number for r in data.rounds], dtype=np.int64)[columns].tolist()
    ends = np.cumsum(np.bincount(nodes, minlength=n)).tolist()
    rounds_of = [tuple(numbers[start:end]) for start, end in zip([0, *ends[:-1]], ends, strict=True)]
    return [r[0] for r in rounds_of], rounds_of


def _post_refs(posts: Sequence[Mapping[str, str]]) -> tuple[PostRef, ...]:
    return tuple(PostRef(str(p["title"]), str(p["url"])) for p in posts)


def _org_view(
    data: RoundData,
    state: GraphState,
    firsts: list[int],
    settings: NetworkSettings,
    layouts: MutableMapping[str, Any] | None = None,
) -> tuple[tuple[_Org, ...], tuple[tuple[int, int, tuple[tuple[int, int], ...]], ...]]:
    """Organisations as nodes (people without an organisation are left out), conversations as links."""
    index: dict[str, int] = {}
    firsts_of: list[list[int]] = []
    named: set[int] = set()
    org_index: list[int | None] = []
    for i, org in enumerate(state.org_of):
        if org is None:
            org_index.append(None)
            continue
        o = index.setdefault(org, len(index))
        if o == len(firsts_of):
            firsts_of.append([])
        firsts_of[o].append(firsts[i])
        org_index.append(o)
        person = data.people.get(state.order[i])
        if person is not None and person.public and settings.labels == "public":
            named.add(o)
    links = _org_conversations(state, org_index, len(index))
    weights = {(a, b): sum(c for _, c in per_round) for a, b, per_round in links}
    positions = _normalised(group_positions(len(index), weights, settings.seed, layouts))
    names = list(index)
    orgs = tuple(
        _Org(f"o{o + 1}", names[o] if o in named else None, tuple(sorted(firsts_of[o])), *positions[o])
        for o in range(len(names))
    )
    return orgs, links


def _org_conversations(
    state: GraphState, org_index: list[int | None], count: int
) -> tuple[tuple[int, int, tuple[tuple[int, int], ...]], ...]:
    """``(org a, org b, ((round, conversations), ...))`` for a < b, sorted; counted with numpy.

    One entry per (link, round it met) whose two people belong to different known organisations.
    """
    import numpy as np

    rounds = list(state.edges.values())
    if not rounds or count < 2:
        return ()
    org = np.asarray([-1 if o is None else o for o in org_index], dtype=np.int64)
    lengths = np.fromiter(map(len, rounds), dtype=np.int64, count=len(rounds))
    met = np.fromiter(chain.from_iterable(rounds), dtype=np.int64, count=int(lengths.sum()))
    oa = np.repeat(org[np.asarray(state.tails, dtype=np.int64)], lengths)
    ob = np.repeat(org[np.asarray(state.heads, dtype=np.int64)], lengths)
    keep = (oa >= 0) & (ob >= 0) & (oa != ob)
    low, high, met = np.minimum(oa, ob)[keep], np.maximum(oa, ob)[keep], met[keep]
    if not len(met):
        return ()
    span = int(met.max()) + 1
    keys, counts = np.unique((low * count + high) * span + met, return_counts=True)  # sorted: pair, round
    pairs, numbers = keys // span, (keys % span).tolist()
    starts = np.flatnonzero(np.r_[True, pairs[1:] != pairs[:-1]]).tolist()
    ends = [*starts[1:], len(keys)]
    counted = counts.tolist()
    return tuple(
        (
            int(pairs[start] // count),
            int(pairs[start] % count),
            tuple(zip(numbers[start:end], counted[start:end], strict=True)),
        )
        for start, end in zip(starts, ends, strict=True)
    )


def _normalised(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    from .layout import normalise

    return normalise(points)


def _round_views(
    data: RoundData,
    state: GraphState,
    metrics: list[RoundMetrics],
    labels: list[str | None],
    round_posts: RoundPostLinks,
) -> tuple[RoundView, ...]:
    views = []
    labelled = {pid: (labels[i], f"n{i + 1}") for i, pid in enumerate(state.order) if labels[i] is not None}
    for rnd, m in zip(data.rounds, metrics, strict=True):
        public: list[PublicGroup] = []
        for group in rnd.groups:
            members = [labelled.get(pid) for pid in group.people]
            if None not in members:
                names = tuple(label for label, _ in members if label)  # type: ignore[misc]
                public.append(PublicGroup(names, tuple(node for _, node in members), group.met))  # type: ignore[misc]
        views.append(
            RoundView(
                rnd.number,
                rnd.date,
                rnd.title,
                m,
                tuple(public),
                len(rnd.groups),
                _post_refs(round_posts.get(rnd.number, ())),
            )
        )
    return tuple(views)


# --- payload ----------------------------------------------------------------------------


def diagram_payload(network: Network, up_to_round: int | None = None) -> dict[str, Any]:
    """Build the diagram JSON (design.md "Diagram payload"); only rounds <= ``up_to_round``."""
    with paused_gc():  # one dict and one list per link
        return _diagram_payload(network, up_to_round)


def _diagram_payload(network: Network, up_to_round: int | None) -> dict[str, Any]:
    last = max((r.number for r in network.rounds), default=0)
    k = last if up_to_round is None else up_to_round
    links, degree = _links_payload(network, k, last)
    nodes = [_node_payload(node, k, degree[i]) for i, node in enumerate(network.nodes) if node.first <= k]
    return {
        "version": 1,
        "colour_by": network.settings.colour_by,
        "rounds": [
            {"round": r.number, "title": r.title, "date": r.date.isoformat()} for r in network.rounds if r.number <= k
        ],
        "groups": [{"label": g} for g in network.groups],
        "nodes": nodes,
        "links": links,
        "orgs": _orgs_payload(network, k),
    }


def _links_payload(network: Network, k: int, last: int) -> tuple[list[dict[str, Any]], list[int]]:
    """Links of the cut at round k (a link with a meeting up to k, listing those meetings) and degrees."""
    ids = [node.id for node in network.nodes]
    table = network.links
    kept = [(s, t, r) for s, t, r in zip(table.sources, table.targets, table.rounds, strict=True) if r and r[0] <= k]
    links = [
        {"source": ids[s], "target": ids[t], "rounds": list(r) if r[-1] <= k else [x for x in r if x <= k]}
        for s, t, r in kept
    ]
    degree = [0] * len(ids)
    for s, t, _ in kept:
        degree[s] += 1
        degree[t] += 1
    return links, degree


def _node_payload(node: _Node, k: int, degree: int) -> dict[str, Any]:
    return {
        "id": node.id,
        "x": node.x,
        "y": node.y,
        "label": node.label,
        "org": node.org,
        "group": node.group,
        "first": node.first,
        "rounds": [r for r in node.rounds if r <= k],
        "degree": degree,
        "me": node.me,
        "posts": [{"title": p.title, "url": p.url} for p in node.posts],
    }


def _orgs_payload(network: Network, k: int) -> dict[str, Any]:
    nodes = []
    for org in network.orgs:
        size = sum(1 for f in org.member_firsts if f <= k)
        if size:
            nodes.append(
                {
                    "id": org.id,
                    "label": org.label,
                    "size": size,
                    "first": org.member_firsts[0],
                    "x": org.x,
                    "y": org.y,
                }
            )
    links = []
    for a, b, per_round in network.org_links:
        rounds = {str(r): c for r, c in per_round if r <= k}
        if rounds:
            links.append({"source": network.orgs[a].id, "target": network.orgs[b].id, "rounds": rounds})
    return {"nodes": nodes, "links": links}


# --- metrics table ----------------------------------------------------------------------

_SAMPLED_KEYS = {"path_mean", "diameter", "top_bridges"}
_SHARE_KEYS = {"completion_rate", "round_cross_org_share", "largest_share", "cross_org_share"}


def _metric_row(key: str, label: str, section: str, definition: str, rounds: Sequence[RoundView]) -> MetricRow:
    values = tuple(_metric_value(r.metrics, key) for r in rounds)
    sampled = tuple(
        (key in _SAMPLED_KEYS and r.metrics.sampled) or (key == "reach2_mean" and r.metrics.reach_sampled)
        for r in rounds
    )
    display = tuple(_display(key, v, r.metrics) for v, r in zip(values, rounds, strict=True))
    return MetricRow(key, label, section, definition, values, display, sampled)


def _metric_value(metrics: RoundMetrics, key: str) -> Any:
    if key == "top_bridges":
        return list(metrics.top_bridges)
    return getattr(metrics, key)


def _display(key: str, value: Any, metrics: RoundMetrics) -> str:
    if key == "top_bridges":
        text = ", ".join(value)
        if metrics.top_bridges_private:
            extra = f"+{metrics.top_bridges_private} not named"
            text = f"{text} ({extra})" if text else extra
        return text or "-"
    if value is None:
        return "-"
    if key in _SHARE_KEYS:
        return f"{value * 100:.0f}%"
    if isinstance(value, float):
        return f"{value:.3f}" if key in {"density", "clustering", "ei_index"} else f"{value:.2f}"
    return str(value)


def format_metrics_table(network: Network) -> str:
    """Plain-text table for ``netjournal network``: one row per metric, one column per round."""
    rows = network.metric_rows()
    header = ["Metric", *(f"R{r.number}" for r in network.rounds)]
    body = [
        [row.label, *(("~" if s else "") + d for d, s in zip(row.display, row.sampled, strict=True))] for row in rows
    ]
    widths = [max(len(line[c]) for line in [header, *body]) for c in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if any(any(row.sampled) for row in rows):
        lines.append("")
        lines.append(
            "~ estimated from a fixed-seed sample of sources (largest component above "
            f"{network.settings.exact_paths_up_to} people)"
        )
    return "\n".join(lines) + "\n"


def metrics_json(network: Network) -> str:
    """Machine-readable metrics for ``netjournal network --json`` (public names only)."""
    rows = network.metric_rows()
    payload = {
        "definitions": {
            row.key: {"label": row.label, "section": row.section, "definition": row.definition} for row in rows
        },
        "rounds": [
            {
                "round": r.number,
                "date": r.date.isoformat(),
                "title": r.title,
                "sampled": r.metrics.sampled,
                "metrics": {row.key: row.values[i] for row in rows},
            }
            for i, r in enumerate(network.rounds)
        ],
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"

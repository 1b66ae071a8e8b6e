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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import export
from .layout import group_positions, person_positions
from .metrics import METRICS, GraphState, MetricsCache, RoundMetrics, compute_all, with_names
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
class _Link:
    source: int
    target: int
    rounds: tuple[int, ...]


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
    links: tuple[_Link, ...] = field(repr=False)
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
    links = tuple(_Link(a, b, tuple(r)) for (a, b), r in state.edges.items())
    orgs, org_links = _org_view(data, state, firsts, settings)
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
    seen: list[list[int]] = [[] for _ in state.order]
    for rnd in data.rounds:
        for pid in rnd.participants():
            seen[state.index[pid]].append(rnd.number)
    return [r[0] for r in seen], [tuple(r) for r in seen]


def _post_refs(posts: Sequence[Mapping[str, str]]) -> tuple[PostRef, ...]:
    return tuple(PostRef(str(p["title"]), str(p["url"])) for p in posts)


def _org_view(
    data: RoundData, state: GraphState, firsts: list[int], settings: NetworkSettings
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
    counts: dict[tuple[int, int], dict[int, int]] = {}
    for (a, b), rounds in state.edges.items():
        oa, ob = org_index[a], org_index[b]
        if oa is None or ob is None or oa == ob:
            continue
        per_round = counts.setdefault((min(oa, ob), max(oa, ob)), {})
        for r in rounds:
            per_round[r] = per_round.get(r, 0) + 1
    weights = {pair: sum(c.values()) for pair, c in counts.items()}
    positions = _normalised(group_positions(len(index), weights, settings.seed))
    names = list(index)
    orgs = tuple(
        _Org(f"o{o + 1}", names[o] if o in named else None, tuple(sorted(firsts_of[o])), *positions[o])
        for o in range(len(names))
    )
    links = tuple((a, b, tuple(sorted(c.items()))) for (a, b), c in sorted(counts.items()))
    return orgs, links


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
    index = state.index
    for rnd, m in zip(data.rounds, metrics, strict=True):
        public: list[PublicGroup] = []
        for group in rnd.groups:
            nodes = [index[pid] for pid in group.people]
            names = [labels[i] for i in nodes]
            if None not in names:
                public.append(PublicGroup(tuple(n for n in names if n), tuple(f"n{i + 1}" for i in nodes), group.met))
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
    last = max((r.number for r in network.rounds), default=0)
    k = last if up_to_round is None else up_to_round
    links = []
    degree = [0] * len(network.nodes)
    ids = [node.id for node in network.nodes]
    for link in network.links:
        rounds = list(link.rounds) if k >= last else [r for r in link.rounds if r <= k]
        if rounds:
            links.append({"source": ids[link.source], "target": ids[link.target], "rounds": rounds})
            degree[link.source] += 1
            degree[link.target] += 1
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

"""Propose the next round's groups (``netjournal match``).

The organiser wants pairs that have never met, across organisations, that knit
separate parts of the network together, and a proposal they can reproduce. Like the
tools that do this for real schemes, it is a maximum-weight matching
(``networkx.max_weight_matching`` with ``maxcardinality=True``):

1. over the pairs who have never met, weighted 1 + cross-organisation + different
   component: as many new pairs as possible, and among those the preferred ones;
2. the people left over (only those for whom no new partner is left) are matched among
   themselves by how long ago they last met, so repeats go to least recent partners
   and each one is flagged with the reason;
3. an odd count leaves one person over, who joins the pair they can join without a
   repeat (searched exhaustively for small groups, see :func:`_odd_one_out`).

The seed shuffles the order people are fed to the matching, which is the tiebreak
between equally good proposals. Above ``FULL_LIMIT`` people the pool is matched in
blocks with ``SAMPLE_PARTNERS`` sampled candidate partners each, which keeps 1,000+
people fast (see :func:`_pair_everyone`).

Everything but :func:`main_match` is pure: values in, values out.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import yaml

from .errors import SiteError
from .rounds import RoundData, load_round_data

#: Up to this many people every new pair is a candidate; above it, blocks of this size with sampled partners.
FULL_LIMIT = 400
#: Candidate partners sampled per person above FULL_LIMIT.
SAMPLE_PARTNERS = 16
#: Up to this many people the odd person's triad is searched over every possible triad.
EXACT_ODD_LIMIT = 13

PEOPLE_FILE = "data/people.yaml"
ROUNDS_DIR = "data/rounds"

Pair = tuple[str, str]


@dataclass(frozen=True)
class Repeat:
    """A pair in the proposal who have met before, and why it could not be avoided."""

    people: Pair
    last_met: int
    times: int
    reason: str


@dataclass(frozen=True)
class Quality:
    """Summary figures of a proposal (pairs inside a triad count as three pairs)."""

    people: int
    pairs: int
    triads: int
    repeats: int
    cross_org: int
    known_org: int
    bridging: int
    components_before: int
    components_after: int
    largest_before: int
    largest_after: int

    @property
    def cross_org_share(self) -> float | None:
        """Share of pairs with both organisations known that are across organisations."""
        return self.cross_org / self.known_org if self.known_org else None


@dataclass(frozen=True)
class Proposal:
    """Round N's proposed groups with their flagged repeats and quality summary."""

    round_number: int
    seed: int
    groups: tuple[tuple[str, ...], ...]
    repeats: tuple[Repeat, ...]
    left_out: tuple[tuple[str, str], ...]  # (id, why)
    quality: Quality
    names: Mapping[str, str] = field(default_factory=dict)  # for the terminal only


# --- the pool and the history ---


@dataclass(frozen=True)
class _History:
    """What earlier rounds say: who met whom (last round, times) and the components."""

    last_met: dict[frozenset[str], int]
    times: dict[frozenset[str], int]
    component: dict[str, int]
    graph: nx.Graph


def _history(data: RoundData, before: int) -> _History:
    """Pairs that met in rounds < ``before``; ``met: false`` groups did not meet, so they may be paired."""
    last_met: dict[frozenset[str], int] = {}
    times: dict[frozenset[str], int] = {}
    graph = nx.Graph()
    for rnd in data.rounds:
        if rnd.number >= before:
            continue
        graph.add_nodes_from(rnd.participants())
        for group in rnd.groups:
            if not group.met:
                continue
            for a, b in itertools.combinations(group.people, 2):
                key = frozenset((a, b))
                last_met[key] = max(last_met.get(key, 0), rnd.number)
                times[key] = times.get(key, 0) + 1
                graph.add_edge(a, b)
    component: dict[str, int] = {}
    for index, members in enumerate(sorted(nx.connected_components(graph), key=min)):
        for pid in members:
            component[pid] = index
    return _History(last_met, times, component, graph)


def active_pool(
    data: RoundData, round_number: int, exclude: Iterable[str] = ()
) -> tuple[list[str], list[tuple[str, str]]]:
    """Who takes part in round N (sorted ids) and who is left out and why.

    People come from people.yaml (``active`` true, ``joined`` at most N, not excluded).
    A site without people.yaml falls back to everyone seen in an earlier round.
    """
    excluded = set(exclude)
    pool: list[str] = []
    left_out: list[tuple[str, str]] = []
    if data.people:
        candidates = {pid: (p.active, p.joined) for pid, p in data.people.items()}
    else:
        seen = {pid for rnd in data.rounds if rnd.number < round_number for pid in rnd.participants()}
        candidates = {pid: (True, None) for pid in seen}
    for pid in sorted(candidates):
        active, joined = candidates[pid]
        if pid in excluded:
            left_out.append((pid, "excluded"))
        elif not active:
            left_out.append((pid, "inactive"))
        elif joined is not None and joined > round_number:
            left_out.append((pid, f"joins in round {joined}"))
        else:
            pool.append(pid)
    return pool, left_out


# --- weights ---


@dataclass(frozen=True)
class _Weights:
    """Which pairs are new, and how much the matching wants each pair.

    The blossom algorithm slows down sharply with many distinct weights (a per-pair random
    tiebreak makes 1,000 people 20x slower), so weights take a few integer levels and the
    seeded tiebreak is the order in which people are fed to it.
    """

    orgs: Mapping[str, str | None]
    history: _History
    round_number: int

    def new(self, a: str, b: str) -> bool:
        return frozenset((a, b)) not in self.history.last_met

    def cross_org(self, a: str, b: str) -> bool:
        oa, ob = self.orgs.get(a), self.orgs.get(b)
        return oa is not None and ob is not None and oa != ob

    def bridging(self, a: str, b: str) -> bool:
        comp = self.history.component
        return a not in comp or b not in comp or comp[a] != comp[b]

    def preference(self, a: str, b: str) -> int:
        """1 for a new pair, plus 1 across organisations, plus 1 across components; 0 for a repeat."""
        if not self.new(a, b):
            return 0
        return 1 + int(self.cross_org(a, b)) + int(self.bridging(a, b))

    def recency(self, a: str, b: str) -> int:
        """Rounds since a repeat pair last met (higher is better); 0 for a new pair."""
        last = self.history.last_met.get(frozenset((a, b)))
        return 0 if last is None else self.round_number - last


def _weights(data: RoundData, pool: Sequence[str], history: _History, round_number: int) -> _Weights:
    orgs = {pid: (data.people[pid].organisation if pid in data.people else None) for pid in pool}
    return _Weights(orgs, history, round_number)


# --- matching ---


def _matching(graph: nx.Graph) -> list[Pair]:
    pairs = nx.max_weight_matching(graph, maxcardinality=True)
    return sorted(tuple(sorted(p)) for p in pairs)  # type: ignore[misc]


def _new_pairs_graph(people: Sequence[str], weights: _Weights, rng: random.Random | None) -> nx.Graph:
    """New pairs only, weighted by preference: all of them, or ``SAMPLE_PARTNERS`` per person."""
    graph = nx.Graph()
    graph.add_nodes_from(people)
    for i, a in enumerate(people):
        others = people[i + 1 :] if rng is None else rng.sample(people, min(SAMPLE_PARTNERS + 1, len(people)))
        for b in others:
            if a != b and weights.new(a, b):
                graph.add_edge(a, b, weight=weights.preference(a, b))
    return graph


def _leftover_graph(people: Sequence[str], weights: _Weights) -> nx.Graph:
    """Everyone with everyone: a new pair beats any repeat; among repeats the least recent wins."""
    top = (len(people) // 2 + 1) * (weights.round_number + 1)
    graph = nx.Graph()
    graph.add_nodes_from(people)
    for a, b in itertools.combinations(people, 2):
        score = top + weights.preference(a, b) if weights.new(a, b) else weights.recency(a, b)
        graph.add_edge(a, b, weight=score)
    return graph


def _pair_everyone(people: Sequence[str], weights: _Weights, rng: random.Random) -> list[Pair]:
    """A maximum matching of ``people`` (all but one when odd) with as few repeats as possible.

    First as many new pairs as possible: exactly up to ``FULL_LIMIT`` people; above it in
    blocks of ``FULL_LIMIT`` with ``SAMPLE_PARTNERS`` sampled partners each (the blossom
    algorithm is roughly cubic, so 5,000 people in one piece take ~25 s, in blocks a few).
    The few people left over are then paired among themselves, which needs a repeat only
    where no new pair is left (least recent partners first).
    """
    remaining = list(people)
    pairs: list[Pair] = []
    while len(remaining) > FULL_LIMIT:
        found = []
        for start in range(0, len(remaining), FULL_LIMIT):
            block = remaining[start : start + FULL_LIMIT]
            found.extend(_matching(_new_pairs_graph(block, weights, rng)))
        if not found:
            break
        pairs.extend(found)
        matched = {pid for pair in found for pid in pair}
        remaining = [pid for pid in remaining if pid not in matched]
    if len(remaining) <= FULL_LIMIT:
        found = _matching(_new_pairs_graph(remaining, weights, None))
        pairs.extend(found)
        matched = {pid for pair in found for pid in pair}
        remaining = [pid for pid in remaining if pid not in matched]
    if len(remaining) > 1:
        pairs.extend(_matching(_leftover_graph(remaining, weights)))
    return sorted(pairs)


def _repeats_in(group: Sequence[str], weights: _Weights) -> int:
    return sum(1 for a, b in itertools.combinations(group, 2) if not weights.new(a, b))


def _score(groups: Sequence[Sequence[str]], weights: _Weights) -> tuple[int, int, int]:
    """Fewer repeats first, then preference, then (for repeats) recency: higher is better."""
    edges = [e for g in groups for e in itertools.combinations(g, 2)]
    return (
        -sum(1 for a, b in edges if not weights.new(a, b)),
        sum(weights.preference(a, b) for a, b in edges),
        sum(weights.recency(a, b) for a, b in edges),
    )


def _odd_one_out(
    people: Sequence[str], pairs: list[Pair], weights: _Weights, rng: random.Random
) -> tuple[list[tuple[str, ...]], list[Pair]]:
    """Fold the one unmatched person into a pair, forming the round's triad.

    The matching decides who is left over; if that person cannot join any pair without
    a repeat, small groups (up to ``EXACT_ODD_LIMIT``) try every possible triad with the
    best matching of the rest, so a repeat-free grouping is found whenever one exists.
    """
    matched = {pid for pair in pairs for pid in pair}
    odd = next(pid for pid in people if pid not in matched)
    host = max(pairs, key=lambda p: _score([(odd, p[0]), (odd, p[1])], weights))  # what joining adds
    triad = (odd, *host)
    if _repeats_in(triad, weights) == _repeats_in(host, weights) or len(people) > EXACT_ODD_LIMIT:
        return [triad], [p for p in pairs if p != host]
    best: tuple[tuple[int, int, int], tuple[str, ...], list[Pair]] | None = None
    for candidate in itertools.combinations(people, 3):
        rest = _pair_everyone([pid for pid in people if pid not in candidate], weights, rng)
        score = _score([candidate, *rest], weights)
        if best is None or score > best[0]:
            best = (score, candidate, rest)
    assert best is not None
    return [best[1]], best[2]


def _group(people: Sequence[str], weights: _Weights, seed: int) -> list[tuple[str, ...]]:
    """Everyone in pairs (one triad when odd); the seed shuffles who is considered first."""
    rng = random.Random(seed)
    order = list(people)
    rng.shuffle(order)
    if len(order) < 2:
        return []
    if len(order) == 3:
        return [tuple(sorted(order))]
    pairs = _pair_everyone(order, weights, rng)
    triads: list[tuple[str, ...]] = []
    if len(order) % 2:
        triads, pairs = _odd_one_out(order, pairs, weights, rng)
    return sorted((tuple(sorted(g)) for g in [*pairs, *triads]), key=lambda g: (len(g), g))


# --- explaining the proposal ---


def _least_recent(pid: str, pool: Sequence[str], history: _History) -> int | None:
    rounds = [
        history.last_met[frozenset((pid, o))] for o in pool if o != pid and frozenset((pid, o)) in history.last_met
    ]
    return min(rounds) if rounds else None


def _explain(a: str, b: str, pool: Sequence[str], history: _History) -> Repeat:
    key = frozenset((a, b))
    last = history.last_met[key]
    met_all = [pid for pid in (a, b) if all(frozenset((pid, o)) in history.last_met for o in pool if o != pid)]
    least = [pid for pid in (a, b) if _least_recent(pid, pool, history) == last]
    when = f"last met in round {last}" + (f", {history.times[key]} times so far" if history.times[key] > 1 else "")
    if met_all:
        who = " and ".join(met_all)
        verb = "have" if len(met_all) > 1 else "has"
        why = f"{who} {verb} already met everyone taking part this round"
    else:
        why = "no grouping of this round's people avoids every repeat"
    if least:
        why += f"; a least recent partner ({when})"
    else:
        why += f"; the least recent repeat that fits the rest of the round ({when})"
    return Repeat((a, b), last, history.times[key], why)


def _quality(groups: Sequence[tuple[str, ...]], weights: _Weights, history: _History) -> Quality:
    edges = [(a, b) for g in groups for a, b in itertools.combinations(g, 2)]
    known = [(a, b) for a, b in edges if weights.orgs.get(a) and weights.orgs.get(b)]
    before = history.graph.copy()
    before.add_nodes_from(pid for g in groups for pid in g)
    after = before.copy()
    after.add_edges_from(edges)
    return Quality(
        people=sum(len(g) for g in groups),
        pairs=sum(1 for g in groups if len(g) == 2),
        triads=sum(1 for g in groups if len(g) == 3),
        repeats=sum(1 for a, b in edges if not weights.new(a, b)),
        cross_org=sum(1 for a, b in known if weights.cross_org(a, b)),
        known_org=len(known),
        bridging=sum(1 for a, b in edges if weights.bridging(a, b)),
        components_before=nx.number_connected_components(before),
        components_after=nx.number_connected_components(after),
        largest_before=max((len(c) for c in nx.connected_components(before)), default=0),
        largest_after=max((len(c) for c in nx.connected_components(after)), default=0),
    )


# --- the public API ---


def check_round_number(data: RoundData, round_number: int) -> None:
    """Round N must be the next one: N = last round + 1 (or 1 for a new scheme)."""
    existing = {rnd.number: rnd for rnd in data.rounds}
    if round_number in existing:
        rnd = existing[round_number]
        raise SiteError(
            rnd.path,
            rnd.line,
            f"round {round_number} already exists",
            f"propose the next round instead: --round {max(existing) + 1}",
        )
    expected = max(existing, default=0) + 1
    if round_number != expected:
        where = data.rounds[-1].path if data.rounds else ROUNDS_DIR
        line = data.rounds[-1].line if data.rounds else None
        raise SiteError(
            where,
            line,
            f"round {round_number} is not the next round (the next round is {expected})",
            f"use --round {expected}",
        )


def propose(data: RoundData, round_number: int, seed: int = 0, exclude: Iterable[str] = ()) -> Proposal:
    """Round N's groups from the history of rounds before N; raises SiteError if it cannot."""
    if round_number < 1:
        raise SiteError(ROUNDS_DIR, None, f"round must be a positive whole number, not {round_number}")
    pool, left_out = active_pool(data, round_number, exclude)
    if len(pool) < 2:
        raise SiteError(
            PEOPLE_FILE,
            None,
            f"round {round_number} has {len(pool)} active participant(s); at least 2 are needed",
            "mark people 'active: true' in data/people.yaml or drop them from --exclude",
        )
    history = _history(data, round_number)
    weights = _weights(data, pool, history, round_number)
    groups = _group(pool, weights, seed)
    repeats = tuple(
        _explain(a, b, pool, history) for g in groups for a, b in itertools.combinations(g, 2) if not weights.new(a, b)
    )
    names = {pid: data.people[pid].name or pid for pid in pool if pid in data.people}
    return Proposal(
        round_number, seed, tuple(groups), repeats, tuple(left_out), _quality(groups, weights, history), names
    )


def format_round_yaml(proposal: Proposal, date: datetime.date) -> str:
    """The proposal as a round file in the SPEC §3 format (ids quoted by YAML where needed)."""
    header = (
        f"# Proposed by 'netjournal match --round {proposal.round_number} --seed {proposal.seed}'.\n"
        "# A conversation that did not happen: write the group as {people: [a, b], met: false}.\n"
    )
    body = {
        "round": proposal.round_number,
        "date": date,
        "title": f"Round {proposal.round_number}",
        "pairs": [list(g) for g in proposal.groups],
    }
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, default_flow_style=None, width=1000)
    return header + text


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{round(value * 100)}%"


def format_proposal(proposal: Proposal) -> str:
    """What the organiser reads in the terminal: the groups, the repeats and a quality summary."""
    q = proposal.quality
    lines = [
        f"Round {proposal.round_number} (seed {proposal.seed}): {q.people} people in "
        f"{q.pairs} pair{'s' if q.pairs != 1 else ''} and {q.triads} triad{'s' if q.triads != 1 else ''}",
        "",
    ]
    for group in proposal.groups:
        ids = ", ".join(group)
        names = " · ".join(proposal.names.get(pid, pid) for pid in group)
        lines.append(f"  - [{ids}]    # {names}")
    lines.append("")
    lines.append(
        f"Repeats: {q.repeats}.  Cross-organisation: {_share(q.cross_org_share)} "
        f"({q.cross_org} of {q.known_org} pairs with known organisations).  "
        f"Joining separate components: {q.bridging} pair{'s' if q.bridging != 1 else ''}; "
        f"components {q.components_before} -> {q.components_after}, "
        f"largest {q.largest_before} -> {q.largest_after} people if every group meets."
    )
    for rep in proposal.repeats:
        lines.append(f"  repeat {rep.people[0]} + {rep.people[1]}: {rep.reason}")
    if proposal.left_out:
        lines.append("Left out: " + ", ".join(f"{pid} ({why})" for pid, why in proposal.left_out))
    return "\n".join(lines)


def write_round(source: Path, proposal: Proposal, date: datetime.date) -> Path:
    """Save data/rounds/round-N.yaml, never overwriting a file; the text is validated first."""
    relative = f"{ROUNDS_DIR}/round-{proposal.round_number}.yaml"
    target = source / relative
    text = format_round_yaml(proposal, date)
    load_round_data(None, [(relative, text)])  # a proposal we cannot read back is a bug, not a file
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with target.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise SiteError(
            relative, None, "file already exists; not overwriting it", "move it away or pick another round"
        ) from None
    return target


def _exclusions(text: str, data: RoundData) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [pid for pid in ids if data.people and pid not in data.people]
    if unknown:
        raise SiteError(
            PEOPLE_FILE,
            None,
            f"--exclude names unknown id(s): {', '.join(unknown)}",
            "use ids from data/people.yaml",
        )
    return ids


def main_match(args: argparse.Namespace, today: datetime.date | None = None) -> int:
    """``netjournal match``: print the proposal; with --write also save the round file."""
    from .sources import read_sources

    sources = read_sources(args.source)
    data = load_round_data(sources.people, list(sources.rounds))
    check_round_number(data, args.round_number)
    if args.write and (args.source / ROUNDS_DIR / f"round-{args.round_number}.yaml").exists():
        raise SiteError(
            f"{ROUNDS_DIR}/round-{args.round_number}.yaml",
            None,
            "file already exists; not overwriting it",
            "move it away or pick another round",
        )
    proposal = propose(data, args.round_number, args.seed, _exclusions(args.exclude or "", data))
    print(format_proposal(proposal))
    if args.write:
        path = write_round(args.source, proposal, today or datetime.date.today())
        print(f"\nWrote {path}")
    else:
        print(f"\nNothing written; add --write to save {ROUNDS_DIR}/round-{args.round_number}.yaml")
    return 0


__all__ = [
    "Proposal",
    "Quality",
    "Repeat",
    "active_pool",
    "check_round_number",
    "format_proposal",
    "format_round_yaml",
    "main_match",
    "propose",
    "write_round",
]

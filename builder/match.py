"""Propose the next round's groups (``netjournal match``).

The organiser wants pairs that have never met, across organisations, that knit
separate parts of the network together, and a proposal they can reproduce. Like the
tools that do this for real schemes, it is one maximum-weight matching
(``networkx.max_weight_matching`` with ``maxcardinality=True``) over candidate pairs:

* a pair that has never met weighs ``BASE`` plus a cross-organisation bonus, a
  different-component bonus and a seeded tiebreak; ``BASE`` is larger than all bonuses
  of a whole matching together, so the matching has as few repeat pairs as possible;
* a repeat pair weighs a little (more the longer ago they last met), so when a repeat
  cannot be avoided the least recent partners are chosen, and every repeat is flagged;
* an odd count leaves one person over, who joins the pair they can join without a
  repeat (searched exhaustively for small groups, see :func:`_odd_one_out`).

Above ``FULL_LIMIT`` people each person gets ``SAMPLE_PARTNERS`` sampled candidate
partners (blossom on all pairs of 1,000 people takes ~6 s; sampled, well under 1 s).

Everything but :func:`main_match` is pure: values in, values out.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import yaml

from .errors import SiteError
from .rounds import RoundData, load_round_data

#: Up to this many people every pair is a candidate; above it partners are sampled.
FULL_LIMIT = 400
#: Candidate partners sampled per person above FULL_LIMIT.
SAMPLE_PARTNERS = 16
#: Up to this many people the odd person's triad is searched over every possible triad.
EXACT_ODD_LIMIT = 13
#: Range of the seeded tiebreak added to each candidate pair.
TIEBREAK = 1000

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
    """Integer weights (exact arithmetic in the blossom algorithm) for one round."""

    bonus: int  # one cross-organisation or different-component bonus
    base: int  # a new pair; exceeds every bonus, tiebreak and repeat weight of a matching summed
    orgs: Mapping[str, str | None]
    history: _History
    round_number: int
    seed: int

    def new(self, a: str, b: str) -> bool:
        return frozenset((a, b)) not in self.history.last_met

    def cross_org(self, a: str, b: str) -> bool:
        oa, ob = self.orgs.get(a), self.orgs.get(b)
        return oa is not None and ob is not None and oa != ob

    def bridging(self, a: str, b: str) -> bool:
        comp = self.history.component
        return a not in comp or b not in comp or comp[a] != comp[b]

    def pair(self, a: str, b: str) -> int:
        """The weight of grouping a with b."""
        key = frozenset((a, b))
        tie = _tiebreak(self.seed, a, b)
        last = self.history.last_met.get(key)
        if last is not None:  # the longer ago, the better a repeat
            return 1 + tie + self.bonus * (self.round_number - last)
        extra = self.bonus * (int(self.cross_org(a, b)) + int(self.bridging(a, b)))
        return self.base + extra + tie


def _weights(
    data: RoundData, pool: Sequence[str], history: _History, round_number: int, seed: int
) -> _Weights:
    groups = len(pool) // 2 + 1
    bonus = TIEBREAK * groups  # the tiebreaks of a whole matching never outweigh one bonus
    base = groups * bonus * (round_number + 3) + 1
    orgs = {pid: (data.people[pid].organisation if pid in data.people else None) for pid in pool}
    return _Weights(bonus, base, orgs, history, round_number, seed)


def _tiebreak(seed: int, a: str, b: str) -> int:
    """A seeded pseudo-random number per pair, the same whatever order pairs are asked in."""
    low, high = sorted((a, b))
    digest = hashlib.blake2b(f"{seed}\0{low}\0{high}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % TIEBREAK


# --- matching ---


def _matching(graph: nx.Graph) -> list[Pair]:
    pairs = nx.max_weight_matching(graph, maxcardinality=True)
    return sorted(tuple(sorted(p)) for p in pairs)  # type: ignore[misc]


def _full_graph(people: Sequence[str], weights: _Weights) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(people)
    for a, b in itertools.combinations(people, 2):
        graph.add_edge(a, b, weight=weights.pair(a, b))
    return graph


def _sampled_graph(people: Sequence[str], weights: _Weights, rng: random.Random) -> nx.Graph:
    """New pairs only, ``SAMPLE_PARTNERS`` random candidates per person (plus those who chose them)."""
    graph = nx.Graph()
    graph.add_nodes_from(people)
    for a in people:
        for b in rng.sample(people, min(SAMPLE_PARTNERS + 1, len(people))):
            if a != b and weights.new(a, b):
                graph.add_edge(a, b, weight=weights.pair(a, b))
    return graph


def _pair_everyone(people: Sequence[str], weights: _Weights, rng: random.Random) -> list[Pair]:
    """A maximum matching of ``people`` (all but one when odd) with as few repeats as possible."""
    remaining = list(people)
    pairs: list[Pair] = []
    while len(remaining) > FULL_LIMIT:
        found = _matching(_sampled_graph(remaining, weights, rng))
        if not found:
            break
        pairs.extend(found)
        matched = {pid for pair in found for pid in pair}
        remaining = [pid for pid in remaining if pid not in matched]
    pairs.extend(_matching(_full_graph(remaining, weights)))
    return sorted(pairs)


def _repeats_in(group: Sequence[str], weights: _Weights) -> int:
    return sum(1 for a, b in itertools.combinations(group, 2) if not weights.new(a, b))


def _group_weight(group: Sequence[str], weights: _Weights) -> int:
    return sum(weights.pair(a, b) for a, b in itertools.combinations(group, 2))


def _best_triad(odd: str, pairs: Sequence[Pair], weights: _Weights) -> tuple[int, int, Pair]:
    """The pair the odd person should join: fewest repeats, then highest weight."""
    best = max(
        pairs,
        key=lambda p: (
            -_repeats_in((odd, *p), weights) + _repeats_in(p, weights),
            _group_weight((odd, *p), weights),
        ),
    )
    added = _repeats_in((odd, *best), weights) - _repeats_in(best, weights)
    return added, _group_weight((odd, *best), weights), best


def _odd_one_out(
    people: Sequence[str], pairs: list[Pair], weights: _Weights
) -> tuple[list[tuple[str, ...]], list[Pair]]:
    """Fold the one unmatched person into a pair, forming the round's triad.

    The matching decides who is left over; if that person cannot join any pair without
    a repeat, small groups (up to ``EXACT_ODD_LIMIT``) try every possible triad with the
    best matching of the rest, so a repeat-free grouping is found whenever one exists.
    """
    matched = {pid for pair in pairs for pid in pair}
    odd = next(pid for pid in people if pid not in matched)
    added, _, host = _best_triad(odd, pairs, weights)
    if added == 0 or len(people) > EXACT_ODD_LIMIT:
        rest = [p for p in pairs if p != host]
        return [tuple(sorted((odd, *host)))], rest
    best: tuple[int, int, tuple[str, ...], list[Pair]] | None = None
    for triad in itertools.combinations(people, 3):
        others = [pid for pid in people if pid not in triad]
        rest = _matching(_full_graph(others, weights))
        repeats = _repeats_in(triad, weights) + sum(_repeats_in(p, weights) for p in rest)
        total = _group_weight(triad, weights) + sum(weights.pair(*p) for p in rest)
        if best is None or (repeats, -total) < (best[0], -best[1]):
            best = (repeats, total, triad, rest)
    assert best is not None
    return [best[2]], best[3]


def _group(people: Sequence[str], weights: _Weights, seed: int) -> list[tuple[str, ...]]:
    if len(people) < 2:
        return []
    if len(people) == 3:
        return [tuple(people)]
    pairs = _pair_everyone(people, weights, random.Random(seed))
    triads: list[tuple[str, ...]] = []
    if len(people) % 2:
        triads, pairs = _odd_one_out(people, pairs, weights)
    return sorted([*pairs, *triads], key=lambda g: (len(g), g))


# --- explaining the proposal ---


def _least_recent(pid: str, pool: Sequence[str], history: _History) -> int | None:
    rounds = [
        history.last_met[frozenset((pid, o))]
        for o in pool
        if o != pid and frozenset((pid, o)) in history.last_met
    ]
    return min(rounds) if rounds else None


def _explain(a: str, b: str, pool: Sequence[str], history: _History) -> Repeat:
    key = frozenset((a, b))
    last = history.last_met[key]
    met_all = [
        pid for pid in (a, b) if all(frozenset((pid, o)) in history.last_met for o in pool if o != pid)
    ]
    least = [pid for pid in (a, b) if _least_recent(pid, pool, history) == last]
    when = f"last met in round {last}" + (
        f", {history.times[key]} times so far" if history.times[key] > 1 else ""
    )
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
    weights = _weights(data, pool, history, round_number, seed)
    groups = _group(pool, weights, seed)
    repeats = tuple(
        _explain(a, b, pool, history)
        for g in groups
        for a, b in itertools.combinations(g, 2)
        if not weights.new(a, b)
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

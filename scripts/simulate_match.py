"""Simulate rounds of a scheme: ``netjournal match`` against a seeded random pairing.

A generated population (default 60 people in 8 organisations of unequal size) starts
with two thirds of its people; the rest join over the following rounds, a few people
leave for good, and each round about one in ten active people sits the round out. The
two strategies see exactly the same people every round, and each keeps its own history.
Per round it reports repeats (and the fewest possible, from a maximum matching of the
pairs who have not met), the cross-organisation share, and the largest component of
the cumulative network. Prints a Markdown table.

    python scripts/simulate_match.py [--people 60] [--orgs 8] [--rounds 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder.match import active_pool, propose
from builder.rounds import Group, Person, Round, RoundData

Groups = list[tuple[str, ...]]


@dataclass
class Population:
    """Who exists, their organisation, when they join and when (if ever) they leave."""

    orgs: dict[str, str]
    joined: dict[str, int]
    left: dict[str, int]
    skips: dict[int, set[str]]


def make_population(people: int, orgs: int, rounds: int, seed: int) -> Population:
    rng = random.Random(seed)
    ids = [f"p{i:03d}" for i in range(people)]
    sizes = [rng.uniform(0.5, 2.0) for _ in range(orgs)]  # organisations of unequal size
    org_of = {pid: f"org{rng.choices(range(orgs), sizes)[0] + 1}" for pid in ids}
    founders = (2 * people) // 3
    joined = {pid: 1 for pid in ids[:founders]}
    late = ids[founders:]
    for i, pid in enumerate(late):  # spread the joiners over rounds 2 .. rounds//2 + 1
        joined[pid] = 2 + (i * (rounds // 2)) // max(1, len(late))
    left: dict[str, int] = {}
    for pid in rng.sample(ids, people // 10):  # one in ten leaves for good, some time after joining
        if joined[pid] + 2 <= rounds:
            left[pid] = rng.randint(joined[pid] + 2, rounds)
    skips = {k: {pid for pid in ids if rng.random() < 0.1} for k in range(1, rounds + 1)}
    return Population(org_of, joined, left, skips)


def people_at(pop: Population, k: int) -> dict[str, Person]:
    """people.yaml as the organiser would keep it before round k."""
    return {
        pid: Person(pid, None, org, None, False, pop.joined[pid], pid not in pop.left or pop.left[pid] > k, 1)
        for pid, org in pop.orgs.items()
    }


def random_groups(pool: Sequence[str], rng: random.Random) -> Groups:
    order = list(pool)
    rng.shuffle(order)
    groups: Groups = [tuple(order[i : i + 2]) for i in range(0, len(order) - 1, 2)]
    if len(order) % 2 and groups:
        groups[-1] = (*groups[-1], order[-1])
    return groups


def edges(groups: Groups) -> list[tuple[str, str]]:
    return [e for g in groups for e in itertools.combinations(g, 2)]


@dataclass
class World:
    """One strategy's history."""

    rounds: list[Round]
    graph: nx.Graph

    def met(self) -> set[frozenset[str]]:
        return {frozenset(e) for e in self.graph.edges}

    def add(self, k: int, groups: Groups) -> None:
        date = datetime.date(2020, 1, 1) + datetime.timedelta(weeks=4 * k)
        self.rounds.append(Round(k, date, f"Round {k}", tuple(Group(g, True, 1) for g in groups), (), "", 1))
        self.graph.add_nodes_from(p for g in groups for p in g)
        self.graph.add_edges_from(edges(groups))


def _uncovered(people: Sequence[str], met: set[frozenset[str]]) -> int:
    """People a maximum matching of never-met pairs leaves without a new partner."""
    graph = nx.Graph()
    graph.add_nodes_from(people)
    graph.add_edges_from(e for e in itertools.combinations(people, 2) if frozenset(e) not in met)
    return len(people) - 2 * len(nx.max_weight_matching(graph, maxcardinality=True))


def fewest_repeats(pool: Sequence[str], met: set[frozenset[str]]) -> tuple[int, bool]:
    """The fewest repeat pairs any grouping of ``pool`` can have, and whether that is exact.

    Even count: everyone a maximum matching of new pairs cannot cover must repeat (exact).
    Odd count: exact by trying every triad up to 15 people; above that a lower bound
    (one person joins a triad, assumed without a repeat).
    """
    if len(pool) % 2 == 0:
        return _uncovered(pool, met) // 2, True
    if len(pool) > 15:
        return (_uncovered(pool, met) - 1) // 2, False
    best = None
    for triad in itertools.combinations(pool, 3):
        rest = [p for p in pool if p not in triad]
        repeats = sum(1 for e in itertools.combinations(triad, 2) if frozenset(e) in met)
        total = repeats + _uncovered(rest, met) // 2
        best = total if best is None else min(best, total)
    return best or 0, True


def measure(groups: Groups, world: World, orgs: dict[str, str]) -> tuple[int, float]:
    """Repeat pairs (against this world's history) and the cross-organisation share of pairs."""
    met = world.met()
    pairs = edges(groups)
    repeats = sum(1 for e in pairs if frozenset(e) in met)
    cross = sum(1 for a, b in pairs if orgs[a] != orgs[b]) / len(pairs)
    return repeats, cross


def largest(world: World) -> int:
    return max((len(c) for c in nx.connected_components(world.graph)), default=0)


def simulate(people: int, orgs: int, rounds: int, seed: int) -> list[dict[str, object]]:
    pop = make_population(people, orgs, rounds, seed)
    ours, rand = World([], nx.Graph()), World([], nx.Graph())
    rng = random.Random(seed + 1)
    rows = []
    for k in range(1, rounds + 1):
        people_k = people_at(pop, k)
        data = RoundData(people_k, tuple(ours.rounds))
        pool, _ = active_pool(data, k, pop.skips[k])
        started = time.perf_counter()
        proposal = propose(data, k, seed=k, exclude=pop.skips[k])
        seconds = time.perf_counter() - started
        ours_groups = list(proposal.groups)
        rand_groups = random_groups(pool, rng)
        row: dict[str, object] = {"round": k, "people": len(pool), "seconds": seconds}
        row["fewest"], row["exact"] = fewest_repeats(pool, ours.met())
        row["ours_repeats"], row["ours_cross"] = measure(ours_groups, ours, pop.orgs)
        row["rand_repeats"], row["rand_cross"] = measure(rand_groups, rand, pop.orgs)
        assert row["ours_repeats"] == proposal.quality.repeats
        row["exact"] = row["exact"] or row["ours_repeats"] == row["fewest"]  # a lower bound reached is the minimum
        ours.add(k, ours_groups)
        rand.add(k, rand_groups)
        row["ours_largest"], row["rand_largest"] = largest(ours), largest(rand)
        row["seen"] = ours.graph.number_of_nodes()
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    head = (
        "| Round | People | Repeats: match (fewest possible) | Repeats: random | Cross-org: match | "
        "Cross-org: random | Largest component: match | Largest component: random |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for r in rows:
        lines.append(
            f"| {r['round']} | {r['people']} | "
            f"{r['ours_repeats']} ({'' if r['exact'] else '≥ '}{r['fewest']}) | "
            f"{r['rand_repeats']} | "
            f"{r['ours_cross']:.0%} | {r['rand_cross']:.0%} | {r['ours_largest']} of {r['seen']} | "
            f"{r['rand_largest']} of {r['seen']} |"
        )
    return head + "\n".join(lines)


def summary(rows: list[dict[str, object]]) -> str:
    def total(key: str) -> float:
        return sum(float(r[key]) for r in rows)  # type: ignore[arg-type]

    n = len(rows)
    first_full = {
        who: next((r["round"] for r in rows if r[f"{who}_largest"] == r["seen"]), "never") for who in ("ours", "rand")
    }
    return (
        f"Repeats over {n} rounds: match {total('ours_repeats'):.0f} "
        f"(fewest possible {total('fewest'):.0f}), "
        f"random {total('rand_repeats'):.0f}. Mean cross-organisation share: match "
        f"{total('ours_cross') / n:.0%}, random {total('rand_cross') / n:.0%}. Everyone seen so far in one "
        f"component from round: match {first_full['ours']}, random {first_full['rand']}. "
        f"Slowest proposal: {max(float(r['seconds']) for r in rows):.2f} s."  # type: ignore[arg-type]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=60)
    parser.add_argument("--orgs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rows = simulate(args.people, args.orgs, args.rounds, args.seed)
    print(markdown(rows))
    print()
    print(summary(rows))
    bad = [r["round"] for r in rows if r["exact"] and r["ours_repeats"] != r["fewest"]]
    if bad:
        print(f"match made avoidable repeats in rounds {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

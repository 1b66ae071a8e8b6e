"""netjournal match: no avoidable repeats, preferences, determinism, the pool, the round file, the CLI."""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from builder import match
from builder.cli import main
from builder.errors import SiteError
from builder.match import format_round_yaml, propose, write_round
from builder.rounds import Group, Person, Round, RoundData, load_round_data

DAY = datetime.date(2024, 1, 1)


def person(pid: str, org: str | None = None, *, active: bool = True, joined: int | None = None) -> Person:
    return Person(pid, pid.upper(), org, None, False, joined, active, 1)


def make_data(people: Sequence[Person], rounds: Sequence[Sequence[Sequence[str]]], met: bool = True) -> RoundData:
    """Rounds 1..k, each a list of groups (every group met unless ``met`` is False)."""
    return RoundData(
        people={p.id: p for p in people},
        rounds=tuple(
            Round(k, DAY, f"Round {k}", tuple(Group(tuple(g), met, 1) for g in groups), (), f"r{k}.yaml", 1)
            for k, groups in enumerate(rounds, start=1)
        ),
    )


def met_pairs(data: RoundData) -> set[frozenset[str]]:
    return {frozenset(e) for r in data.rounds for g in r.groups if g.met for e in itertools.combinations(g.people, 2)}


def repeats_of(groups: Sequence[Sequence[str]], met: set[frozenset[str]]) -> int:
    return sum(1 for g in groups for e in itertools.combinations(g, 2) if frozenset(e) in met)


def groupings(people: Sequence[str]) -> Iterator[list[tuple[str, ...]]]:
    """Every way to split people into pairs, with one triad when the count is odd (brute force)."""
    if not people:
        yield []
        return
    first, rest = people[0], people[1:]
    sizes = (1, 2) if len(people) % 2 else (1,)
    for size in sizes:
        for partners in itertools.combinations(rest, size):
            others = [p for p in rest if p not in partners]
            if size == 2 and len(others) % 2:
                continue
            for tail in groupings(others) if size == 1 else pairings(others):
                yield [(first, *partners), *tail]


def pairings(people: Sequence[str]) -> Iterator[list[tuple[str, ...]]]:
    if not people:
        yield []
        return
    first, rest = people[0], people[1:]
    for i, partner in enumerate(rest):
        for tail in pairings(rest[:i] + rest[i + 1 :]):
            yield [(first, partner), *tail]


def check_shape(groups: Sequence[tuple[str, ...]], pool: Sequence[str]) -> None:
    flat = [p for g in groups for p in g]
    assert sorted(flat) == sorted(pool)
    sizes = sorted(len(g) for g in groups)
    assert all(s == 2 for s in sizes[:-1]) and sizes[-1] == (3 if len(pool) % 2 else 2)


# --- the core guarantee ---


@st.composite
def histories(draw: st.DrawFn) -> tuple[RoundData, int]:
    n = draw(st.integers(min_value=2, max_value=9))
    ids = [f"p{i}" for i in range(n)]
    orgs = draw(st.lists(st.sampled_from(["A", "B", "C", None]), min_size=n, max_size=n))
    rounds = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        order = draw(st.permutations(ids))
        present = order[: draw(st.integers(min_value=2, max_value=n))]
        groups = [present[i : i + 2] for i in range(0, len(present) - 1, 2)]
        if len(present) % 2 and len(groups) > 0:
            groups[-1] = [*groups[-1], present[-1]]
        rounds.append(groups)
    people = [person(pid, org) for pid, org in zip(ids, orgs, strict=True)]
    return make_data(people, rounds), draw(st.integers(min_value=0, max_value=2**32))


@settings(max_examples=150, deadline=None)
@given(histories())
def test_repeats_are_the_fewest_possible(case: tuple[RoundData, int]) -> None:
    data, seed = case
    pool = sorted(data.people)
    met = met_pairs(data)
    proposal = propose(data, len(data.rounds) + 1, seed)
    check_shape(proposal.groups, pool)
    fewest = min(repeats_of(g, met) for g in groupings(pool))
    assert repeats_of(proposal.groups, met) == fewest
    assert proposal.quality.repeats == fewest == len(proposal.repeats)
    for rep in proposal.repeats:
        assert frozenset(rep.people) in met and rep.reason


def test_no_repeats_over_many_rounds_of_a_fixed_group() -> None:
    # 12 people can meet everyone in 11 rounds only with a perfect schedule; no repeat while one is possible
    ids = [f"m{i:02d}" for i in range(12)]
    data = make_data([person(p, "ABC"[i % 3]) for i, p in enumerate(ids)], [])
    for k in range(1, 12):
        met = met_pairs(data)
        proposal = propose(data, k, seed=k)
        fewest = min(repeats_of(g, met) for g in pairings(ids)) if proposal.quality.repeats else 0
        assert proposal.quality.repeats == fewest
        data = make_data(
            list(data.people.values()),
            [*[[g.people for g in r.groups] for r in data.rounds], proposal.groups],
        )


def test_sampled_mode_for_large_pools_still_avoids_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(match, "FULL_LIMIT", 20)
    monkeypatch.setattr(match, "SAMPLE_PARTNERS", 4)
    ids = [f"s{i:03d}" for i in range(91)]
    history = [
        [ids[i : i + 2] for i in range(0, 90, 2)],
        [[ids[i], ids[(i + 7) % 90]] for i in range(0, 90, 2)],
    ]
    data = make_data([person(p, f"o{i % 8}") for i, p in enumerate(ids)], history)
    proposal = propose(data, 3, seed=5)
    check_shape(proposal.groups, ids)
    assert proposal.quality.repeats == 0


# --- preferences ---


@pytest.mark.parametrize("seed", range(6))
def test_prefers_pairs_across_organisations(seed: int) -> None:
    data = make_data([person("a", "X"), person("b", "X"), person("c", "Y"), person("d", "Y")], [])
    proposal = propose(data, 1, seed)
    assert all(data.people[a].organisation != data.people[b].organisation for a, b in proposal.groups)
    assert proposal.quality.cross_org == proposal.quality.known_org == 2


@pytest.mark.parametrize("seed", range(6))
def test_prefers_pairs_that_join_separate_components(seed: int) -> None:
    # {a,b,c} and {d,e,f} are two components; a-c and d-f are new but inside a component
    people = [person(p, "same") for p in "abcdef"]
    data = make_data(people, [[("a", "b"), ("d", "e")], [("b", "c"), ("e", "f")]])
    proposal = propose(data, 3, seed)
    sides = {p: p in "abc" for p in "abcdef"}
    assert all(sides[a] != sides[b] for a, b in proposal.groups)
    q = proposal.quality
    assert (q.bridging, q.components_before, q.components_after, q.largest_after) == (3, 2, 1, 6)


def test_quality_counts_match_a_hand_worked_example() -> None:
    people = [person("a", "X"), person("b", "Y"), person("c", None), person("d", "X"), person("e", "Y")]
    data = make_data(people, [[("a", "b")]])
    proposal = propose(data, 2, seed=3)
    q = proposal.quality
    edges = [e for g in proposal.groups for e in itertools.combinations(g, 2)]
    known = [(x, y) for x, y in edges if "c" not in (x, y)]
    assert q.known_org == len(known)
    assert q.cross_org == sum(1 for x, y in known if data.people[x].organisation != data.people[y].organisation)
    assert (q.people, q.pairs, q.triads, q.repeats) == (5, 1, 1, 0)
    assert q.components_before == 4  # {a,b}, c, d, e


# --- determinism, odd counts, unavoidable repeats ---


def test_same_seed_same_proposal_and_seeds_differ() -> None:
    people = [person(f"x{i:02d}", f"o{i % 4}") for i in range(20)]
    data = make_data(people, [])
    first = propose(data, 1, seed=11)
    assert propose(data, 1, seed=11) == first
    shuffled = RoundData(people=dict(reversed(list(data.people.items()))), rounds=data.rounds)
    assert propose(shuffled, 1, seed=11).groups == first.groups  # file order does not matter
    assert len({propose(data, 1, seed=s).groups for s in range(8)}) > 1


@pytest.mark.parametrize("n", [3, 5, 7, 13, 31])
def test_one_triad_when_the_count_is_odd(n: int) -> None:
    data = make_data([person(f"t{i:02d}", f"o{i % 3}") for i in range(n)], [])
    proposal = propose(data, 1, seed=1)
    check_shape(proposal.groups, sorted(data.people))
    assert proposal.quality.triads == 1 and proposal.quality.repeats == 0


def test_someone_who_met_everyone_gets_the_least_recent_partner_and_is_flagged() -> None:
    people = [person(p) for p in "abcd"]
    data = make_data(people, [[("a", "b"), ("c", "d")], [("a", "c"), ("b", "d")], [("a", "d"), ("b", "c")]])
    proposal = propose(data, 4, seed=0)
    assert sorted(proposal.groups) == [("a", "b"), ("c", "d")]
    assert [r.people for r in proposal.repeats] == [("a", "b"), ("c", "d")]
    for rep in proposal.repeats:
        assert rep.last_met == 1
        assert "already met everyone" in rep.reason and "least recent partner" in rep.reason
        assert "round 1" in rep.reason
    assert "repeat a + b" in match.format_proposal(proposal)


def test_a_pair_that_did_not_meet_may_be_proposed_again() -> None:
    data = make_data([person("a"), person("b")], [[("a", "b")]], met=False)
    proposal = propose(data, 2, seed=0)
    assert proposal.groups == (("a", "b"),) and proposal.repeats == ()


# --- who takes part ---


def test_inactive_excluded_and_later_joiners_are_left_out() -> None:
    people = [
        person("a"),
        person("b"),
        person("c", active=False),
        person("d"),
        person("e", joined=3),
        person("f", joined=2),
    ]
    data = make_data(people, [[("a", "b")]])
    proposal = propose(data, 2, seed=0, exclude=["d"])
    assert sorted(p for g in proposal.groups for p in g) == ["a", "b", "f"]
    assert dict(proposal.left_out) == {"c": "inactive", "d": "excluded", "e": "joins in round 3"}
    later = propose(make_data(people, [[("a", "b")], [("a", "f")]]), 3, seed=0)
    assert "e" in {p for g in later.groups for p in g}


def test_without_people_yaml_everyone_seen_takes_part() -> None:
    data = make_data([], [[("a", "b"), ("c", "d")]])
    proposal = propose(data, 2, seed=0)
    assert sorted(p for g in proposal.groups for p in g) == ["a", "b", "c", "d"]
    assert proposal.quality.repeats == 0


def test_fewer_than_two_people_is_an_error() -> None:
    data = make_data([person("a"), person("b", active=False)], [])
    with pytest.raises(SiteError) as info:
        propose(data, 1, seed=0)
    assert info.value.path == "data/people.yaml" and "at least 2" in info.value.message


# --- the round file ---


def test_round_yaml_loads_back_with_the_same_groups() -> None:
    ids = ["007", "yes", "a: b", "Zoë", "null", "x-1", "#hash"]
    data = make_data([person(p, "O" + str(i % 2)) for i, p in enumerate(ids)], [])
    proposal = propose(data, 1, seed=2)
    text = format_round_yaml(proposal, datetime.date(2024, 3, 5))
    loaded = load_round_data(None, [("data/rounds/round-1.yaml", text)])
    (rnd,) = loaded.rounds
    assert rnd.number == 1 and rnd.date == datetime.date(2024, 3, 5) and rnd.title == "Round 1"
    assert tuple(g.people for g in rnd.groups) == proposal.groups
    assert all(g.met for g in rnd.groups)
    assert yaml.safe_load(text)["pairs"] == [list(g) for g in proposal.groups]


def test_write_round_refuses_to_overwrite(tmp_path: Path) -> None:
    data = make_data([person("a"), person("b")], [])
    proposal = propose(data, 1, seed=0)
    path = write_round(tmp_path, proposal, DAY)
    assert path == tmp_path / "data/rounds/round-1.yaml"
    before = path.read_text(encoding="utf-8")
    with pytest.raises(SiteError) as info:
        write_round(tmp_path, proposal, datetime.date(2030, 1, 1))
    assert "not overwriting" in info.value.message
    assert path.read_text(encoding="utf-8") == before


# --- the command line ---


PEOPLE = """\
ana: {name: Ana, organisation: A}
ben: {name: Ben, organisation: B}
cat: {name: Cat, organisation: A}
dan: {name: Dan, organisation: B}
eve: {name: Eve, organisation: C, joined: 2}
fay: {name: Fay, organisation: C, active: false}
"""


def make_site(root: Path) -> Path:
    (root / "data/rounds").mkdir(parents=True)
    (root / "data/people.yaml").write_text(PEOPLE, encoding="utf-8")
    (root / "data/rounds/round-1.yaml").write_text(
        "round: 1\ndate: 2024-01-10\npairs:\n  - [ana, ben]\n  - [cat, dan]\n", encoding="utf-8"
    )
    return root


def test_cli_prints_and_writes_a_round_that_the_site_accepts(tmp_path: Path, capsys) -> None:
    site = make_site(tmp_path)
    assert main(["match", "--source", str(site), "--round", "2", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "Repeats: 0." in out and "fay (inactive)" in out and "Nothing written" in out
    assert not (site / "data/rounds/round-2.yaml").exists()

    assert main(["match", "--source", str(site), "--round", "2", "--seed", "4", "--write"]) == 0
    written = (site / "data/rounds/round-2.yaml").read_text(encoding="utf-8")
    people = ("data/people.yaml", PEOPLE)
    rounds = [
        (f"data/rounds/{p.name}", p.read_text(encoding="utf-8")) for p in sorted((site / "data/rounds").glob("*"))
    ]
    data = load_round_data(people, rounds)
    assert [r.number for r in data.rounds] == [1, 2]
    r2 = data.rounds[1]
    assert sorted(p for g in r2.groups for p in g.people) == ["ana", "ben", "cat", "dan", "eve"]
    assert {frozenset(e) for g in r2.groups for e in itertools.combinations(g.people, 2)}.isdisjoint(
        {frozenset(("ana", "ben")), frozenset(("cat", "dan"))}
    )
    assert main(["check", "--source", str(site)]) == 0

    # run again: the round exists now, and nothing is overwritten
    assert main(["match", "--source", str(site), "--round", "2", "--write"]) == 1
    err = capsys.readouterr().err
    assert "data/rounds/round-2.yaml:3: round 2 already exists" in err
    assert (site / "data/rounds/round-2.yaml").read_text(encoding="utf-8") == written


def test_cli_refuses_to_write_over_anything_in_the_way(tmp_path: Path, capsys) -> None:
    site = make_site(tmp_path)
    (site / "data/rounds/round-2.yaml").mkdir()  # a folder named like the file: not a round, but in the way
    assert main(["match", "--source", str(site), "--round", "2", "--write"]) == 1
    assert "data/rounds/round-2.yaml: file already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--round", "3"], "data/rounds/round-1.yaml:1: round 3 is not the next round (the next round is 2)"),
        (
            ["--round", "2", "--exclude", "ana,nobody"],
            "data/people.yaml: --exclude names unknown id(s): nobody",
        ),
        (
            ["--round", "2", "--exclude", "ana,ben,cat,dan"],
            "data/people.yaml: round 2 has 1 active participant(s)",
        ),
    ],
)
def test_cli_errors_are_file_line_messages(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    site = make_site(tmp_path)
    assert main(["match", "--source", str(site), *argv]) == 1
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err


# --- the evaluation script ---


def test_simulation_never_repeats_when_avoidable_and_beats_random_on_cross_org(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[2] / "scripts" / "simulate_match.py"
    spec = importlib.util.spec_from_file_location("simulate_match", path)
    assert spec is not None and spec.loader is not None
    sim = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "simulate_match", sim)  # dataclasses look their module up
    spec.loader.exec_module(sim)
    rows = sim.simulate(people=60, orgs=8, rounds=20, seed=1)
    assert len(rows) == 20
    assert all(r["ours_repeats"] == r["fewest"] for r in rows)
    assert sum(r["rand_repeats"] for r in rows) > 0  # the comparison is not vacuous
    assert sum(r["ours_cross"] for r in rows) > sum(r["rand_cross"] for r in rows)
    assert {r["people"] for r in rows} != {rows[0]["people"]}  # joiners, leavers and absences vary the pool
    assert "| 20 |" in sim.markdown(rows)
    # a small group runs out of new partners: repeats become unavoidable, and match still makes the fewest
    small = sim.simulate(people=12, orgs=3, rounds=15, seed=1)
    assert all(r["exact"] for r in small) and sum(r["fewest"] for r in small) > 0
    assert [r["ours_repeats"] for r in small] == [r["fewest"] for r in small]

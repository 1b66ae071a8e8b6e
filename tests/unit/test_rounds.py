"""Round data loading: the fixture parses, and every kind of mistake is reported with file:line."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from builder.errors import SiteErrors
from builder.rounds import Group, load_round_data

FIXTURE = Path(__file__).parent.parent / "fixtures" / "rounds" / "basic" / "data"


def load_fixture():
    people = ("data/people.yaml", (FIXTURE / "people.yaml").read_text(encoding="utf-8"))
    rounds = [
        (f"data/rounds/{p.name}", p.read_text(encoding="utf-8")) for p in sorted((FIXTURE / "rounds").glob("*.yaml"))
    ]
    return load_round_data(people, rounds)


def errors_of(rounds, people=None) -> list[str]:
    with pytest.raises(SiteErrors) as info:
        load_round_data(people, rounds)
    return [e.format() for e in info.value]


def test_fixture_parses_people_and_rounds():
    data = load_fixture()
    assert [r.number for r in data.rounds] == [1, 2, 3]
    ana = data.people["ana"]
    assert (ana.name, ana.organisation, ana.public, ana.active, ana.line) == (
        "Ana A",
        "Council A",
        True,
        True,
        2,
    )
    secret = data.people["zz-secret-id"]
    assert secret.public is False and secret.joined == 2 and secret.name == "Quentin Privé"
    assert "gus" not in data.people  # anonymous participants are allowed
    r1, r2, r3 = data.rounds
    assert r1.date == datetime.date(2016, 1, 20) and r1.title == "Round one"
    assert r1.groups[1] == Group(("cat", "dan", "eve"), True, 6)
    assert r1.unmatched == ("fay",)
    assert r2.title == "Round 2"  # default title
    assert r2.groups[1].met is False and r2.groups[1].people == ("cat", "zz-secret-id")
    assert r3.participants() == ("ben", "cat", "gus", "fay", "ana", "eve")


def test_rounds_are_sorted_by_number_not_path():
    a = ("data/rounds/a.yaml", "round: 2\ndate: 2016-02-01\npairs: [[x, y]]\n")
    b = ("data/rounds/b.yaml", "round: 1\ndate: 2016-01-01\npairs: [[x, y]]\n")
    assert [r.number for r in load_round_data(None, [a, b]).rounds] == [1, 2]


def test_integer_ids_are_read_as_text():
    data = load_round_data(None, [("r.yaml", "round: 1\ndate: 2016-01-01\npairs:\n  - [7, 12]\n")])
    assert data.rounds[0].groups[0].people == ("7", "12")


def test_person_in_two_groups_names_both_lines():
    text = "round: 1\ndate: 2016-01-01\npairs:\n  - [a, b]\n  - [c, a]\n"
    assert errors_of([("data/rounds/r1.yaml", text)]) == [
        "data/rounds/r1.yaml:5: 'a' is in two groups of this round (also line 4) "
        "(each person joins at most one group per round)"
    ]


@pytest.mark.parametrize(("group", "count"), [("[a]", 1), ("[a, b, c, d]", 4), ("{people: [a], met: false}", 1)])
def test_group_size_must_be_two_or_three(group, count):
    text = f"round: 1\ndate: 2016-01-01\npairs:\n  - [x, y]\n  - {group}\n"
    (error,) = errors_of([("r.yaml", text)])
    assert error.startswith(f"r.yaml:5: a group must have 2 or 3 people, this one has {count}")


def test_duplicate_round_number_names_both_files():
    one = ("data/rounds/a.yaml", "round: 3\ndate: 2016-01-01\npairs: []\n")
    two = ("data/rounds/b.yaml", "\nround: 3\ndate: 2016-02-01\npairs: []\n")
    errors = errors_of([one, two])
    assert errors[0].startswith("data/rounds/a.yaml:1: round 3 is defined twice: here and in data/rounds/b.yaml:2")
    assert errors[1].startswith("data/rounds/b.yaml:2: round 3 is defined twice: here and in data/rounds/a.yaml:1")


def test_unknown_keys_suggest_the_right_one():
    rounds = [("r.yaml", "round: 1\ndate: 2016-01-01\npairz: []\npairs:\n  - {people: [a, b], mett: false}\n")]
    people = ("people.yaml", "a:\n  name: A\n  organization: X\n")
    errors = errors_of(rounds, people)
    assert any(
        e.startswith("people.yaml:3: unknown key 'organization' in person 'a' (did you mean 'organisation'?")
        for e in errors
    )
    assert any(e.startswith("r.yaml:3: unknown key 'pairz' in round file (did you mean 'pairs'?") for e in errors)
    assert any(e.startswith("r.yaml:5: unknown key 'mett' in group (did you mean 'met'?") for e in errors)


def test_missing_required_keys_are_all_reported():
    errors = errors_of([("r.yaml", "title: nothing else\n")])
    assert [e.split(" (")[0] for e in errors] == [
        "r.yaml:1: missing 'date'",
        "r.yaml:1: missing 'pairs'",
        "r.yaml:1: missing 'round'",
    ]


def test_wrong_types_are_reported_with_lines():
    rounds = [("r.yaml", "round: two\ndate: someday\npairs: {a: b}\n")]
    people = ("people.yaml", "a:\n  public: yes please\n  joined: 0\n  name: [x]\n")
    errors = [e.split(" (")[0] for e in errors_of(rounds, people)]
    assert errors == [
        "people.yaml:2: public must be true or false, not 'yes please'",
        "people.yaml:3: joined must be a round number, not 0",
        "people.yaml:4: name must be text, not a list",
        "r.yaml:1: round must be a positive whole number, not 'two'",
        "r.yaml:2: date must be a date, not 'someday'",
        "r.yaml:3: pairs must be a list of groups",
    ]


def test_met_must_be_boolean():
    (error,) = errors_of([("r.yaml", "round: 1\ndate: 2016-01-01\npairs:\n  - {people: [a, b], met: maybe}\n")])
    assert error.startswith("r.yaml:4: met must be true or false, not 'maybe'")


def test_malformed_yaml_gives_line_and_other_files_still_checked():
    bad = ("data/rounds/bad.yaml", "round: 1\ndate: 2016-01-01\npairs:\n  - [a, b\n")
    other = ("data/rounds/other.yaml", "round: 2\npairs: []\n")
    errors = errors_of([bad, other])
    assert errors[0].startswith("data/rounds/bad.yaml:") and "invalid YAML" in errors[0]
    assert errors[1].startswith("data/rounds/other.yaml:1: missing 'date'")


def test_duplicate_yaml_key_is_reported():
    (error,) = errors_of([("r.yaml", "round: 1\nround: 2\ndate: 2016-01-01\npairs: []\n")])
    assert error.startswith("r.yaml:2: invalid YAML: duplicate key 'round'")


def test_unmatched_person_also_paired():
    text = "round: 1\ndate: 2016-01-01\npairs:\n  - [a, b]\nunmatched: [c, b]\n"
    (error,) = errors_of([("r.yaml", text)])
    assert error.startswith("r.yaml:5: 'b' is unmatched but also paired on line 4")


def test_same_person_twice_in_a_group():
    (error,) = errors_of([("r.yaml", "round: 1\ndate: 2016-01-01\npairs:\n  - [a, b, a]\n")])
    assert error.startswith("r.yaml:4: 'a' appears twice in the same group")


def test_non_mapping_files():
    errors = errors_of([("r.yaml", "- just\n- a list\n")], ("people.yaml", "- nope\n"))
    assert errors[0].startswith("people.yaml:1: people.yaml must be a mapping")
    assert errors[1].startswith("r.yaml:1: a round file must be a mapping")


def test_fast_loader_agrees_with_line_keeping_loader():
    """The libyaml path must give the same values and lines as builder.yamlsrc.load_yaml."""
    from builder.rounds import _fast_line_yaml
    from builder.yamlsrc import load_yaml

    text = (FIXTURE / "rounds" / "round-2.yaml").read_text() + "extra:\n  when: 2016-01-01\n  n: 0x10\n  f: 1.5\n"
    fast, slow = _fast_line_yaml(text, "x"), load_yaml(text, "x")
    assert fast == slow
    assert fast.key_lines == slow.key_lines
    assert fast["pairs"].item_lines == slow["pairs"].item_lines == [4, 5, 6]
    assert fast["extra"]["n"] == 16


def test_generator_is_deterministic_and_valid(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).parent.parent.parent / "scripts"))
    from gen_rounds import generate, main

    people, texts = generate(121, 8, seed=2)
    assert (people, texts) == generate(121, 8, seed=2)
    assert generate(121, 8, seed=3) != (people, texts)
    data = load_round_data(("p.yaml", people), [(f"r{k}.yaml", t) for k, t in enumerate(texts, 1)])
    groups = [g for r in data.rounds for g in r.groups]
    assert any(len(g.people) == 3 for g in groups) and any(not g.met for g in groups)
    assert any(p.joined and p.joined > 1 for p in data.people.values())  # people join over time
    assert 0 < sum(p.public for p in data.people.values()) < 121
    main(["--people", "10", "--rounds", "2", "--out", str(tmp_path)])
    assert sorted(p.name for p in (tmp_path / "data" / "rounds").iterdir()) == [
        "round-1.yaml",
        "round-2.yaml",
    ]


def _full_loader_only(monkeypatch):
    """Make load_round_data read every file with the line-keeping loader (the reference path)."""
    import builder.rounds as rounds_module
    from builder.yamlsrc import load_yaml

    monkeypatch.setattr(rounds_module, "_fast_line_yaml", load_yaml)


def test_fast_paths_give_the_same_round_data_as_the_line_keeping_loader(monkeypatch):
    """Generated data (triads, met: false, unmatched, late joiners) read both ways: identical RoundData."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent.parent.parent / "scripts"))
    from gen_rounds import generate

    from builder.yamlsrc import regular_yaml

    people, texts = generate(121, 12, seed=5)
    assert regular_yaml(people) is not None and all(regular_yaml(t) is not None for t in texts)
    assert any("met: false" in t for t in texts) and any("unmatched:" in t for t in texts)
    sources = [(f"data/rounds/round-{k}.yaml", t) for k, t in enumerate(texts, 1)]
    fast = load_round_data(("data/people.yaml", people), sources)
    _full_loader_only(monkeypatch)
    assert load_round_data(("data/people.yaml", people), sources) == fast


BROKEN_ROUNDS = [
    "round: 2\ndate: 2016-02-22\npairs:\n  - [a, b, c, d]\n  - [e]\n",
    "round: 2\ndate: 2016-02-22\npairs:\n  - [a, b]\n  - [b, c]\nunmatched: [a, z, z]\n",
    "round: 2\ndate: 2016-13-45\npairs:\n  - [a, a]\n",
    "round: 0\ndate: 2016-02-22\npairs: [a, b]\n",
    "round: 2\ndate: 2016-02-22\npars:\n  - [a, b]\n",
    "round: 2\ndate: 2016-02-22\npairs:\n  - {people: [a, b], met: maybe}\n  - {persons: [c, d]}\n",
    "round: 2\ndate: 2016-02-22\npairs:\n  - [a, yes]\n  - [c, null]\n  - [d, 7]\n",
    "round: 2\ndate: 2016-02-22\npairs:\n  - [a, b]\n  - [c, d]]\n",
    "round: 2\ndate: 2016-02-22\npairs:\n  - [a, b]\nround: 3\n",
    "round: 2\ndate: 2016-02-22\ntitle: {x: y}\npairs:\n  - [a, b]\n",
]


@pytest.mark.parametrize("text", BROKEN_ROUNDS)
def test_fast_paths_report_the_same_errors(text, monkeypatch):
    people = ("data/people.yaml", "a:\n  name: A\n  public: maybe\nb:\n  joined: 0\n")
    sources = [("data/rounds/round-2.yaml", text)]
    fast = errors_of(sources, people)
    _full_loader_only(monkeypatch)
    assert errors_of(sources, people) == fast
    assert all(e.startswith(("data/rounds/round-2.yaml:", "data/people.yaml:")) for e in fast)

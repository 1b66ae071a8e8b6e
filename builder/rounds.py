"""Load and validate the scheme's round data (``data/people.yaml``, ``data/rounds/*.yaml``).

Every problem is collected and reported together as ``file:line: message (hint)`` so
the organiser can fix a whole batch of round files in one pass.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import ErrorList, SiteError, SiteErrors, did_you_mean
from .nogc import paused_gc
from .yamlsrc import LineDict, LineList, line_of, load_yaml, regular_yaml

PERSON_KEYS = ("name", "organisation", "sector", "public", "joined", "active")
ROUND_KEYS = ("round", "date", "title", "pairs", "unmatched")
GROUP_KEYS = ("people", "met")


@dataclass(frozen=True)
class Person:
    """A registered participant; only ``public`` people are ever named in output."""

    id: str
    name: str | None
    organisation: str | None
    sector: str | None
    public: bool
    joined: int | None
    active: bool
    line: int


@dataclass(frozen=True)
class Group:
    """Two or three people matched in one round; ``met=False`` means it did not happen."""

    people: tuple[str, ...]
    met: bool
    line: int


@dataclass(frozen=True)
class Round:
    """One round of the scheme as written in its YAML file."""

    number: int
    date: datetime.date
    title: str
    groups: tuple[Group, ...]
    unmatched: tuple[str, ...]
    path: str
    line: int

    def participants(self) -> tuple[str, ...]:
        """Everyone seen this round (groups, met or not, then unmatched), first-seen order."""
        cached: tuple[str, ...] | None = self.__dict__.get("_participants")
        if cached is None:  # memoised: large rounds are asked often, and the object is immutable
            seen: dict[str, None] = {}
            for group in self.groups:
                seen.update(dict.fromkeys(group.people))
            seen.update(dict.fromkeys(self.unmatched))
            cached = tuple(seen)
            object.__setattr__(self, "_participants", cached)
        return cached


@dataclass(frozen=True)
class RoundData:
    """All people and rounds; rounds sorted by number."""

    people: Mapping[str, Person]
    rounds: tuple[Round, ...]


def load_round_data(people: tuple[str, str] | None, rounds: Sequence[tuple[str, str]]) -> RoundData:
    """Parse ``(path, text)`` sources into :class:`RoundData`; raise :class:`SiteErrors` with all problems."""
    errors = ErrorList()
    with paused_gc():  # hundreds of thousands of small objects, no cycles
        persons = _load_people(people, errors) if people else {}
        parsed = [r for r in (_load_round(path, text, errors) for path, text in rounds) if r is not None]
    _check_duplicate_numbers(parsed, errors)
    errors.raise_if_any()
    return RoundData(people=persons, rounds=tuple(sorted(parsed, key=lambda r: r.number)))


# --- helpers shared by both file kinds ---------------------------------------------------


def _did_you_mean(key: Any, allowed: Sequence[str]) -> str:
    options = ", ".join(allowed)
    guess = did_you_mean(key, allowed)
    return f"{guess} Allowed keys: {options}" if guess else f"allowed keys: {options}"


def _check_keys(mapping: dict[Any, Any], allowed: Sequence[str], path: str, what: str, errors: ErrorList) -> None:
    for key in mapping:
        if key not in allowed:
            errors.add(path, line_of(mapping, key), f"unknown key '{key}' in {what}", _did_you_mean(key, allowed))


def _person_id(value: Any) -> str | None:
    """Ids are text; plain integers are accepted and read as text (``7`` is ``"7"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int):
        return str(value)
    return None


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def _load(path: str, text: str, errors: ErrorList) -> Any:
    try:
        return _fast_line_yaml(text, path)
    except SiteError as exc:
        errors.extend([exc])
        return None


_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _fast_line_yaml(text: str, path: str) -> Any:
    """Same result as :func:`load_yaml` (LineDict/LineList), parsed by libyaml.

    Round files of large schemes hold thousands of pairs; the pure-Python line-keeping
    loader takes ~15 s for 5,000 people x 50 rounds, libyaml's composer about 3 s and the
    line reader for regular files (:func:`regular_yaml`) well under 1 s. Any
    YAML problem (or a rare construct such as merge keys) goes through ``load_yaml`` so
    messages stay identical.
    """
    found = regular_yaml(text)  # the usual machine-written shape: read line by line
    if found is not None:
        return found
    loader_cls = getattr(yaml, "CSafeLoader", None)
    if loader_cls is None:  # pragma: no cover - PyYAML built without libyaml
        return load_yaml(text, path)
    try:
        node = yaml.compose(text, Loader=loader_cls)
        return _Walker(path).value(node) if node is not None else None
    except (yaml.YAMLError, _Fallback):
        return load_yaml(text, path)


class _Fallback(Exception):
    """Raised by the walker for input it leaves to the full loader."""


class _Walker:
    def __init__(self, path: str) -> None:
        self.path = path
        self.constructor = yaml.constructor.SafeConstructor()

    def value(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR_TAG:
                return node.value
            if node.tag == _INT_TAG and node.value.isdigit():
                return int(node.value)
            return self.constructor.construct_object(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            items = LineList(self.value(child) for child in node.value)
            items.line = node.start_mark.line + 1
            items.item_lines = [child.start_mark.line + 1 for child in node.value]
            return items
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node)
        raise _Fallback  # pragma: no cover - no other node kinds exist

    def mapping(self, node: yaml.MappingNode) -> LineDict:
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                raise _Fallback
            key = self.value(key_node)
            if key in result:
                raise _Fallback  # load_yaml reports the duplicate key with its line
            result[key] = self.value(value_node)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result


# --- people.yaml -------------------------------------------------------------------------


def _load_people(source: tuple[str, str], errors: ErrorList) -> dict[str, Person]:
    path, text = source
    data = _load(path, text, errors)
    if data is None:
        return {}
    if not isinstance(data, dict):
        errors.add(
            path,
            line_of(data, 0, 1),
            "people.yaml must be a mapping of person id to details",
            "write one entry per person, e.g. 'sarah-r: {name: Sarah R, public: true}'",
        )
        return {}
    people: dict[str, Person] = {}
    for key, entry in data.items():
        line = line_of(data, key, 1) or 1
        pid = _person_id(key)
        if pid is None:
            errors.add(path, line, f"person id {key!r} must be text", "use an id such as 'sarah-r'")
            continue
        person = _parse_person(pid, entry, path, line, errors)
        if person is not None:
            people[pid] = person
    return people


def _parse_person(pid: str, entry: Any, path: str, line: int, errors: ErrorList) -> Person | None:
    if entry is None:
        entry = {}
    if not isinstance(entry, dict):
        errors.add(
            path,
            line,
            f"person '{pid}' must be a mapping of details",
            "e.g. 'name: Sarah R', 'organisation: Council A', 'public: true'",
        )
        return None
    _check_keys(entry, PERSON_KEYS, path, f"person '{pid}'", errors)
    before = len(errors.errors)
    text = {k: _text_field(entry, k, path, errors) for k in ("name", "organisation", "sector")}
    public = _bool_field(entry, "public", False, path, errors)
    active = _bool_field(entry, "active", True, path, errors)
    joined = entry.get("joined")
    if joined is not None and (isinstance(joined, bool) or not isinstance(joined, int) or joined < 1):
        errors.add(
            path,
            line_of(entry, "joined", line),
            f"joined must be a round number, not {joined!r}",
            "write e.g. 'joined: 3'",
        )
        joined = None
    if len(errors.errors) != before:
        return None
    return Person(pid, text["name"], text["organisation"], text["sector"], public, joined, active, line)


def _text_field(entry: dict[Any, Any], key: str, path: str, errors: ErrorList) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        errors.add(
            path,
            line_of(entry, key),
            f"{key} must be text, not {_kind(value)}",
            f'quote the value, e.g. {key}: "..."',
        )
        return None
    return str(value).strip() or None


def _bool_field(entry: dict[Any, Any], key: str, default: bool, path: str, errors: ErrorList) -> bool:
    value = entry.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.add(
            path,
            line_of(entry, key),
            f"{key} must be true or false, not {value!r}",
            f"write '{key}: true' or '{key}: false'",
        )
        return default
    return value


# --- rounds/*.yaml -----------------------------------------------------------------------


def _load_round(path: str, text: str, errors: ErrorList) -> Round | None:
    data = _load(path, text, errors)
    if data is None and not text.strip():
        errors.add(path, 1, "round file is empty", "add 'round:', 'date:' and 'pairs:'")
        return None
    if data is None:
        return None
    if not isinstance(data, dict):
        errors.add(
            path,
            line_of(data, 0, 1),
            "a round file must be a mapping",
            "start with 'round: 1', 'date: 2016-01-20', 'pairs:'",
        )
        return None
    _check_keys(data, ROUND_KEYS, path, "round file", errors)
    before = len(errors.errors)
    top = data.line if hasattr(data, "line") else 1
    number = _round_number(data, path, top, errors)
    date = _round_date(data, path, top, errors)
    title = _round_title(data, path, number, errors)
    groups = _round_groups(data, path, top, errors)
    unmatched = _round_unmatched(data, groups, path, errors)
    if len(errors.errors) != before or number is None or date is None:
        return None
    return Round(number, date, title, groups, unmatched, path, line_of(data, "round", top) or top)


def _round_number(data: dict[Any, Any], path: str, top: int, errors: ErrorList) -> int | None:
    if "round" not in data:
        errors.add(path, top, "missing 'round'", "add 'round: <number>' (a positive whole number)")
        return None
    value = data["round"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        errors.add(
            path,
            line_of(data, "round"),
            f"round must be a positive whole number, not {value!r}",
            "write e.g. 'round: 2'",
        )
        return None
    return value


def _round_date(data: dict[Any, Any], path: str, top: int, errors: ErrorList) -> datetime.date | None:
    if "date" not in data:
        errors.add(path, top, "missing 'date'", "add 'date: YYYY-MM-DD'")
        return None
    value = data["date"]
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    errors.add(path, line_of(data, "date"), f"date must be a date, not {value!r}", "write 'date: YYYY-MM-DD'")
    return None


def _round_title(data: dict[Any, Any], path: str, number: int | None, errors: ErrorList) -> str:
    value = data.get("title")
    if value is None:
        return f"Round {number}" if number is not None else "Round"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        errors.add(path, line_of(data, "title"), "title must be text", "write e.g. 'title: Round 2'")
        return ""
    return str(value)


def _round_groups(data: dict[Any, Any], path: str, top: int, errors: ErrorList) -> tuple[Group, ...]:
    if "pairs" not in data:
        errors.add(path, top, "missing 'pairs'", "add 'pairs:' with one '- [id, id]' line per pair")
        return ()
    pairs = data["pairs"]
    if pairs is None:
        return ()
    if not isinstance(pairs, list):
        errors.add(
            path,
            line_of(data, "pairs"),
            "pairs must be a list of groups",
            "write one '- [id, id]' line per pair (or three ids for a triad)",
        )
        return ()
    groups: list[Group] = []
    first_seen: dict[str, int] = {}
    default = line_of(data, "pairs")
    for index, entry in enumerate(pairs):
        line = line_of(pairs, index, default) or top
        group = _plain_group(entry, line) or _parse_group(entry, path, line, errors)
        if group is None:
            continue
        for pid in group.people:
            if pid in first_seen:
                errors.add(
                    path,
                    line,
                    f"'{pid}' is in two groups of this round (also line {first_seen[pid]})",
                    "each person joins at most one group per round",
                )
            else:
                first_seen[pid] = line
        groups.append(group)
    return tuple(groups)


def _plain_group(entry: Any, line: int) -> Group | None:
    """The usual ``[id, id]`` (or three ids), distinct and already clean; None sends it to full checks."""
    if type(entry) is not LineList or not 2 <= len(entry) <= 3:
        return None
    for value in entry:
        if type(value) is not str or not value or value.strip() != value:
            return None
    if len(set(entry)) != len(entry):
        return None
    return Group(tuple(entry), True, line)


def _parse_group(entry: Any, path: str, line: int, errors: ErrorList) -> Group | None:
    met = True
    members = entry
    if isinstance(entry, dict):
        _check_keys(entry, GROUP_KEYS, path, "group", errors)
        if "people" not in entry:
            errors.add(path, line, "group is missing 'people'", "write '{people: [id, id], met: false}'")
            return None
        members = entry["people"]
        met_value = entry.get("met", True)
        if not isinstance(met_value, bool):
            errors.add(
                path,
                line_of(entry, "met", line),
                f"met must be true or false, not {met_value!r}",
                "write 'met: false' for a conversation that did not happen",
            )
            return None
        met = met_value
    if not isinstance(members, list):
        errors.add(path, line, f"a group must be a list of 2 or 3 ids, not {members!r}", "write '- [id, id]'")
        return None
    ids = _id_list(members, path, line, errors)
    if ids is None:
        return None
    if not 2 <= len(ids) <= 3:
        errors.add(
            path,
            line,
            f"a group must have 2 or 3 people, this one has {len(ids)}",
            "split it into pairs (one triad at most when the count is odd)",
        )
        return None
    if len(set(ids)) != len(ids):
        twice = next(p for p in ids if ids.count(p) > 1)
        errors.add(path, line, f"'{twice}' appears twice in the same group", "list each person once")
        return None
    return Group(tuple(ids), met, line)


def _id_list(values: list[Any], path: str, line: int, errors: ErrorList) -> list[str] | None:
    ids: list[str] = []
    for value in values:
        pid = _person_id(value)
        if pid is None:
            errors.add(path, line, f"{value!r} is not a person id", "ids are text such as 'sarah-r'")
            return None
        ids.append(pid)
    return ids


def _round_unmatched(data: dict[Any, Any], groups: tuple[Group, ...], path: str, errors: ErrorList) -> tuple[str, ...]:
    value = data.get("unmatched")
    if value is None:
        return ()
    line = line_of(data, "unmatched")
    if not isinstance(value, list):
        errors.add(path, line, "unmatched must be a list of ids", "write 'unmatched: [id, id]'")
        return ()
    ids = _id_list(value, path, line or 1, errors)
    if ids is None:
        return ()
    paired = {pid: g.line for g in groups for pid in g.people}
    result: dict[str, None] = {}
    for pid in ids:
        if pid in paired:
            errors.add(
                path,
                line,
                f"'{pid}' is unmatched but also paired on line {paired[pid]}",
                "remove them from 'unmatched' or from the group",
            )
        elif pid in result:
            errors.add(path, line, f"'{pid}' is listed twice in unmatched", "list each person once")
        result[pid] = None
    return tuple(result)


def _check_duplicate_numbers(rounds: list[Round], errors: ErrorList) -> None:
    by_number: dict[int, Round] = {}
    for rnd in sorted(rounds, key=lambda r: r.path):
        other = by_number.get(rnd.number)
        if other is None:
            by_number[rnd.number] = rnd
            continue
        errors.add(
            rnd.path,
            rnd.line,
            f"round {rnd.number} is defined twice: here and in {other.path}:{other.line}",
            "give each round file its own round number",
        )
        errors.add(
            other.path,
            other.line,
            f"round {rnd.number} is defined twice: here and in {rnd.path}:{rnd.line}",
            "give each round file its own round number",
        )


__all__ = ["Group", "Person", "Round", "RoundData", "SiteErrors", "load_round_data"]

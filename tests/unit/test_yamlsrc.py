"""yamlsrc.py: line-keeping YAML, errors with file:line, never a bare exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder.errors import SiteError
from builder.yamlsrc import LineDict, LineList, line_of, load_yaml, load_yaml_fast


def test_lines_of_keys_and_items():
    data = load_yaml("a: 1\nlist:\n  - x\n  - {k: v}\n", "f.yaml")
    assert isinstance(data, LineDict) and data.line_of("a") == 1 and data.line_of("list") == 2
    assert isinstance(data["list"], LineList) and data["list"].line_of(1) == 4
    assert line_of(data["list"][1], "k") == 4
    assert line_of({"plain": 1}, "plain", 9) == 9


def test_first_line_offsets_lines():
    data = load_yaml("a: 1\nb:\n  - c\n", "f.md", first_line=5)
    assert data.line_of("b") == 6 and data["b"].line_of(0) == 7


def test_duplicate_keys_are_errors():
    with pytest.raises(SiteError) as info:
        load_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert info.value.format().startswith("f.yaml:3: invalid YAML: duplicate key 'a'")


def test_unclosed_quote_points_at_its_line():
    with pytest.raises(SiteError) as info:
        load_yaml_fast('title: "open\ndate: 2020-01-01\ntags: [a]\n', "p.md", first_line=2)
    assert info.value.line == 2 and "quoted scalar" in info.value.message


def test_unclosed_bracket_names_where_it_started():
    with pytest.raises(SiteError) as info:
        load_yaml("pairs:\n  - [a, b\n  - [c, d]\n", "r.yaml")
    assert info.value.line == 3 and "starts on line 2" in info.value.message


def test_impossible_dates_stay_strings_and_bad_tags_are_site_errors():
    assert load_yaml_fast("d: 2020-02-30\n", "f") == {"d": "2020-02-30"}
    assert load_yaml("d: 2020-13-01\n", "f") == {"d": "2020-13-01"}
    with pytest.raises(SiteError) as info:
        load_yaml("n: !!int abc\n", "f.yaml", first_line=4)
    assert info.value.line == 4


@given(st.text(max_size=200))
def test_loaders_raise_only_site_errors(text):
    for loader in (load_yaml, load_yaml_fast):
        try:
            loader(text, "fuzz.yaml")
        except SiteError as exc:
            assert exc.path == "fuzz.yaml" and exc.line is not None and exc.line >= 1


# --- regular_yaml: the line reader for machine-written files -------------------------------


def _same_with_lines(fast, slow) -> None:
    """Equal values, equal container types and equal line bookkeeping, all the way down."""
    assert type(fast) is type(slow)
    assert fast == slow
    if isinstance(slow, LineDict):
        assert (fast.line, fast.key_lines) == (slow.line, slow.key_lines)
        for key in slow:
            _same_with_lines(fast[key], slow[key])
    elif isinstance(slow, LineList):
        assert (fast.line, fast.item_lines) == (slow.line, slow.item_lines)
        for a, b in zip(fast, slow, strict=True):
            _same_with_lines(a, b)


REGULAR = [
    "round: 3\ndate: 2016-03-16\ntitle: Round 3\npairs:\n  - [p00001, p00002]\n  - [a, b, c]\n",
    "# header\n\nround: 1\npairs:\n  - [a, b]\n  # a comment line\n\n"
    "  - {people: [c, d], met: false}\nunmatched: [e]\n",
    "pairs:\n- [a, b]\n- [c, d]\nx:\n",
    "sarah-r:\n  name: Sarah R\n  organisation: Council A\n  public: true\n  joined: 2\nbob:\n  name: Bob\n",
    "7: x\nyes: No\nnothing: null\nalso: Null\nzero: 0\ntwelve: 12\nsci: 1e3\n",
    "names: [O'Brien, Ana María, 李雷]\nspaced: [ b ,c ]\nempty: [ ]\nnone: {}\n",
    "date: 2016-01-20\nbad: 2020-13-45\ntitle: Round   two  \n",
    "a:\n  b: [1, 2]\n  c: {x: y, z: [p, q]}\nd:\n",
]


@pytest.mark.parametrize("text", REGULAR)
def test_regular_reader_matches_line_keeping_loader(text):
    from builder.yamlsrc import regular_yaml

    fast = regular_yaml(text)
    assert fast is not None, "this shape is meant to take the fast path"
    _same_with_lines(fast, load_yaml(text, "f.yaml"))


AWKWARD = [
    "a: 1.5\n",  # float
    "a: 007\n",  # YAML 1.1 octal
    "a: 0x1f\n",
    "a: -1\n",
    "a: 1_000\n",
    "a: ~\n",
    "a: .inf\n",
    "a: 'quoted'\n",
    'a: [b, "c"]\n',
    "a: [b, c,]\n",
    "a: [b,, c]\n",
    "a: [[x], y]\n",
    "a: {b: {c: d}}\n",
    "a: x #comment\n",
    "a: x\n  continued\n",
    "a: |\n  block\n",
    "a:\n - x\n  - y\n",
    "a:\n  b: 1\n  - x\n",
    "a:\n  b:\n    c: 1\n",
    "a: &x 1\nb: *x\n",
    "<<: {a: 1}\n",
    "a: 1\r\nb: 2\r\n",
    "a:\tb\n",
    "---\na: 1\n",
    "- a\n- b\n",
    "plain\n",
    "",
    "# only a comment\n",
    "pairs:\n  - [a, b]\n  -\n",
    "t: 2016-01-20 10:00:00\n",
]


@pytest.mark.parametrize("text", AWKWARD)
def test_regular_reader_leaves_other_yaml_to_the_full_loader(text):
    from builder.yamlsrc import load_yaml_regular, regular_yaml

    assert regular_yaml(text) is None
    try:
        expected = load_yaml(text, "f.yaml")
    except SiteError as exc:
        with pytest.raises(SiteError) as info:
            load_yaml_regular(text, "f.yaml")
        assert info.value == exc
    else:
        _same_with_lines(load_yaml_regular(text, "f.yaml"), expected)


BROKEN = [
    "a: 1\na: 2\n",  # duplicate key
    "a:\n  b: 1\n  b: 2\n",
    "a: [x, y]]\n",
    "a: [x, y\nb: 1\n",
    "a: {x: 1\n",
    "a: 1\n  b: 2\n",
    "a:\n  - x\n  b: 1\n",
]


@pytest.mark.parametrize("text", BROKEN)
def test_broken_files_get_the_line_keeping_loaders_error(text):
    from builder.yamlsrc import load_yaml_regular, regular_yaml

    assert regular_yaml(text) is None
    with pytest.raises(SiteError) as slow:
        load_yaml(text, "f.yaml")
    with pytest.raises(SiteError) as fast:
        load_yaml_regular(text, "f.yaml")
    assert fast.value.format() == slow.value.format()


_ids = st.text(alphabet="abcxyz019-_ ", min_size=1, max_size=6)


@given(st.lists(st.lists(_ids, min_size=1, max_size=3), max_size=6), st.booleans())
def test_regular_reader_agrees_on_generated_round_files(groups, indent):
    """Random ids (spaces, digits, leading dashes...): either the fast reader agrees exactly or it declines."""
    from builder.yamlsrc import regular_yaml

    prefix = "  " if indent else ""
    text = "round: 2\npairs:\n" + "".join(f"{prefix}- [{', '.join(g)}]\n" for g in groups)
    fast = regular_yaml(text)
    try:
        slow = load_yaml(text, "f.yaml")
    except SiteError:
        assert fast is None
        return
    if fast is not None:
        _same_with_lines(fast, slow)

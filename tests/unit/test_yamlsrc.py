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

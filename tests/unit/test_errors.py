"""errors.py: one format, many errors sorted and de-duplicated."""

from __future__ import annotations

import pytest

from builder.errors import ErrorList, SiteError, SiteErrors


def test_format_with_and_without_line_and_hint():
    assert SiteError("a.md", 3, "bad", "fix it").format() == "a.md:3: bad (fix it)"
    assert SiteError("a.md", None, "bad").format() == "a.md: bad"
    assert str(SiteError("a.md", 1, "x")) == "a.md:1: x"


def test_error_list_collects_sorts_and_dedupes():
    errors = ErrorList()
    assert not errors
    errors.add("b.md", 2, "two")
    errors.add("a.md", 9, "nine")
    errors.add("a.md", 1, "one")
    errors.add("a.md", 1, "one")
    errors.extend([SiteError("a.md", None, "file-wide")])
    with pytest.raises(SiteErrors) as info:
        errors.raise_if_any()
    assert [e.format() for e in info.value] == [
        "a.md: file-wide",
        "a.md:1: one",
        "a.md:9: nine",
        "b.md:2: two",
    ]
    assert str(info.value).splitlines()[0] == "a.md: file-wide"


def test_empty_list_does_not_raise():
    ErrorList().raise_if_any()


def test_site_error_passes_through_contextmanager_blocks():
    """contextlib assigns __traceback__ from Python; a frozen dataclass must still allow it."""
    import contextlib
    import dataclasses

    @contextlib.contextmanager
    def block():
        yield

    with pytest.raises(SiteError) as info, block():
        raise SiteError("a.md", 1, "bad")
    info.value.add_note("more")
    assert info.value.__notes__ == ["more"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.value.path = "b.md"  # type: ignore[misc]


def test_did_you_mean_names_the_closest_known_key_or_nothing():
    from builder.errors import did_you_mean

    assert did_you_mean("paginat", ["title", "paginate"]) == "did you mean 'paginate'?"
    assert did_you_mean("lables", ["labels"], prefix="network.") == "did you mean 'network.labels'?"
    assert did_you_mean("zzzz", ["title", "paginate"]) is None


def test_tags_yaml_unknown_key_suggests_the_right_one():
    from builder.errors import SiteErrors
    from builder.taxonomy import parse_tag_info

    try:
        parse_tag_info("yet:\n  titel: Yet\n")
    except SiteErrors as exc:
        assert [e.format() for e in exc.errors] == [
            "data/tags.yaml:2: unknown key 'titel' for tag 'yet' (did you mean 'title'?)"
        ]
    else:
        raise AssertionError("an unknown key in tags.yaml must be an error")

"""content.py: front matter splitting, post/page validation, slugs, summaries, meta."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.content import (
    parse_page,
    parse_post,
    parse_tag_list,
    slug_from_path,
    split_front_matter,
    to_datetime,
)
from builder.errors import SiteError, SiteErrors

LONDON = ZoneInfo("Europe/London")


def post(text: str, path: str = "content/posts/2020-01-01-a-post.md", tz=UTC, base: str = "/"):
    return parse_post(path, text, tz, base)


def errors_of(text: str, path: str = "content/posts/x.md") -> list[str]:
    with pytest.raises((SiteError, SiteErrors)) as info:
        post(text, path)
    exc = info.value
    items = exc.errors if isinstance(exc, SiteErrors) else [exc]
    return [e.format() for e in items]


# --- front matter -------------------------------------------------------------------------


def test_split_front_matter_data_lines_and_body():
    fm = split_front_matter("---\ntitle: Hi\n\ndate: 2020-01-01\n---\nBody line\n", "p.md")
    assert fm.data == {"title": "Hi", "date": date(2020, 1, 1)}
    assert fm.key_lines == {"title": 2, "date": 4}
    assert fm.body == "Body line\n"
    assert fm.body_line == 6


def test_split_front_matter_accepts_bom_and_crlf():
    fm = split_front_matter("\ufeff---\r\ntitle: Hi\r\n---\r\nBody\r\n", "p.md")
    assert fm.data["title"] == "Hi"
    assert fm.body.strip() == "Body"


def test_missing_front_matter_is_an_error_at_line_1():
    with pytest.raises(SiteError) as info:
        split_front_matter("Just text\n", "content/posts/a.md")
    assert info.value.format().startswith("content/posts/a.md:1: missing front matter")


def test_unclosed_front_matter_is_an_error():
    with pytest.raises(SiteError) as info:
        split_front_matter("---\ntitle: x\ndate: 2020-01-01\nBody\n", "content/posts/a.md")
    assert info.value.line == 1
    assert "not closed" in info.value.message


def test_yaml_error_line_is_the_file_line():
    # the unclosed quote is on line 3 of the file; PyYAML reports where it noticed
    with pytest.raises(SiteError) as info:
        split_front_matter('---\ndate: 2020-01-01\ntitle: "unclosed\ntags: [a]\n---\nbody\n', "a.md")
    assert info.value.message.startswith("invalid YAML")
    assert 3 <= (info.value.line or 0) <= 5


def test_front_matter_must_be_a_mapping():
    with pytest.raises(SiteError) as info:
        split_front_matter("---\n- a\n- b\n---\n", "a.md")
    assert info.value.line == 2


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_splitter_never_crashes_on_arbitrary_text(text):
    """Whatever the author types, the result is FrontMatter or a SiteError — never a traceback."""
    try:
        split_front_matter(text, "fuzz.md")
    except SiteError as exc:
        assert exc.path == "fuzz.md"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("-:\n abc[]{}\"'#|>&*!%@`\t")), max_size=60))
def test_splitter_and_parser_never_crash_on_yamlish_text(yamlish):
    text = "---\n" + yamlish + "\n---\nbody\n"
    with contextlib.suppress(SiteError, SiteErrors):  # anything else fails the test
        post(text)


# --- dates ---------------------------------------------------------------------------------


def test_date_without_zone_takes_the_site_zone():
    value = to_datetime(date(2020, 7, 1), LONDON)
    assert value == datetime(2020, 7, 1, tzinfo=LONDON)
    assert value.utcoffset() == timedelta(hours=1)


def test_datetime_string_with_zone_keeps_it():
    value = to_datetime("2020-07-01T09:30:00+02:00", LONDON)
    assert value.utcoffset() == timedelta(hours=2)
    assert to_datetime("2020-07-01T09:30:00Z", LONDON).tzinfo == UTC


def test_bad_dates_are_none():
    assert to_datetime("last tuesday", UTC) is None
    assert to_datetime(12, UTC) is None


# --- posts ---------------------------------------------------------------------------------


def test_minimal_post():
    p = post("---\ntitle: Hello\ndate: 2020-03-04\n---\nFirst paragraph.\n\nSecond.\n")
    assert p.title == "Hello"
    assert p.date == datetime(2020, 3, 4, tzinfo=UTC)
    assert p.slug == "a-post"
    assert p.url == "posts/a-post/"
    assert not p.draft
    assert p.tag_names == ()


def test_missing_title_and_date_reported_together():
    assert errors_of("---\ntags: [a]\n---\nx\n") == [
        "content/posts/x.md:1: missing 'date' (add date: 2024-05-01 (or a datetime))",
        "content/posts/x.md:1: missing or empty 'title' (add title: Your title)",
    ]


def test_bad_date_names_its_line():
    assert errors_of("---\ntitle: T\ntags: [a]\ndate: 2020-13-45\n---\n") == [
        "content/posts/x.md:4: 'date' is not a date: '2020-13-45' (use ISO format, e.g. 2024-05-01 or 2024-05-01T09:30)"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[Yet, coaching]", ("Yet", "coaching")),
        ("'yet, system leadership ,'", ("yet", "system leadership")),
        ("", ()),
    ],
)
def test_tags_list_or_comma_string(value, expected):
    p = post(f"---\ntitle: T\ndate: 2020-01-01\ntags: {value}\n---\n")
    assert p.tag_names == expected


def test_tags_of_wrong_type_is_an_error():
    assert parse_tag_list({"a": 1}) is None
    assert errors_of("---\ntitle: T\ndate: 2020-01-01\ntags: {a: 1}\n---\n")[0].startswith(
        "content/posts/x.md:4: 'tags' must be a list"
    )


@pytest.mark.parametrize(
    ("path", "slug"),
    [
        ("content/posts/2019-03-02-not-yet.md", "not-yet"),
        ("content/posts/2019-03-02-Not Yet Café.md", "not-yet-cafe"),
        ("content/posts/notes/plain.md", "plain"),
        ("content/posts/2019-03-02.md", "2019-03-02"),
    ],
)
def test_slug_from_file_name_drops_date_prefix(path, slug):
    assert slug_from_path(path) == slug


def test_slug_from_front_matter_wins():
    p = post("---\ntitle: T\ndate: 2020-01-01\nslug: my-own\n---\n")
    assert p.slug == "my-own"


def test_bad_slug_is_an_error_with_a_suggestion():
    assert errors_of("---\ntitle: T\ndate: 2020-01-01\nslug: My Own\n---\n") == [
        "content/posts/x.md:4: 'slug' must be lower-case letters, digits and hyphens (e.g. slug: my-own)"
    ]


def test_draft_flag_and_type_check():
    assert post("---\ntitle: T\ndate: 2020-01-01\ndraft: true\n---\n").draft
    assert errors_of("---\ntitle: T\ndate: 2020-01-01\ndraft: maybe\n---\n") == [
        "content/posts/x.md:4: 'draft' must be true or false, not 'maybe'"
    ]


def test_summary_front_matter_wins_over_more_marker():
    text = "---\ntitle: T\ndate: 2020-01-01\nsummary: From <front> matter\n---\nIntro.\n\n<!-- more -->\n\nRest.\n"
    assert post(text).summary_html == "<p>From &lt;front&gt; matter</p>"


def test_summary_is_text_before_more_marker():
    text = "---\ntitle: T\ndate: 2020-01-01\n---\nOne.\n\nTwo.\n\n<!-- more -->\n\nThree.\n"
    p = post(text)
    assert p.summary_html == "<p>One.</p>\n<p>Two.</p>"
    assert "Three." in p.html and "NJMORE" not in p.html


def test_summary_defaults_to_first_paragraph():
    p = post("---\ntitle: T\ndate: 2020-01-01\n---\n# Heading\n\nFirst *para*.\n\nSecond.\n")
    assert p.summary_html == "<p>First <em>para</em>.</p>"
    assert p.description == "First para."


def test_updated_is_parsed_and_validated():
    p = post("---\ntitle: T\ndate: 2020-01-01\nupdated: 2020-02-01\n---\n")
    assert p.updated == datetime(2020, 2, 1, tzinfo=UTC)
    assert errors_of("---\ntitle: T\ndate: 2020-01-01\nupdated: soon\n---\n")[0].startswith(
        "content/posts/x.md:4: 'updated' is not a date"
    )


def test_unknown_keys_are_kept_in_meta():
    p = post("---\ntitle: T\ndate: 2020-01-01\nmood: hopeful\ncover: {src: a.jpg}\n---\n")
    assert p.meta == {"mood": "hopeful", "cover": {"src": "a.jpg"}}


def test_round_and_with():
    p = post("---\ntitle: T\ndate: 2020-01-01\nround: 2\nwith: sarah-r\n---\n")
    assert p.round == 2 and p.with_people == ("sarah-r",)
    assert errors_of("---\ntitle: T\ndate: 2020-01-01\nround: two\n---\n") == [
        "content/posts/x.md:4: 'round' must be a whole number, not 'two'"
    ]


def test_reading_time_from_word_count():
    words = " ".join(["word"] * 660)
    assert post(f"---\ntitle: T\ndate: 2020-01-01\n---\n{words}\n").reading_minutes == 3
    assert post("---\ntitle: T\ndate: 2020-01-01\n---\nshort\n").reading_minutes == 1


def test_title_is_plain_text_not_markup():
    p = post('---\ntitle: "<b>Bold</b> & co"\ndate: 2020-01-01\n---\n')
    assert p.title == "<b>Bold</b> & co"  # escaped later, by the autoescaping templates


# --- pages ---------------------------------------------------------------------------------


def test_page_slug_and_url():
    page = parse_page("content/pages/about-me.md", "---\ntitle: About\n---\nHello.\n", "/journal/")
    assert page.slug == "about-me" and page.url == "about-me/"
    assert page.description == "Hello."


def test_page_without_title_is_an_error():
    with pytest.raises(SiteError) as info:
        parse_page("content/pages/a.md", "---\nslug: a\n---\n", "/")
    assert info.value.format().startswith("content/pages/a.md:1: missing or empty 'title'")

"""taxonomy.py: tag folding, ASCII slugs, display names, collisions, aliases, pagination, archive, related."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder.content import parse_post
from builder.errors import SiteError, SiteErrors
from builder.taxonomy import (
    archive,
    build_tags,
    fold_tag,
    paginate,
    parse_tag_info,
    related_posts,
    tag_slug,
    variant_warnings,
)


def p(name: str, date: str, tags: list[str], slug: str | None = None):
    tag_yaml = "[" + ", ".join(f'"{t}"' for t in tags) + "]"
    text = f"---\ntitle: {name}\ndate: {date}\ntags: {tag_yaml}\n---\nBody of {name}.\n"
    return parse_post(f"content/posts/{slug or name}.md", text, UTC, "/")


# --- folding and slugs ---------------------------------------------------------------------


def test_yet_spellings_fold_to_one_key():
    assert fold_tag("Yet") == fold_tag("yet") == fold_tag(" yet ") == fold_tag("YET")
    assert fold_tag("system   leadership") == fold_tag("System\tLeadership") == "system leadership"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("system leadership", "system-leadership"),
        ("#LocalGovDigital", "localgovdigital"),
        ("Café déjà vu", "cafe-deja-vu"),
        ("Ærøskøbing", "aeroskobing"),
        ("straße", "strasse"),
        ("C++ & you", "c-you"),
    ],
)
def test_tag_slugs_are_ascii(name, slug):
    assert tag_slug(name) == slug


@given(st.text())
def test_slug_property_ascii_lowercase_hyphens(name):
    slug = tag_slug(name)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug), slug


@given(st.text())
def test_folding_is_idempotent_and_slug_stable_under_folding(name):
    assert fold_tag(fold_tag(name)) == fold_tag(name)
    assert tag_slug(fold_tag(name)) == tag_slug(fold_tag(fold_tag(name)))


# --- grouping and display names ------------------------------------------------------------


def test_one_tag_for_all_spellings_display_name_from_oldest_post():
    posts = [p("b", "2021-01-01", ["yet"]), p("a", "2020-01-01", [" Yet "]), p("c", "2022-01-01", ["YET"])]
    (tag,) = build_tags(posts, {}, "/")
    assert tag.slug == "yet" and tag.name == "Yet" and tag.count == 3
    assert [x.title for x in tag.posts] == ["c", "b", "a"]  # newest first


def test_display_name_tie_on_date_broken_by_path():
    posts = [p("z", "2020-01-01", ["Not Yet"]), p("a", "2020-01-01", ["not yet"])]
    (tag,) = build_tags(posts, {}, "/")
    assert tag.name == "not yet"  # content/posts/a.md sorts before z.md


def test_display_name_from_tags_yaml_wins():
    infos = parse_tag_info("YET:\n  title: Not yet\n  description: The *power*.\n")
    (tag,) = build_tags([p("a", "2020-01-01", ["yet"])], infos, "/")
    assert tag.name == "Not yet"
    assert tag.description_html == "<p>The <em>power</em>.</p>"


def test_post_listing_a_tag_twice_counts_once():
    (tag,) = build_tags([p("a", "2020-01-01", ["yet", "Yet"])], {}, "/")
    assert tag.count == 1


def test_tag_slug_collision_names_both_sources():
    posts = [p("a", "2020-01-01", ["localgov digital"]), p("b", "2021-01-01", ["localgov-digital"])]
    with pytest.raises(SiteErrors) as info:
        build_tags(posts, {}, "/")
    (error,) = info.value.errors
    text = error.format()
    assert "content/posts/a.md" in text and "content/posts/b.md" in text
    assert "/tags/localgov-digital/" in text
    assert error.line == 4  # the 'tags:' line of the reported post


def test_alias_folds_into_canonical_tag_and_gets_a_redirect_slug():
    infos = parse_tag_info("localgov digital:\n  title: LocalGov Digital\n  aliases: [LocalGovDigital]\n")
    posts = [p("a", "2020-01-01", ["localgov digital"]), p("b", "2021-01-01", ["#LocalGovDigital"])]
    tags = build_tags(posts, infos, "/")
    assert len(tags) == 1
    (tag,) = tags
    assert tag.count == 2 and tag.slug == "localgov-digital" and tag.aliases == ("localgovdigital",)


def test_tags_yaml_errors_have_lines():
    with pytest.raises(SiteErrors) as info:
        parse_tag_info("yet:\n  title: Yet\n  colour: red\nYet:\n  title: again\n")
    assert [e.format() for e in info.value.errors] == [
        "data/tags.yaml:3: unknown key 'colour' for tag 'yet' (use title, description, aliases)",
        "data/tags.yaml:4: tag 'Yet' is listed twice (tags are compared ignoring case and spaces)",
    ]
    with pytest.raises(SiteError):
        parse_tag_info("- a\n- b\n")


def test_variant_spellings_warning():
    posts = [p("a", "2020-01-01", ["localgov digital"]), p("b", "2021-01-01", ["localgovdigital"])]
    tags = build_tags(posts, {}, "/")
    assert len(tags) == 2
    (warning,) = variant_warnings(tags)
    assert "'localgov digital'" in warning.message and "'localgovdigital'" in warning.message
    assert warning.path == "content/posts/a.md"
    assert variant_warnings(build_tags([p("c", "2020-01-01", ["yet", "coaching"])], {}, "/")) == []


# --- pagination, archive, related -----------------------------------------------------------


def test_paginate():
    pages = paginate(list(range(7)), 3, "tags/yet/")
    assert [pg.items for pg in pages] == [(0, 1, 2), (3, 4, 5), (6,)]
    assert [pg.url for pg in pages] == ["tags/yet/", "tags/yet/page/2/", "tags/yet/page/3/"]
    assert pages[0].prev_url is None and pages[0].next_url == "tags/yet/page/2/"
    assert pages[2].prev_url == "tags/yet/page/2/" and pages[2].next_url is None
    assert pages[1].total == 3
    (empty,) = paginate([], 5, "")
    assert empty.items == () and empty.total == 1


def test_archive_by_year_then_month_newest_first():
    posts = [
        p("c", "2021-03-01", []),
        p("b", "2020-12-05", []),
        p("a", "2020-12-01", []),
        p("z", "2020-01-09", []),
    ]
    grouped = archive(posts)
    assert [(y, [(m, [x.title for x in ps]) for m, ps in months]) for y, months in grouped] == [
        (2021, [(3, ["c"])]),
        (2020, [(12, ["b", "a"]), (1, ["z"])]),
    ]


def test_related_posts_rank_by_shared_tags_then_newest():
    a = p("a", "2020-01-01", ["x", "y", "z"])
    b = p("b", "2020-02-01", ["x", "y"])
    c = p("c", "2020-03-01", ["x"])
    d = p("d", "2020-04-01", ["z"])
    e = p("e", "2020-05-01", ["other"])
    posts = [e, d, c, b, a]
    tags = build_tags(posts, {}, "/")
    related = related_posts(posts, tags, limit=3)
    assert [x.title for x in related[a.source]] == ["b", "d", "c"]
    assert related[e.source] == ()
    assert [x.title for x in related_posts(posts, tags, limit=1)[a.source]] == ["b"]


def test_related_posts_follow_alias_spellings():
    infos = parse_tag_info("yet:\n  aliases: [not-yet]\n")
    a = p("a", "2020-01-01", ["yet"])
    b = p("b", "2020-02-01", ["not-yet"])
    tags = build_tags([b, a], infos, "/")
    assert [x.title for x in related_posts([b, a], tags, 3)[a.source]] == ["b"]


def test_build_tags_dates_are_aware():
    (tag,) = build_tags([p("a", "2020-01-01", ["t"])], {}, "/")
    assert tag.posts[0].date == datetime(2020, 1, 1, tzinfo=UTC)


def _many_posts(n: int) -> list:
    names = ["x", "y", "z", "w", "v"]
    return [
        p(f"post {i}", f"20{10 + i % 12}-{1 + i % 12:02d}-{1 + i % 28:02d}", [names[i % 5], names[(i * 3) % 5]])
        for i in range(n)
    ]


def test_related_posts_worked_out_in_two_processes_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from builder import forked, taxonomy

    posts = _many_posts(120)
    tags = build_tags(posts, {}, "/")
    one = related_posts(posts, tags, limit=4)
    forks: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(taxonomy, "RELATED_FORK_FROM", 10)
    monkeypatch.setattr(forked.os, "fork", counting_fork)
    two = related_posts(posts, tags, limit=4, jobs=2)
    assert forks == [1]  # the second half was worked out in a child
    assert two == one and all(len(v) == 4 for v in one.values())


def test_related_posts_of_a_failed_child_are_worked_out_here(monkeypatch: pytest.MonkeyPatch) -> None:
    from builder import forked, taxonomy

    posts = _many_posts(60)
    tags = build_tags(posts, {}, "/")
    one = related_posts(posts, tags, limit=3)
    monkeypatch.setattr(taxonomy, "RELATED_FORK_FROM", 10)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError("the child cannot answer")

    monkeypatch.setattr(forked.pickle, "dump", broken)
    assert related_posts(posts, tags, limit=3, jobs=2) == one

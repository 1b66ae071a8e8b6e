"""site.py: drafts, future posts, URL collisions, references to rounds and people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import NOW, make_post, make_site, render

from builder.config import SiteConfig
from builder.content import parse_page, parse_post
from builder.errors import SiteErrors
from builder.site import assemble, visible_posts


def post(name: str, date: str = "2020-01-01", **meta):
    return parse_post(f"content/posts/{name}.md", make_post(title=name, date=date, **meta), UTC, "/")


def test_visible_posts_hide_drafts_and_future_unless_asked():
    published = post("pub", "2020-01-01")
    draft = post("draft", "2020-02-01", draft=True)
    future = post("future", (NOW + timedelta(days=3)).date().isoformat())
    everything = [published, draft, future]
    assert [p.title for p in visible_posts(everything, NOW, drafts=False, future=False)] == ["pub"]
    assert [p.title for p in visible_posts(everything, NOW, drafts=False, future=True)] == ["future", "pub"]
    assert [p.title for p in visible_posts(everything, NOW, drafts=True, future=False)] == [
        "future",
        "draft",
        "pub",
    ]


def test_newest_first_ties_by_path():
    a, b = post("a", "2020-01-01"), post("b", "2020-01-01")
    assert [p.title for p in visible_posts([a, b], NOW, False, False)] == ["b", "a"]


def test_two_posts_with_one_slug_is_an_error_naming_both():
    one = parse_post("content/posts/2020-01-01-same.md", make_post(date="2020-01-01"), UTC, "/")
    two = parse_post("content/posts/other.md", make_post(date="2020-02-01", slug="same"), UTC, "/")
    with pytest.raises(SiteErrors) as info:
        assemble(SiteConfig(), [one, two], [], {}, None, NOW)
    (error,) = info.value.errors
    assert error.format() == (
        "content/posts/other.md:4: URL /posts/same/ is also used by content/posts/2020-01-01-same.md"
        " (give one of them a different slug: in its front matter)"
    )


def test_page_may_not_take_a_builtin_section():
    page = parse_page("content/pages/tags.md", "---\ntitle: Tags\n---\nx\n", "/")
    with pytest.raises(SiteErrors) as info:
        assemble(SiteConfig(), [], [page], {}, None, NOW)
    assert "clashes with a built-in section" in info.value.errors[0].message


def test_draft_slug_collision_ignored_in_build_but_posts_still_parsed():
    one = post("same", "2020-01-01")
    two = parse_post("content/posts/other.md", make_post(date="2020-02-01", slug="same", draft=True), UTC, "/")
    site = assemble(SiteConfig(), [one, two], [], {}, None, NOW)
    assert [p.title for p in site.posts] == ["same"]


def test_embed_and_round_naming_unknown_rounds(tmp_path):
    body = "Intro.\n\n::: network round=9\n"
    source = make_site(
        tmp_path,
        {
            "content/posts/a.md": make_post(body=body, round=7),
            "data/rounds/round-1.yaml": "round: 1\ndate: 2020-01-01\npairs:\n  - [a, b]\n",
        },
    )
    with pytest.raises(SiteErrors) as info:
        render(source)
    assert [e.format() for e in info.value.errors] == [
        "content/posts/a.md:4: round 7 does not exist (known rounds: 1)",
        "content/posts/a.md:8: network embed names round 9, which does not exist (known rounds: 1)",
    ]


def test_unknown_person_in_with(tmp_path):
    source = make_site(
        tmp_path,
        {
            "content/posts/a.md": make_post(**{"with": ["nobody"]}),
            "data/rounds/round-1.yaml": "round: 1\ndate: 2020-01-01\npairs:\n  - [a, b]\n",
        },
    )
    with pytest.raises(SiteErrors) as info:
        render(source)
    assert info.value.errors[0].format().startswith("content/posts/a.md:4: unknown participant 'nobody' in 'with'")


def test_site_now_marks_future_posts_unpublished():
    future = post("f", (NOW + timedelta(days=1)).date().isoformat())
    site = assemble(SiteConfig(), [future], [], {}, None, NOW, future=True)
    assert site.is_unpublished(future) is True
    assert site.now == NOW and isinstance(site.now, datetime)


def test_neighbours_are_newer_and_older():
    a, b, c = post("a", "2020-01-01"), post("b", "2020-02-01"), post("c", "2020-03-01")
    site = assemble(SiteConfig(), [a, b, c], [], {}, None, NOW)
    assert site.neighbours(b) == (c, a)
    assert site.neighbours(c) == (None, b)
    assert site.neighbours(a) == (b, None)


def test_visible_order_is_date_then_source_newest_first_whatever_the_input_order():
    import random

    dates = ["2020-01-01", "2020-01-01T09:00:00+02:00", "2020-01-01T07:00:00", "2019-12-31", "2021-05-05"]
    posts = [post(f"p{i:02d}", dates[i % len(dates)]) for i in range(25)]
    expected = sorted(posts, key=lambda p: (p.date, p.source), reverse=True)
    for seed in range(5):
        shuffled = posts[:]
        random.Random(seed).shuffle(shuffled)
        assert visible_posts(shuffled, NOW, drafts=False, future=False) == expected

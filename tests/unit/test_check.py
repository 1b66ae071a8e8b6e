"""check.py: everything validated (drafts and future posts included), links, warnings."""

from __future__ import annotations

from datetime import timedelta

from conftest import NOW, make_post, make_site

from builder.check import broken_links, check_site


def test_clean_site_has_no_errors(tmp_path):
    source = make_site(
        tmp_path,
        {
            "content/posts/a.md": make_post(title="A", body="[b](/posts/b/) [tags](/tags/) [about](/about/)"),
            "content/posts/b.md": make_post(title="B"),
            "content/pages/about.md": "---\ntitle: About\n---\nx\n",
        },
    )
    assert check_site(source) == ([], [])


def test_drafts_and_future_posts_are_checked_too(tmp_path):
    soon = (NOW + timedelta(days=400)).date().isoformat()
    source = make_site(
        tmp_path,
        {
            "content/posts/a.md": make_post(title="A", draft=True, body="[x](/posts/missing/)"),
            "content/posts/b.md": make_post(title="B", date=soon, body="Intro.\n\n[y](/nowhere/)"),
        },
    )
    errors, _ = check_site(source)
    assert sorted(e.format() for e in errors) == [
        "content/posts/a.md:6: link to /posts/missing/ points at no page (fix the address, e.g. /posts/<slug>/)",
        "content/posts/b.md:7: link to /nowhere/ points at no page (fix the address, e.g. /posts/<slug>/)",
    ]


def test_links_to_static_files_and_feeds_are_fine(tmp_path):
    source = make_site(
        tmp_path,
        {
            "content/posts/a.md": make_post(
                body="[feed](/feed.xml) ![i](/static/i.png) [t](/tags/yet/feed.xml)", tags=["yet"]
            ),
            "static/i.png": "png",
        },
    )
    assert check_site(source) == ([], [])


def test_content_errors_are_returned_not_raised(tmp_path):
    source = make_site(tmp_path, {"content/posts/a.md": "---\ntitle: A\n---\n"})
    errors, warnings = check_site(source)
    assert [e.format() for e in errors] == [
        "content/posts/a.md:1: missing 'date' (add date: 2024-05-01 (or a datetime))"
    ]
    assert warnings == []


def test_variant_spelling_warning(tmp_path):
    source = make_site(
        tmp_path,
        {
            "content/posts/a.md": make_post(tags=["localgov digital"]),
            "content/posts/b.md": make_post(title="B", tags=["localgovdigital"]),
        },
    )
    errors, warnings = check_site(source)
    assert errors == [] and len(warnings) == 1
    assert warnings[0].message.startswith("warning: tags 'localgov digital' / 'localgovdigital'")


def test_broken_links_ignores_alias_redirects():
    class FakeSite:
        class config:
            base_path = "/"

        posts = pages = ()

    files = {
        "tags/old/index.html": b'<meta http-equiv="refresh" content="0; url=/tags/new/"><a href="/tags/new/">',
        "index.html": b'<a href="/missing/">x</a><a href="/index.html">',
    }
    problems = broken_links(FakeSite, files)
    assert [p.format() for p in problems] == ["(output) index.html: template link to /missing/ points at no file"]

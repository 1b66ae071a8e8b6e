"""render.py through the real pipeline on tiny sites: pages, overrides, sub-paths, feeds, drafts."""

from __future__ import annotations

import re
from datetime import timedelta

import feedparser
import html5lib
import pytest
from conftest import MINIMAL_CONFIG, NOW, make_post, make_site, render, text

from builder.errors import SiteError
from builder.render import _tojson

ROUND = "round: 1\ndate: 2020-01-01\npairs:\n  - [me, friend]\n  - [p3, p4]\n"
PEOPLE = "me: {name: Me Myself, public: true}\nfriend: {name: Secret Friend}\n"


def posts(n: int, tags: list[str] | None = None) -> dict[str, str]:
    return {
        f"content/posts/2020-01-{i:02d}-post-{i}.md": make_post(
            title=f"Post {i}", date=f"2020-01-{i:02d}", tags=tags or []
        )
        for i in range(1, n + 1)
    }


def test_pages_of_a_small_site(tmp_path):
    files = render(
        make_site(tmp_path, {**posts(2, ["Yet"]), "content/pages/about.md": "---\ntitle: About\n---\nHi.\n"})
    )
    for path in [
        "index.html",
        "posts/post-1/index.html",
        "posts/post-2/index.html",
        "about/index.html",
        "tags/index.html",
        "tags/yet/index.html",
        "tags/yet/feed.xml",
        "archive/index.html",
        "feed.xml",
        "sitemap.xml",
        "robots.txt",
        "404.html",
    ]:
        assert path in files, path
    assert not any(p.startswith("network/") for p in files)  # no rounds, no network pages


def test_pagination_of_index_and_tag_pages(tmp_path):
    config = MINIMAL_CONFIG.replace("paginate: 10", "paginate: 2")
    files = render(make_site(tmp_path, posts(5, ["yet"]), config))
    assert {"index.html", "page/2/index.html", "page/3/index.html"} <= set(files)
    assert "page/4/index.html" not in files
    assert {"tags/yet/index.html", "tags/yet/page/2/index.html", "tags/yet/page/3/index.html"} <= set(files)
    first = text(files, "index.html")
    assert first.index("Post 5") < first.index("Post 4") and "Post 3" not in first
    assert 'href="/page/2/"' in first
    last = text(files, "tags/yet/page/3/index.html")
    assert "Post 1" in last and 'href="/tags/yet/page/2/"' in last


def test_post_page_has_prev_next_related_reading_time_and_tags(tmp_path):
    files = render(
        make_site(
            tmp_path,
            {
                "content/posts/a.md": make_post(title="Alpha", date="2020-01-01", tags=["yet", "coaching"]),
                "content/posts/b.md": make_post(title="Beta", date="2020-02-01", tags=["coaching"]),
                "content/posts/c.md": make_post(
                    title="Gamma", date="2020-03-01", tags=["other"], body=" ".join(["w"] * 700)
                ),
            },
        )
    )
    beta = text(files, "posts/b/index.html")
    assert re.search(r'rel="prev" href="/posts/a/"', beta) and re.search(r'rel="next" href="/posts/c/"', beta)
    related = beta.split('id="related-heading"')[1]
    assert "Alpha" in related and "Gamma" not in related
    assert "3 min read" in text(files, "posts/c/index.html")
    assert 'href="/tags/coaching/"' in beta


def test_archive_groups_by_year_and_month(tmp_path):
    files = render(
        make_site(
            tmp_path,
            {
                "content/posts/a.md": make_post(title="Alpha", date="2019-05-01"),
                "content/posts/b.md": make_post(title="Beta", date="2020-02-01"),
            },
        )
    )
    page = text(files, "archive/index.html")
    assert (
        page.index(">2020<") < page.index("February") < page.index(">2019<") < page.index("May") < page.index("Alpha")
    )


def test_drafts_never_in_build_output_but_shown_with_banner_with_drafts(tmp_path):
    source = make_site(
        tmp_path,
        {
            "content/posts/pub.md": make_post(title="Published", tags=["yet"]),
            "content/posts/wip.md": make_post(title="Secret draft", date="2020-02-01", tags=["yet"], draft=True),
        },
    )
    files = render(source)
    assert "posts/wip/index.html" not in files
    assert not any(b"Secret draft" in data for data in files.values())
    preview = render(source, drafts=True, serve=True)
    page = text(preview, "posts/wip/index.html")
    assert "DRAFT" in page and "draft-banner" in page
    assert "draft-banner" not in text(preview, "posts/pub/index.html")


def test_future_posts_need_the_future_flag(tmp_path):
    soon = (NOW + timedelta(days=10)).date().isoformat()
    source = make_site(tmp_path, {"content/posts/soon.md": make_post(title="Tomorrow's news", date=soon)})
    assert "posts/soon/index.html" not in render(source)
    assert "posts/soon/index.html" in render(source, future=True)


def test_unknown_front_matter_key_reachable_from_an_override(tmp_path):
    override = '{% extends "theme:post.html" %}{% block content %}<p class="mood">{{ post.meta.mood }}</p>{{ super() }}{% endblock %}'  # noqa: E501
    files = render(
        make_site(
            tmp_path,
            {
                "content/posts/a.md": make_post(title="Alpha", mood="hopeful <3"),
                "templates/post.html": override,
            },
        )
    )
    page = text(files, "posts/a/index.html")
    assert '<p class="mood">hopeful &lt;3</p>' in page
    assert "<h1" in page  # super(): the theme's own block still renders
    assert 'class="mood"' not in text(files, "index.html")  # the other templates are the theme's


def test_theme_override_of_one_template_only(tmp_path):
    files = render(
        make_site(
            tmp_path,
            {
                "content/posts/a.md": make_post(title="Alpha", tags=["yet"]),
                "templates/tag.html": '{% extends "theme:tag.html" %}{% block content %}<p id="mine">Mine: {{ tag.name }}</p>{% endblock %}',  # noqa: E501
            },
        )
    )
    assert '<p id="mine">Mine: yet</p>' in text(files, "tags/yet/index.html")
    assert 'id="mine"' not in text(files, "posts/a/index.html")


def test_template_errors_are_site_errors(tmp_path):
    source = make_site(tmp_path, {"content/posts/a.md": make_post(), "templates/post.html": "{% block %}"})
    with pytest.raises(SiteError) as info:
        render(source)
    assert "template syntax error" in info.value.message


def test_sub_path_base_url_prefixes_every_internal_link(tmp_path):
    config = MINIMAL_CONFIG.replace("https://example.org/", "https://example.org/journal/")
    body = "See [the other one](/posts/b/) and ![pic](/static/pic.png).\n\n::: network round=1\n"
    source = make_site(
        tmp_path,
        {
            "content/posts/a.md": make_post(title="Alpha", tags=["yet", "localgov digital"], body=body, round=1),
            "content/posts/b.md": make_post(title="Beta", date="2020-02-01", tags=["yet"]),
            "content/pages/about.md": "---\ntitle: About\n---\n[home](/)\n",
            "data/tags.yaml": "localgov digital:\n  aliases: [localgovdigital]\n",
            "data/people.yaml": PEOPLE,
            "data/rounds/round-1.yaml": ROUND,
            "static/pic.png": "not really a png",
        },
        config,
    )
    files = render(source)
    html_pages = [p for p in files if p.endswith(".html")]
    assert len(html_pages) > 10
    for path in html_pages:
        page = text(files, path)
        for attr, value in re.findall(r'\b(href|src|action)="([^"]*)"', page):
            if value.startswith(("#", "mailto:")):
                continue
            if value.startswith("http"):
                assert value.startswith("https://example.org/journal/"), (path, value)
            else:
                assert value.startswith("/journal/"), (path, attr, value)
        canonical = re.search(r'<link rel="canonical" href="([^"]+)"', page)
        assert canonical and canonical.group(1).startswith("https://example.org/journal/"), path
    for path in [p for p in files if p.endswith("feed.xml")]:
        feed = feedparser.parse(files[path])
        assert feed.bozo == 0
        links = [link.href for link in feed.feed.links] + [feed.feed.id]
        for entry in feed.entries:
            links += [entry.link, entry.id]
            links += re.findall(r'(?:href|src)="([^"]*)"', entry.content[0].value + entry.summary)
        assert links and all(u.startswith("https://example.org/journal/") for u in links), (path, links)
    for loc in re.findall(r"<loc>([^<]*)</loc>", text(files, "sitemap.xml")):
        assert loc.startswith("https://example.org/journal/"), loc
    assert "Sitemap: https://example.org/journal/sitemap.xml" in text(files, "robots.txt")
    redirect = text(files, "tags/localgovdigital/index.html")
    assert 'url=/journal/tags/localgov-digital/"' in redirect


def test_alias_redirect_page(tmp_path):
    files = render(
        make_site(
            tmp_path,
            {
                "content/posts/a.md": make_post(tags=["localgov digital"]),
                "content/posts/b.md": make_post(title="B", tags=["#LocalGovDigital"]),
                "data/tags.yaml": "localgov digital:\n  title: LocalGov Digital\n  aliases: [localgovdigital]\n",
            },
        )
    )
    redirect = text(files, "tags/localgovdigital/index.html")
    assert '<meta http-equiv="refresh" content="0; url=/tags/localgov-digital/">' in redirect
    assert '<link rel="canonical" href="https://example.org/tags/localgov-digital/">' in redirect
    assert "2 posts" in text(files, "tags/localgov-digital/index.html")
    assert 'href="/tags/localgov-digital/"' in text(files, "posts/b/index.html")  # alias spelling links the tag
    assert "tags/localgovdigital/" not in text(files, "sitemap.xml")


def test_tags_index_lists_counts_and_descriptions_on_tag_page(tmp_path):
    files = render(
        make_site(
            tmp_path,
            {
                **posts(3, ["Yet"]),
                "content/posts/x.md": make_post(title="X", tags=["coaching"]),
                "data/tags.yaml": "yet:\n  description: The power of *not yet*.\n",
            },
        )
    )
    index = text(files, "tags/index.html")
    assert re.search(r'href="/tags/yet/">Yet</a> <span class="count">\(3 posts\)', index)
    assert re.search(r'href="/tags/coaching/">coaching</a> <span class="count">\(1 post\)', index)
    assert "The power of <em>not yet</em>." in text(files, "tags/yet/index.html")


def test_feeds_parse_as_atom_with_updated_and_absolute_links(tmp_path):
    source = make_site(
        tmp_path,
        {
            "content/posts/a.md": make_post(
                title="Alpha & <Omega>", date="2020-01-01", tags=["yet"], updated="2020-03-05"
            ),
            "content/posts/b.md": make_post(title="Beta", date="2020-02-01", tags=["coaching"], body="[a](/posts/a/)"),
            "content/posts/c.md": make_post(title="Hidden", date="2020-02-03", tags=["yet"], draft=True),
        },
    )
    files = render(source)
    feed = feedparser.parse(files["feed.xml"])
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert [e.title for e in feed.entries] == ["Beta", "Alpha & <Omega>"]
    alpha = feed.entries[1]
    assert alpha.updated.startswith("2020-03-05") and alpha.published.startswith("2020-01-01")
    assert feed.feed.updated.startswith("2020-03-05")
    assert all(e.link.startswith("https://example.org/posts/") for e in feed.entries)
    assert 'href="https://example.org/posts/a/"' in feed.entries[0].content[0].value
    tag_feed = feedparser.parse(files["tags/yet/feed.xml"])
    assert tag_feed.bozo == 0 and [e.title for e in tag_feed.entries] == ["Alpha & <Omega>"]
    assert tag_feed.feed.links[0].href.startswith("https://example.org/")


def test_feed_size_limits_entries(tmp_path):
    config = MINIMAL_CONFIG + "feed_size: 2\n"
    feed = feedparser.parse(render(make_site(tmp_path, posts(4), config))["feed.xml"])
    assert [e.title for e in feed.entries] == ["Post 4", "Post 3"]


def test_post_linked_to_network_names_only_public_people(tmp_path):
    files = render(
        make_site(
            tmp_path,
            {
                "content/posts/a.md": make_post(title="Alpha", round=1, **{"with": ["me", "friend"]}),
                "data/people.yaml": PEOPLE,
                "data/rounds/round-1.yaml": ROUND,
            },
        )
    )
    page = text(files, "posts/a/index.html")
    assert "Me Myself" in page and 'href="/network/round-1/"' in page
    assert "1 participant who is not named" in page
    for path, data in files.items():
        assert b"Secret Friend" not in data, path
        assert b"friend" not in data.replace(b"friendly", b""), path


def test_html_pages_parse_without_html5_errors(tmp_path):
    files = render(
        make_site(
            tmp_path,
            {
                **posts(3, ["yet"]),
                "content/pages/about.md": "---\ntitle: About\n---\n| a | b |\n|---|---|\n| 1 | 2 |\n\nA footnote[^1].\n\n[^1]: Here.\n",  # noqa: E501
                "content/posts/code.md": make_post(title="Code", body="```python\nprint('<hi>')\n```\n"),
                "data/tags.yaml": "yet:\n  aliases: [not-yet]\n",
            },
        )
    )
    for path in [p for p in files if p.endswith(".html")]:
        parser = html5lib.HTMLParser(strict=False)
        parser.parse(files[path])
        assert parser.errors == [], (path, parser.errors[:3])


def test_tojson_cannot_close_a_script():
    out = str(_tojson({"name": "</script><script>alert('x')</script>&"}))
    assert "</" not in out and "<" not in out and "'" not in out and "&" not in out


def test_a_posts_list_item_is_rendered_once_per_build_and_reused_by_every_listing(tmp_path, monkeypatch):
    """The index, tag pages and round pages show the same list item for a post: render it once."""
    import builder.render as render_module

    site = make_site(tmp_path, posts(6, ["alpha", "beta"]))
    calls: list[str] = []
    original = render_module.Renderer.fragment

    def counting(self, template, post):
        calls.append(f"{template}:{post.source}")
        return original(self, template, post)

    rendered: list[str] = []
    real_render = render_module.jinja2.Template.render

    def spy(self, *args, **kwargs):
        if self.name == "partials/post_item.html":
            rendered.append(kwargs["post"].source)
        return real_render(self, *args, **kwargs)

    monkeypatch.setattr(render_module.Renderer, "fragment", counting)
    monkeypatch.setattr(render_module.jinja2.Template, "render", spy)
    files = render(site)
    item_calls = [c for c in calls if c.startswith("partials/post_item.html:")]
    assert len(item_calls) > len(set(item_calls))  # asked for by several listings...
    assert sorted(rendered) == sorted(set(rendered))  # ...but rendered once each
    assert len(set(rendered)) == 6
    index = text(files, "index.html")
    assert all(f"Post {i}</a>" in index for i in range(1, 7))  # the reused items are the right ones

"""The repository's example site: valid feeds, parseable HTML5 with the required meta on every page."""

from __future__ import annotations

import re

import feedparser
import html5lib
import pytest
from conftest import text

NS = {"h": "http://www.w3.org/1999/xhtml"}
BASE = "https://example.org/journal/"


def html_pages(files):
    return sorted(p for p in files if p.endswith(".html"))


def is_redirect(data: bytes) -> bool:
    return b'http-equiv="refresh"' in data


def test_example_builds_many_pages(example_build):
    pages = html_pages(example_build)
    assert len(pages) > 30
    assert "network/index.html" in pages and "posts/the-power-of-yet/index.html" in pages


def test_every_html_page_parses_without_errors(example_build):
    for path in html_pages(example_build):
        parser = html5lib.HTMLParser(strict=True)
        try:
            parser.parse(example_build[path])
        except html5lib.html5parser.ParseError as exc:  # pragma: no cover - failure path
            pytest.fail(f"{path}: {exc}")


def test_every_page_has_lang_title_meta_canonical_og_skip_link_and_landmarks(example_build):
    for path in html_pages(example_build):
        doc = html5lib.parse(example_build[path], namespaceHTMLElements=True)
        assert doc.get("lang"), path
        title = doc.find(".//h:head/h:title", NS)
        assert title is not None and title.text and title.text.strip(), path
        canonical = doc.find(".//h:link[@rel='canonical']", NS)
        assert canonical is not None and canonical.get("href", "").startswith(BASE), path
        if is_redirect(example_build[path]):
            continue  # alias redirect pages only need a canonical and the refresh
        metas = {m.get("name") or m.get("property"): m.get("content") for m in doc.iterfind(".//h:meta", NS)}
        assert metas.get("description"), path
        assert metas.get("og:title") and metas.get("og:url", "").startswith(BASE), path
        assert metas.get("viewport"), path
        skip = doc.find(".//h:a[@class='skip-link']", NS)
        assert skip is not None and skip.get("href") == "#main", path
        main = doc.find(".//h:main", NS)
        assert main is not None and main.get("id") == "main", path
        assert doc.find(".//h:nav", NS) is not None, path
        assert len(doc.findall(".//h:h1", NS)) == 1, path


def test_no_external_requests_in_markup(example_build):
    """Scripts, styles, images and iframes all come from the site itself."""
    for path in html_pages(example_build):
        page = text(example_build, path)
        for tag, url in re.findall(r"<(script|link|img|iframe|source)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", page):
            if tag == "link" and 'rel="canonical"' in page and url.startswith(BASE):
                continue
            assert not re.match(r"^(https?:)?//", url) or url.startswith(BASE), (path, tag, url)


def test_main_feed_is_valid_atom_without_drafts(example_build):
    feed = feedparser.parse(example_build["feed.xml"])
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "Notes from the Network"
    assert any(link.rel == "self" and link.href == BASE + "feed.xml" for link in feed.feed.links)
    assert len(feed.entries) >= 10
    titles = [e.title for e in feed.entries]
    assert "Half-formed thoughts on AI in councils" not in titles  # the example's draft
    for entry in feed.entries:
        assert entry.link.startswith(BASE + "posts/") and entry.id == entry.link
        assert entry.published and entry.updated
        for url in re.findall(r'(?:href|src)="([^"]+)"', entry.content[0].value + entry.summary):
            assert url.startswith(("https://", "http://", "#", "mailto:")), (entry.title, url)
    dates = [e.published_parsed for e in feed.entries]
    assert dates == sorted(dates, reverse=True)


def test_tag_feeds_contain_only_their_tags_posts(example_build):
    tag_feeds = sorted(p for p in example_build if p.startswith("tags/") and p.endswith("/feed.xml"))
    assert len(tag_feeds) >= 4
    for path in tag_feeds:
        slug = path.split("/")[1]
        feed = feedparser.parse(example_build[path])
        assert feed.bozo == 0 and feed.version == "atom10", path
        assert feed.entries, path
        for entry in feed.entries:
            post_page = text(example_build, entry.link.removeprefix(BASE) + "index.html")
            assert f'href="/journal/tags/{slug}/"' in post_page, (path, entry.title)


def test_sitemap_and_robots(example_build):
    sitemap = text(example_build, "sitemap.xml")
    locs = re.findall(r"<loc>([^<]+)</loc>", sitemap)
    assert BASE in locs and BASE + "posts/the-power-of-yet/" in locs
    assert all(loc.startswith(BASE) for loc in locs)
    assert "404" not in sitemap
    assert f"Sitemap: {BASE}sitemap.xml" in text(example_build, "robots.txt")


def test_private_people_never_appear(example_build):
    """member-* ids in the example are private; none may leak into any output file."""
    leaks = [p for p, data in example_build.items() if re.search(rb"member-\d\d", data)]
    assert leaks == []

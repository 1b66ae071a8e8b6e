"""fastmd.py: the optional cmark engine, checked against Python-Markdown (the default).

The parity tests render real content (the example site, the golden test site and
200 benchmark posts) with both engines and compare normalised DOMs: the same
elements, attributes and text once whitespace and entity spelling are ignored.
Where the engines legitimately differ, KNOWN_DIFFERENCES pins each difference
(the README lists the same cases); if one disappears its test fails so the list
stays true.
"""

from __future__ import annotations

import html
import os
import re
import sys
from pathlib import Path
from typing import Any

import html5lib
import pytest
from conftest import NOW, ROOT, make_post, make_site

from bench.corpus import make_post as corpus_post
from builder import parallel
from builder.build import Builder, BuildOptions
from builder.cli import main
from builder.content import split_front_matter
from builder.fastmd import convert
from builder.markup import ENGINE, render_markdown
from builder.model import Rendered

BASE = "/journal/"
ENGINES = ("python-markdown", "cmark")

Token = tuple[Any, ...]


def dom(fragment: str) -> list[Token]:
    """An HTML fragment as a flat list of start/text/end tokens (whitespace collapsed outside <pre>)."""
    root = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    out: list[Token] = []

    def text(value: str | None, pre: bool) -> None:
        value = value if pre or value is None else " ".join(value.split())
        if value:
            if out and out[-1][0] == "text":  # comments split text nodes; join them back
                out[-1] = ("text", out[-1][1] + value)
            else:
                out.append(("text", value))

    def walk(element: Any, pre: bool) -> None:
        if not isinstance(element.tag, str):  # a comment
            text(element.tail, pre)
            return
        inside = pre or element.tag == "pre"
        out.append(("start", element.tag, tuple(sorted(element.attrib.items()))))
        text(element.text, inside)
        for child in element:
            walk(child, inside)
        out.append(("end", element.tag))
        text(element.tail, pre)

    text(root.text, False)
    for child in root:
        walk(child, False)
    return out


def both(text: str, base_path: str = BASE) -> tuple[Rendered, Rendered]:
    return tuple(render_markdown(text, "p.md", 1, base_path, engine=engine) for engine in ENGINES)  # type: ignore[return-value]


def differences(text: str, base_path: str = BASE) -> dict[str, tuple[list[Token], list[Token]]]:
    """Fields of Rendered whose normalised content differs between the engines."""
    pm, cm = both(text, base_path)
    out = {}
    for field in ("html", "summary_html", "toc_html"):
        a, b = dom(getattr(pm, field)), dom(getattr(cm, field))
        if a != b:
            out[field] = (a, b)
    for field in ("words", "embeds", "links"):
        if getattr(pm, field) != getattr(cm, field):
            out[field] = (getattr(pm, field), getattr(cm, field))
    return out


def bodies(folder: Path) -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(ROOT)), split_front_matter(path.read_text(encoding="utf-8"), str(path)).body)
        for path in sorted(folder.rglob("*.md"))
    ]


SOURCES = {
    "example site": lambda: bodies(ROOT / "content"),
    "golden test site": lambda: bodies(ROOT / "tests" / "sites" / "basic" / "content"),
    "benchmark corpus (200 posts)": lambda: [
        (f"corpus-{i}", split_front_matter(corpus_post(42, i)["text"], "x").body) for i in range(1, 201)
    ],
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_engines_agree_on_real_content(source):
    items = SOURCES[source]()
    assert len(items) >= 7
    mismatched = {name: sorted(diff) for name, body in items if (diff := differences(body))}
    assert mismatched == {}


def test_the_comparison_sees_differences():
    # the normaliser ignores spelling, not content: these must all count as different
    assert dom("<p>a <em>b</em></p>") != dom("<p>a b</p>")
    assert dom('<a href="/x/">x</a>') != dom('<a href="/y/">x</a>')
    assert dom("<p>a</p>") != dom("<p>b</p>")
    assert dom("<pre><code>a  b</code></pre>") != dom("<pre><code>a b</code></pre>")
    assert dom("<p>&ldquo;a&rdquo;&#160;b</p>") == dom("<p>\u201ca\u201d\xa0b</p>")


# name -> (Markdown, text in Python-Markdown's HTML, text in cmark's HTML). Each is a
# real difference in the normalised DOM; the README's "Known differences" lists them.
KNOWN_DIFFERENCES: dict[str, tuple[str, str, str]] = {
    "loose list item": ("- a\n\n- b\n- c\n", "<li>c</li>", "<li>\n<p>c</p>\n</li>"),
    "two-space nested list": ("- a\n  - b\n", "<li>a</li>\n<li>b</li>", "<li>a\n<ul>"),
    "list right after a paragraph": ("para\n- a\n", "<p>para\n- a</p>", "<p>para</p>\n<ul>"),
    "1) numbered list": ("1) a\n2) b\n", "<p>1) a\n2) b</p>", "<ol>"),
    "mixed bullet markers": ("- a\n* b\n", "<li>a</li>\n<li>b</li>", "</ul>\n<ul>"),
    "leading apostrophe": ("'tis the 'season'\n", "&lsquo;tis", "\u2019tis"),
    "backslash before <": ("5 \\< 6\n", "5 \\&lt; 6", "5 &lt; 6"),
    "non-ASCII URL": ("[a](/posts/café/)\n", 'href="/journal/posts/café/"', 'href="/journal/posts/caf%C3%A9/"'),
    "raw HTML link": ('<a href="/a/">a</a>\n', 'href="/a/"', 'href="/journal/a/"'),
    "image alt with Markdown": ("![a *b*](/i.png)\n", 'alt="a *b*"', 'alt="a b"'),
    "attribute list": ("## Head {#custom}\n", 'id="custom"', 'id="head-custom"'),
    "definition list": ("Term\n: Definition\n", "<dt>Term</dt>", "<p>Term\n: Definition</p>"),
    "abbreviation": ("HTML\n\n*[HTML]: Hyper\n", '<abbr title="Hyper">', "<p>*[HTML]: Hyper</p>"),
    "[TOC] marker": ("[TOC]\n\n## A\n", '<div class="toc">', "<p>[TOC]</p>"),
    "unreferenced footnote": (
        "x[^a]\n\n[^a]: A\n[^z]: Z\n",
        'id="fn:z"',
        'footnote 1 in the text">&#8617;</a></p>\n</li>\n</ol>',
    ),
    "fenced code inside a list": ("- item\n\n    ```\n    code\n    ```\n", "<p><code>code</code></p>", "highlight"),
    "fenced code inside a blockquote": (
        "> ```python\n> x = 1\n> ```\n",
        "<p><code>python\nx = 1</code></p>",
        "highlight",
    ),
    "pipe inside code in a table": (
        "| a | b |\n|--|--|\n| `x\\|y` | z |\n",
        "<code>x\\|y</code>",
        "<code>x|y</code>",
    ),
}


@pytest.mark.parametrize("name", list(KNOWN_DIFFERENCES))
def test_known_differences(name):
    text, in_pm, in_cm = KNOWN_DIFFERENCES[name]
    pm, cm = both(text)
    assert differences(text), "the engines now agree: drop this case here and in the README"
    assert in_pm in pm.html and in_pm not in cm.html
    assert in_cm in cm.html and in_cm not in pm.html


def test_known_differences_are_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("#### Known differences", 1)[1].split("\n#", 1)[0]
    for name in KNOWN_DIFFERENCES:
        assert f"**{name}**" in section


def test_heading_ids_and_toc_match_python_markdown_byte_for_byte():
    text = (
        "# Title\n\n## Hello, World! & `code`\n\n### Sub héading\n\n## Hello, World! & `code`\n\n"
        '##### Deep\n\n## It\'s "quoted"[^1]\n\n#### Four\n\n## A_1\n\n## A\n\n## A\n\n[^1]: n\n'
    )
    pm, cm = both(text)
    ids = re.findall(r'<h\d id="([^"]*)"', cm.html)
    assert ids == re.findall(r'<h\d id="([^"]*)"', pm.html)
    assert ids == [
        "title",
        "hello-world-code",
        "sub-heading",
        "hello-world-code_1",
        "deep",
        "its-quoted",
        "four",
        "a_1",
        "a",
        "a_2",
    ]
    assert html.unescape(cm.toc_html) == html.unescape(pm.toc_html)
    assert 'href="#title"' not in cm.toc_html and 'href="#deep"' not in cm.toc_html  # levels 2-4 only


def test_raw_html_headings_keep_no_id_and_sourcepos_never_leaks():
    _, cm = both("<h2>Raw</h2>\n\n## Markdown\n\n<pre><code>raw</code></pre>\n\n| a |\n|:-:|\n| b |\n")
    assert "<h2>Raw</h2>" in cm.html and '<h2 id="markdown">' in cm.html
    assert "<pre><code>raw</code></pre>" in cm.html  # not highlighted, as in Python-Markdown
    assert 'style="text-align: center;"' in cm.html
    assert "data-sourcepos" not in cm.html


@pytest.mark.parametrize(
    "text",
    [
        "```python\ndef f(x):\n    return x < 1 and '&'\n```\n",
        "~~~ruby\nputs 1\n~~~\n",
        "```.js\nvar a;\n```\n",
        "```nosuchlang\nx\n```\n",
        "```\nplain <b>\n```\n",
        "    indented\n    code\n",
        "    :::python\n    x = 1\n",
    ],
)
def test_code_is_highlighted_exactly_as_python_markdown_does(text):
    pm, cm = both(text)
    assert '<div class="highlight">' in cm.html
    assert cm.html.strip() == pm.html.strip()


def test_footnotes_use_python_markdowns_markup_and_numbering():
    text = (
        "A[^note] b[^2] c[^note].\n\n## Head[^2]\n\n[^2]: Two.\n"
        "[^note]: Note *one*.\n\n    More.\n\n[^list]: - item\n\nd[^list]\n"
    )
    pm, cm = both(text)
    assert cm.html == pm.html  # numbered by definition order, repeat refs, backlinks, non-paragraph ends
    assert '<sup id="fnref2:note"><a class="footnote-ref" href="#fn:note">2</a></sup>' in cm.html
    assert cm.summary_html == pm.summary_html and "fnref" not in cm.summary_html


def test_base_path_links_and_lazy_images():
    _, cm = both('[a](/posts/x/) [b](https://x.org/) [c](#top) [d](//cdn/x) ![i](/static/i.png "T") ![j](x.png)')
    assert 'href="/journal/posts/x/"' in cm.html and 'href="https://x.org/"' in cm.html
    assert 'href="#top"' in cm.html and 'href="//cdn/x"' in cm.html
    assert '<img alt="i" decoding="async" loading="lazy" src="/journal/static/i.png" title="T">' in cm.html
    assert '<img alt="j" decoding="async" loading="lazy" src="x.png">' in cm.html
    assert cm.links == (("/posts/x/", 1), ("//cdn/x", 1), ("/static/i.png", 1))
    at_root = render_markdown("[a](/posts/x/)", "p.md", 1, "/", engine="cmark")
    assert 'href="/posts/x/"' in at_root.html


def test_embeds_more_marker_and_summary_go_through_the_same_tokens():
    text = 'Intro.\n\n::: network round=2 caption="Two"\n::: network round=3\n\nMore here.\n\n<!-- more -->\n\nRest.\n'
    pm, cm = both(text)
    assert cm.embeds == pm.embeds and len(cm.embeds) == 2
    assert cm.html == pm.html
    assert '<div class="nj-embed-row nj-embed-row--multi">' in cm.html and '<span id="more"></span>' in cm.html
    assert cm.summary_html == pm.summary_html == "<p>Intro.</p>\n\n<p>More here.</p>"


def test_raw_html_passes_through_without_a_tag_filter():
    _, cm = both(
        '<div class="x">\n<p>raw *html*</p>\n</div>\n\n<script>let a = 1;</script>\n\n<iframe src="x"></iframe>\n'
    )
    assert '<div class="x">\n<p>raw *html*</p>\n</div>' in cm.html
    assert "<script>let a = 1;</script>" in cm.html and '<iframe src="x"></iframe>' in cm.html


def test_engine_context_is_scoped_to_one_parse():
    post = make_post(body="It's here.")
    outcome = parallel.parse_one("post", "content/posts/a.md", post, "UTC", "/", "cmark")
    assert outcome[0] == "ok" and "\u2019" in outcome[1].body.html
    assert ENGINE.get() == "python-markdown"
    assert "&rsquo;" in render_markdown("It's here.", "p.md", 1, "/").html


def test_cmark_parses_in_process(monkeypatch):
    class NoPool:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("cmark must not start worker processes")

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", NoPool)
    items = [(f"content/posts/p{i}.md", make_post(title=f"P{i}", body=f"Post {i}'s body.")) for i in range(60)]
    outcomes = parallel.parse_all("post", items, "UTC", "/", jobs=2, engine="cmark")
    assert [o[0] for o in outcomes] == ["ok"] * 60
    assert outcomes[59][1].body.html == "<p>Post 59\u2019s body.</p>"
    with pytest.raises(AssertionError, match="worker processes"):
        parallel.parse_all("post", items, "UTC", "/", jobs=2)


def test_convert_alone_returns_body_and_toc():
    body, toc = convert("## A\n\ntext\n", "/")
    assert body == '<h2 id="a">A</h2>\n<p>text</p>'
    assert toc == '<div class="toc">\n<ul>\n<li><a href="#a">A</a></li>\n</ul>\n</div>\n'


def _pages(folder: Path) -> dict[str, list[Token]]:
    return {str(p.relative_to(folder)): dom(p.read_text(encoding="utf-8")) for p in sorted(folder.rglob("*.html"))}


def test_whole_site_builds_the_same_pages_with_either_engine(tmp_path):
    source = tmp_path / "site"
    import shutil

    shutil.copytree(ROOT / "tests" / "sites" / "basic", source)
    post = make_post(title="Quotes", date="2021-03-01", body='It\'s "quoted".', tags=["coaching"])
    (source / "content" / "posts" / "2021-03-01-quotes.md").write_text(post, encoding="utf-8")
    config = source / "site.yaml"
    default = config.read_text(encoding="utf-8")
    Builder().build(BuildOptions(source, tmp_path / "pm", cache=False, now=NOW))
    config.write_text(default + "markdown:\n  engine: cmark\n", encoding="utf-8")
    Builder().build(BuildOptions(source, tmp_path / "cm", cache=False, now=NOW))
    pm, cm = _pages(tmp_path / "pm"), _pages(tmp_path / "cm")
    assert len(pm) > 10 and pm.keys() == cm.keys()
    assert [name for name in pm if pm[name] != cm[name]] == []
    # and the cmark build really used cmark: it writes smart quotes as characters
    quotes = Path("posts") / "quotes" / "index.html"
    assert "<p>It&rsquo;s &ldquo;quoted&rdquo;.</p>" in (tmp_path / "pm" / quotes).read_text(encoding="utf-8")
    assert "<p>It\u2019s \u201cquoted\u201d.</p>" in (tmp_path / "cm" / quotes).read_text(encoding="utf-8")


def test_switching_engine_does_not_reuse_the_other_engines_cache(tmp_path):
    site = make_site(tmp_path, {"content/posts/a.md": make_post(title="A", body="It's a post.")})
    page = tmp_path / "public" / "posts" / "a" / "index.html"
    builder = Builder()
    builder.build(BuildOptions(site, tmp_path / "public", now=NOW))
    assert "It&rsquo;s a post." in page.read_text(encoding="utf-8")
    config = site / "site.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "markdown:\n  engine: cmark\n", encoding="utf-8")
    builder.build(BuildOptions(site, tmp_path / "public", now=NOW))
    assert "It\u2019s a post." in page.read_text(encoding="utf-8")


def test_missing_cmarkgfm_is_a_site_yaml_error(tmp_path, monkeypatch, capsys):
    config = "title: T\nbase_url: https://example.org/\nmarkdown:\n  engine: cmark\n"
    site = make_site(tmp_path, {"content/posts/a.md": make_post()}, config=config)
    monkeypatch.setitem(sys.modules, "cmarkgfm", None)  # as if not installed: find_spec says None
    assert main(["build", "--source", str(site), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "site.yaml:4: markdown.engine cmark needs the cmarkgfm package" in err
    assert "pip install 'netjournal[fast]'" in err
    assert not (site / "public" / "index.html").exists()


def test_cmark_conversions_do_not_leak_native_memory() -> None:
    """cmarkgfm's own wrapper never frees the document or the HTML (~45 KB a post, ~90 MB here)."""
    from builder import fastmd

    def rss_mib() -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            line = next(row for row in status if row.startswith("VmRSS"))
        return int(line.split()[1]) // 1024

    paragraph = "A paragraph with *emphasis*, `code` and a [link](/x/).\n\n"
    text = "# Title\n\n" + paragraph * 40 + "| a | b |\n|---|---|\n| 1 | 2 |\n"
    fastmd.convert(text, "/")
    before = rss_mib()
    for _ in range(2000):
        fastmd.convert(text, "/")
    assert rss_mib() - before < 20


def test_cmark_uses_workers_for_big_sites_when_it_cannot_fork(monkeypatch):
    """At MIN_PARALLEL_FAST posts and more, the other cores are worth the processes; a process
    with threads (serve) must not fork, so it uses a pool."""
    monkeypatch.setattr(parallel.threading, "active_count", lambda: 3)
    started: list[int] = []
    real = parallel.ProcessPoolExecutor

    def counting(*args: Any, **kwargs: Any) -> Any:
        started.append(kwargs.get("max_workers", 0))
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", counting)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_FAST", 50)
    items = [(f"content/posts/p{i}.md", make_post(title=f"P{i}", body=f"Post {i}'s body.")) for i in range(60)]
    outcomes = parallel.parse_all("post", items, "UTC", "/", jobs=2, engine="cmark")
    assert started == [2]
    assert [o[1].body.html for o in outcomes] == [f"<p>Post {i}\u2019s body.</p>" for i in range(60)]


def _outcomes_as_data(outcomes: list[Any]) -> list[Any]:
    return [(o[0], o[1].body.html, o[1].title) if o[0] == "ok" else o for o in outcomes]


def _items_with_an_error(n: int) -> list[tuple[str, str]]:
    items = [(f"content/posts/p{i}.md", make_post(title=f"P{i}", body=f"Post {i}'s *body*.")) for i in range(n)]
    items[n - 3] = ("content/posts/bad.md", "---\ntitle: [unclosed\n---\nText\n")  # in the child's half
    return items


def test_cmark_splits_posts_between_forked_processes(monkeypatch):
    read: list[int] = []
    real = parallel._read_spool

    def reading(spool: Any) -> Any:
        found = real(spool)
        read.append(len(found) if found is not None else -1)
        return found

    monkeypatch.setattr(parallel, "_read_spool", reading)
    monkeypatch.setattr(parallel, "MIN_FORK_FAST", 50)
    monkeypatch.setattr(parallel, "SPOOL_CHUNK", 7)  # several pickles per spool
    items = _items_with_an_error(61)
    serial = parallel.parse_all("post", items, "UTC", "/", jobs=1, engine="cmark")
    assert read == []
    split = parallel.parse_all("post", items, "UTC", "/", jobs=2, engine="cmark")
    assert read == [31]  # the second half came from the child
    assert _outcomes_as_data(split) == _outcomes_as_data(serial)
    assert split[58][0] == "errors" and split[58][1][0][0] == "content/posts/bad.md"


def test_a_failed_parsing_child_leaves_its_half_to_this_process(monkeypatch):
    parent = os.getpid()
    real = parallel._parse_chunk

    def failing_in_the_child(*args: Any) -> Any:
        if os.getpid() != parent:
            raise MemoryError("child only")
        return real(*args)

    monkeypatch.setattr(parallel, "_parse_chunk", failing_in_the_child)
    monkeypatch.setattr(parallel, "MIN_FORK_FAST", 50)
    items = _items_with_an_error(60)
    split = parallel.parse_all("post", items, "UTC", "/", jobs=2, engine="cmark")
    serial = parallel.parse_all("post", items, "UTC", "/", jobs=1, engine="cmark")
    assert _outcomes_as_data(split) == _outcomes_as_data(serial)

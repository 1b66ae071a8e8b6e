"""markup.py: Markdown rendering, base paths, the network directive, summaries, links."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder.errors import SiteError
from builder.markup import parse_directive, plain_text, render_markdown


def test_root_relative_links_and_images_get_the_base_path():
    out = render_markdown("[a](/posts/x/) [b](https://x.org/) ![i](/static/i.png) [c](#top)", "p.md", 5, "/journal/")
    assert 'href="/journal/posts/x/"' in out.html and 'href="https://x.org/"' in out.html
    assert 'src="/journal/static/i.png"' in out.html and 'loading="lazy"' in out.html
    assert 'href="#top"' in out.html
    assert out.links == (("/posts/x/", 5), ("/static/i.png", 5))


def test_raw_html_is_kept_but_code_is_escaped():
    out = render_markdown("`<script>`\n\n```\n<b>x</b>\n```\n", "p.md", 1, "/")
    assert "&lt;script&gt;" in out.html and "&lt;b&gt;" in out.html


def test_directive_becomes_placeholder_with_line():
    out = render_markdown('Intro.\n\n::: network round=2 mode=round caption="Round <two>"\n', "p.md", 10, "/")
    (embed,) = out.embeds
    assert (embed.round, embed.mode, embed.view, embed.caption, embed.line) == (
        2,
        "round",
        "people",
        "Round <two>",
        12,
    )
    assert 'caption="Round &lt;two&gt;"' in out.html
    assert "::: network" not in out.html


def test_consecutive_directives_share_a_row():
    out = render_markdown("::: network round=1\n::: network round=2\n", "p.md", 1, "/")
    assert [e.round for e in out.embeds] == [1, 2]
    assert 'class="nj-embed-row nj-embed-row--multi"' in out.html


def test_directive_in_a_code_fence_is_left_alone():
    out = render_markdown("```\n::: network round=99\n```\n", "p.md", 1, "/")
    assert out.embeds == () and "::: network round=99" in out.html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("", "needs round=<number>"),
        ("round=x", "needs round=<number>"),
        ("round=1 colour=red", "unknown argument"),
        ("round=1 mode=sideways", "mode must be"),
        ('round=1 caption="open', "No closing quotation"),
    ],
)
def test_bad_directives_are_errors_with_line(args, message):
    with pytest.raises(SiteError) as info:
        parse_directive(args, "p.md", 7)
    assert info.value.line == 7 and message in info.value.message


def test_more_marker_only_first_and_not_in_code():
    out = render_markdown("A.\n\n```\n<!-- more -->\n```\n\nB.\n\n<!-- more -->\n\nC.\n", "p.md", 1, "/")
    assert "B." in out.summary_html and "C." not in out.summary_html


def test_summary_drops_footnote_marks():
    out = render_markdown("First[^1] para.\n\n[^1]: note\n", "p.md", 1, "/")
    assert out.summary_html == "<p>First para.</p>"


def test_toc_and_word_count():
    out = render_markdown("## One\n\ntext here\n\n## Two\n\nmore words\n", "p.md", 1, "/")
    assert 'href="#one"' in out.toc_html
    assert out.words == 6


def test_plain_text_shortens_on_a_word_boundary():
    assert plain_text("<p>Hello &amp; <em>world</em></p><p>again</p>") == "Hello & world again"
    assert plain_text("<p>one two three four</p>", 10) == "one two…"


@given(st.text(max_size=300))
def test_render_never_crashes(text):
    try:
        render_markdown(text, "fuzz.md", 1, "/")
    except SiteError as exc:
        assert exc.path == "fuzz.md"

"""Markdown -> HTML with the configured Python-Markdown and our extensions.

The rendered result depends only on the text and the site's base path, so it is
cached by content hash. Network directives become placeholders here and are
filled in by the render stage, which knows the network; that keeps this cacheable.
"""

from __future__ import annotations

import html
import re
import shlex
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextvars import ContextVar

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from .config import MARKDOWN_ENGINES
from .errors import SiteError
from .model import Embed, Rendered

DIRECTIVE = re.compile(r"^:::\s*network\b(?P<args>.*?)(?::::)?\s*$")
MORE = re.compile(r"^\s*<!--\s*more\s*-->\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
LINK = re.compile(r"\]\((/[^)\s]*)")
EMBED_TOKEN = "NJEMBED{}X"  # noqa: S105 - a placeholder, not a secret
MORE_TOKEN = "NJMOREX"  # noqa: S105 - a placeholder, not a secret
EMBED_PLACEHOLDER = re.compile(r"<nj-embed ([^>]*)></nj-embed>")
EMBED_ROW = re.compile(r"<p>NJEMBED(\d+)X</p>")
FIRST_PARAGRAPH = re.compile(r"<p>.*?</p>", re.S)
TAGS = re.compile(r"<[^>]+>")

# The engine render_markdown uses when none is passed: parallel.parse_one sets it around one
# parse_post/parse_page call (content.py renders bodies without knowing the site settings).
ENGINE: ContextVar[str] = ContextVar("markdown_engine", default=MARKDOWN_ENGINES[0])

_local = threading.local()


class _SitePathTreeprocessor(Treeprocessor):
    """Prefix root-relative links with the base path; lazy-load images."""

    def __init__(self, md: markdown.Markdown, base_path: str):
        super().__init__(md)
        self.base_path = base_path

    def run(self, root: ET.Element) -> None:
        for element in root.iter():
            attr = "href" if element.tag == "a" else "src" if element.tag == "img" else None
            if attr:
                value = element.get(attr, "")
                if value.startswith("/") and not value.startswith("//"):
                    element.set(attr, self.base_path + value[1:])
            if element.tag == "img":
                element.set("loading", "lazy")
                element.set("decoding", "async")


class _SitePaths(Extension):
    def __init__(self, base_path: str):
        super().__init__()
        self.base_path = base_path

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.treeprocessors.register(_SitePathTreeprocessor(md, self.base_path), "nj_site_paths", 1)


def make_markdown(base_path: str) -> markdown.Markdown:
    """The one Markdown configuration every post and page is rendered with."""
    return markdown.Markdown(
        extensions=["extra", "toc", "codehilite", "sane_lists", "smarty", _SitePaths(base_path)],
        extension_configs={
            "toc": {"permalink": False, "toc_depth": "2-4"},
            "codehilite": {"css_class": "highlight", "guess_lang": False},
            "footnotes": {"BACKLINK_TEXT": "↩"},
            "smarty": {"smart_angled_quotes": False},
        },
        output_format="html",
    )


def _markdown_for(base_path: str) -> markdown.Markdown:
    """A per-thread, per-base-path Markdown instance (instances are not thread-safe)."""
    cache: dict[str, markdown.Markdown] = getattr(_local, "md", None) or {}
    _local.md = cache
    if base_path not in cache:
        cache[base_path] = make_markdown(base_path)
    return cache[base_path]


def parse_directive(args: str, path: str, line: int) -> Embed:
    """``round=2 mode=round caption="…"`` -> Embed, or a SiteError saying what is wrong."""
    try:
        parts = shlex.split(args)
    except ValueError as exc:
        raise SiteError(path, line, f"network directive: {exc}", 'quote captions: caption="Round two"') from None
    values: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or key not in ("round", "mode", "view", "caption"):
            raise SiteError(
                path, line, f"network directive: unknown argument '{part}'", "use round=, mode=, view=, caption="
            )
        values[key] = value
    if not values.get("round", "").isdigit() or int(values["round"]) < 1:
        raise SiteError(path, line, "network directive needs round=<number>", "e.g. ::: network round=2")
    mode = values.get("mode", "cumulative")
    view = values.get("view", "people")
    if mode not in ("cumulative", "round"):
        raise SiteError(path, line, f"network directive: mode must be cumulative or round, not '{mode}'")
    if view not in ("people", "orgs"):
        raise SiteError(path, line, f"network directive: view must be people or orgs, not '{view}'")
    return Embed(int(values["round"]), line, mode, view, values.get("caption", ""))


def _prepare(text: str, path: str, first_line: int) -> tuple[str, list[list[Embed]], list[tuple[str, int]], bool]:
    """Replace directives and the more-marker by tokens (fence-aware), collect links."""
    out: list[str] = []
    rows: list[list[Embed]] = []
    links: list[tuple[str, int]] = []
    in_fence: str | None = None
    has_more = False
    previous_was_directive = False
    for index, line in enumerate(text.split("\n")):
        number = first_line + index
        fence = FENCE.match(line)
        if fence and (in_fence is None or fence.group(1) == in_fence):
            in_fence = None if in_fence else fence.group(1)
        directive = None if in_fence else DIRECTIVE.match(line)
        if directive:
            embed = parse_directive(directive.group("args"), path, number)
            if previous_was_directive:
                rows[-1].append(embed)
            else:
                rows.append([embed])
                out.extend(["", EMBED_TOKEN.format(len(rows) - 1), ""])
            previous_was_directive = True
            continue
        previous_was_directive = False
        if not in_fence and not has_more and MORE.match(line):
            has_more = True
            out.extend(["", MORE_TOKEN, ""])
            continue
        if not in_fence:
            links.extend((href, number) for href in LINK.findall(line))
        out.append(line)
    return "\n".join(out), rows, links, has_more


def embed_placeholder(embed: Embed) -> str:
    """An inert element the render stage swaps for the diagram partial."""
    attrs = f'round="{embed.round}" mode="{embed.mode}" view="{embed.view}" caption="{html.escape(embed.caption)}"'
    return f"<nj-embed {attrs}></nj-embed>"


def render_markdown(text: str, path: str, first_line: int, base_path: str, engine: str | None = None) -> Rendered:
    """Render a post/page body. ``first_line`` is the body's line in the file (for errors).

    ``engine`` is one of config.MARKDOWN_ENGINES (default: the ENGINE context variable, normally
    python-markdown); both go through the same directive/more-marker tokens.
    """
    prepared, rows, links, has_more = _prepare(text, path, first_line)
    if (engine or ENGINE.get()) == "cmark":
        from .fastmd import convert

        body, toc = convert(prepared, base_path)
    else:
        md = _markdown_for(base_path)
        md.reset()
        body = md.convert(prepared)
        toc = getattr(md, "toc", "")
    body = EMBED_ROW.sub(lambda m: _row_html(rows[int(m.group(1))]), body)
    summary = ""
    if has_more:
        summary, _, _ = body.partition(f"<p>{MORE_TOKEN}</p>")
        body = body.replace(f"<p>{MORE_TOKEN}</p>", '<span id="more"></span>', 1)
    else:
        first = FIRST_PARAGRAPH.search(body)
        summary = first.group(0) if first else ""
    summary = _strip_footnote_refs(summary)
    embeds = tuple(embed for row in rows for embed in row)
    words = len(TAGS.sub(" ", body).split())
    return Rendered(body, summary.strip(), toc if "<li>" in toc else "", words, embeds, tuple(links))


def _row_html(row: list[Embed]) -> str:
    inner = "".join(embed_placeholder(embed) for embed in row)
    kind = "nj-embed-row nj-embed-row--multi" if len(row) > 1 else "nj-embed-row"
    return f'<div class="{kind}">{inner}</div>'


def _strip_footnote_refs(fragment: str) -> str:
    """Summaries appear on listing pages: drop footnote marks and diagrams there."""
    fragment = re.sub(r'<div class="nj-embed-row[^"]*">.*?</div>', "", fragment)
    return re.sub(r'<sup id="fnref[^"]*"><a [^>]*>\d+</a></sup>', "", fragment)


def render_inline(text: str, base_path: str) -> str:
    """Render a short Markdown text (tag descriptions, summaries) to HTML."""
    md = _markdown_for(base_path)
    md.reset()
    return md.convert(text)


def plain_text(fragment: str, limit: int = 0) -> str:
    """HTML -> plain text for meta descriptions (shortened on a word boundary)."""
    fragment = re.sub(r"</(p|li|h[1-6]|div|blockquote|td|th|pre)>|<br\s*/?>", " ", fragment)
    text = " ".join(html.unescape(TAGS.sub("", fragment)).split())
    if limit and len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return text


def iter_embeds(placeholder_html: str) -> Iterator[re.Match[str]]:
    return EMBED_PLACEHOLDER.finditer(placeholder_html)

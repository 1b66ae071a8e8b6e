"""The optional fast Markdown engine: cmark-gfm, reshaped to look like Python-Markdown's output.

Python-Markdown is most of a cold build (~10 ms a post); cmark-gfm parses the same
post in ~0.2 ms. Themes, CSS, summaries and the search index were written against
Python-Markdown's HTML, so this module rewrites cmark's output into the same shapes:
heading ids from Python-Markdown's own ``slugify``/``unique``, the same table of
contents, code highlighted by the same ``CodeHilite`` call, footnotes in the
``footnotes`` extension's markup, table alignment as ``style``, base-path links and
lazy images. It works on cmark's regular output with regular expressions (the
cmarkgfm binding exposes no AST editing); ``data-sourcepos`` marks which elements
came from Markdown, so raw HTML headings, code and tables are left alone, as
Python-Markdown leaves them. The differences that remain are listed in the README.

cmarkgfm is an optional dependency (``pip install 'netjournal[fast]'``); it is
imported on first use only.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable
from typing import Any

from markdown.extensions.codehilite import CodeHilite
from markdown.extensions.toc import nest_toc_tokens, slugify, strip_tags, unique

# As markup.make_markdown configures codehilite (css_class, guess_lang) plus its defaults.
_HILITE: dict[str, Any] = {"css_class": "highlight", "guess_lang": False, "tab_length": 4}

SOURCEPOS = re.compile(r' data-sourcepos="[\d:-]*"')
CODE_BLOCK = re.compile(
    r'<pre data-sourcepos="(\d+):(\d+)-[\d:]*"><code(?: class="language-([^"]*)")?>(.*?)</code></pre>\n?', re.S
)
HEADING = re.compile(r'<h([1-6]) data-sourcepos="[\d:-]*">(.*?)</h\1>', re.S)
FOOTNOTE_REF = re.compile(
    r'<sup class="footnote-ref"><a href="#fn-([^"]*)" id="fnref-\1(?:-(\d+))?" data-footnote-ref>\d+</a></sup>'
)
FOOTNOTE_SECTION = re.compile(r'<section class="footnotes" data-footnotes>\n<ol>\n(.*)</ol>\n</section>\n?', re.S)
FOOTNOTE_ITEM = re.compile(r'<li id="fn-([^"]*)">\n(.*?)\n</li>\n', re.S)
BACKREFS = re.compile(r'(\n| )(<a href="#fnref-[^"]*" class="footnote-backref"[^>]*>.*?</a>)(?:</p>)?$', re.S)
BACKREF = re.compile(r'<a href="#fnref-[^"]*" class="footnote-backref"')
FOOTNOTE_DEF = re.compile(r"^ {0,3}\[\^([^\]\n]+)\]:", re.M)
PM_FNREF = re.compile(r'<sup id="fnref\d*:[^"]*"><a class="footnote-ref"[^>]*>\d+</a></sup>')
TABLE_ALIGN = re.compile(r'<(t[hd]) align="(left|center|right)"(?= data-sourcepos)')
IMAGE = re.compile(r'<img src="([^"]*)" alt="([^"]*)"( title="[^"]*")? />')
ROOT_LINK = re.compile(r'<a href="/(?!/)')
FENCE_LINE = re.compile(r"^\s*(```|~~~)")

_convert: Callable[[str, int, list[str]], str] | None = None
_options = 0


def _cmark() -> Callable[[str, int, list[str]], str]:
    global _convert, _options
    if _convert is None:
        from cmarkgfm import cmark

        o = cmark.Options
        # UNSAFE: raw HTML passes through as in Python-Markdown. No tagfilter, autolink or
        # strikethrough: Python-Markdown's `extra` has none of them.
        _options = o.CMARK_OPT_UNSAFE | o.CMARK_OPT_FOOTNOTES | o.CMARK_OPT_SMART | o.CMARK_OPT_SOURCEPOS
        _convert = _freeing_converter()
    return _convert


def _freeing_converter() -> Callable[[str, int, list[str]], str]:
    """cmarkgfm's ``markdown_to_html_with_extensions``, without its leak.

    cmarkgfm 2025.10.22 never frees the document tree nor the rendered HTML (~45 KB per
    post: 450 MB over a 10,000-post cold build). Its CFFI module exposes no free functions,
    but the compiled library exports ``cmark_node_free`` and the allocator cmark used, so
    the same steps are taken here and both are released.
    """
    import ctypes

    from cmarkgfm import _cmark, cmark  # type: ignore[attr-defined]

    ffi, lib = _cmark.ffi, _cmark.lib
    native = ctypes.CDLL(_cmark.__file__)
    native.cmark_node_free.argtypes = [ctypes.c_void_p]
    native.cmark_node_free.restype = None

    class _Mem(ctypes.Structure):  # cmark_mem: {calloc, realloc, free}
        _fields_ = [
            ("calloc", ctypes.c_void_p),
            ("realloc", ctypes.c_void_p),
            ("free", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
        ]

    native.cmark_get_default_mem_allocator.restype = ctypes.POINTER(_Mem)
    release = native.cmark_get_default_mem_allocator().contents.free
    cmark.core_extensions_ensure_registered()

    def convert(text: str, options: int, extensions: list[str]) -> str:
        parser = cmark.parser_new(options=options)
        root = ffi.NULL
        try:
            for name in extensions:
                cmark.parser_attach_syntax_extension(parser, cmark.find_syntax_extension(name))
            cmark.parser_feed(parser, text)
            root = cmark.parser_finish(parser)
            raw = lib.cmark_render_html(root, options, cmark.parser_get_syntax_extensions(parser))
            try:
                return str(ffi.string(raw).decode("utf-8"))
            finally:
                release(int(ffi.cast("uintptr_t", raw)))
        finally:
            if root != ffi.NULL:
                native.cmark_node_free(int(ffi.cast("uintptr_t", root)))
            cmark.parser_free(parser)

    return convert


def convert(text: str, base_path: str) -> tuple[str, str]:
    """Markdown -> (body HTML, table-of-contents HTML), both shaped like Python-Markdown's."""
    raw = _cmark()(text, _options, ["table"])
    if "footnote-ref" in raw:
        raw = _footnotes(raw, _definition_order(text))
    if "<pre data-sourcepos" in raw:
        raw = _highlight(raw, text.split("\n"))
    raw, tokens = _heading_ids(raw)
    if "<table" in raw:
        raw = TABLE_ALIGN.sub(r'<\1 style="text-align: \2;"', raw)
    raw = SOURCEPOS.sub("", raw)
    if "<img" in raw:
        raw = IMAGE.sub(lambda m: _image(m, base_path), raw)
    if base_path != "/":
        raw = ROOT_LINK.sub(f'<a href="{base_path}', raw)
    return raw.strip(), toc_html(tokens)  # stripped, as Python-Markdown's convert() does


def _definition_order(text: str) -> list[str]:
    """Footnote labels in the order they are defined (how Python-Markdown numbers them)."""
    labels: list[str] = []
    in_fence: str | None = None
    for line in text.split("\n"):
        fence = FENCE_LINE.match(line)
        if fence and (in_fence is None or fence.group(1) == in_fence):
            in_fence = None if in_fence else fence.group(1)
            continue
        if in_fence is None and "[^" in line:
            found = FOOTNOTE_DEF.match(line)
            if found and found.group(1) not in labels:
                labels.append(found.group(1))
    return labels


def _footnotes(raw: str, order: list[str]) -> str:
    """cmark's footnote refs and section -> the markup of Python-Markdown's ``footnotes`` extension."""
    number = {label: index for index, label in enumerate(order, start=1)}
    for label in re.findall(r'<li id="fn-([^"]*)">', raw):
        number.setdefault(label, len(number) + 1)

    def ref(m: re.Match[str]) -> str:
        label, repeat = m.group(1), m.group(2)
        ref_id = f"fnref{repeat or ''}:{label}"
        return f'<sup id="{ref_id}"><a class="footnote-ref" href="#fn:{label}">{number[label]}</a></sup>'

    body = FOOTNOTE_REF.sub(ref, raw)
    section = FOOTNOTE_SECTION.search(body)
    if not section:
        return body
    items = [
        (number[m.group(1)], _footnote_item(m.group(1), m.group(2), number[m.group(1)]))
        for m in FOOTNOTE_ITEM.finditer(section.group(1))
    ]
    listing = "\n".join(item for _, item in sorted(items))
    div = f'<div class="footnote">\n<hr>\n<ol>\n{listing}\n</ol>\n</div>'
    return body[: section.start()] + div + body[section.end() :]


def _footnote_item(label: str, inner: str, number: int) -> str:
    refs = len(BACKREF.findall(inner))
    links = "".join(
        f'<a class="footnote-backref" href="#fnref{k if k > 1 else ""}:{label}"'
        f' title="Jump back to footnote {number} in the text">&#8617;</a>'
        for k in range(1, refs + 1)
    )
    found = BACKREFS.search(inner)
    if found is None:
        return f'<li id="fn:{label}">\n{inner}\n</li>'
    if found.group(1) == " ":  # inside the last paragraph
        inner = inner[: found.start()] + f"&#160;{links}</p>"
    else:  # the last block is not a paragraph: Python-Markdown adds one
        inner = inner[: found.start()] + f"\n<p>{links}</p>"
    return f'<li id="fn:{label}">\n{inner}\n</li>'


def _highlight(raw: str, lines: list[str]) -> str:
    """Code blocks -> the same CodeHilite markup Python-Markdown's fenced_code/codehilite make."""

    def block(m: re.Match[str]) -> str:
        line, column = int(m.group(1)), int(m.group(2))
        source = lines[line - 1][column - 1 :] if line <= len(lines) else ""
        code = html.unescape(m.group(4))
        info = m.group(3)
        if source.startswith(("```", "~~~")):
            lang = html.unescape(info).lstrip(".") if info else None
            tools = _pygments_for(lang)
            if tools is None:
                return CodeHilite(code, lang=lang, **_HILITE).hilite(shebang=False)
            from pygments import highlight

            return str(highlight(code.strip("\n"), *tools))
        return CodeHilite(code, **_HILITE).hilite()

    return CODE_BLOCK.sub(block, raw)


@functools.lru_cache(maxsize=256)
def _pygments_for(lang: str | None) -> tuple[Any, Any] | None:
    """The lexer and formatter ``CodeHilite(lang=lang).hilite(shebang=False)`` would build.

    Built once per language instead of once per code block (finding a lexer by name and
    making a formatter was ~0.5 ms a block); both are reusable. None: let CodeHilite do it.
    """
    from pygments.formatters import get_formatter_by_name
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    hilite = CodeHilite("", lang=lang, **_HILITE)
    if not hilite.use_pygments or hilite.guess_lang or not isinstance(hilite.pygments_formatter, str):
        return None
    try:
        lexer = get_lexer_by_name(hilite.lang, **hilite.options)
    except ValueError:
        lexer = get_lexer_by_name("text", **hilite.options)
    try:
        formatter = get_formatter_by_name(hilite.pygments_formatter, **hilite.options)
    except ClassNotFound:
        formatter = get_formatter_by_name("html", **hilite.options)
    return lexer, formatter


def _heading_ids(raw: str) -> tuple[str, list[dict[str, Any]]]:
    """Give every Markdown heading Python-Markdown's toc id; collect levels 2-4 for the toc."""
    used: set[str] = set()
    tokens: list[dict[str, Any]] = []

    def heading(m: re.Match[str]) -> str:
        level, inner = int(m.group(1)), m.group(2)
        name = strip_tags(PM_FNREF.sub("", inner)).strip()
        ident = unique(slugify(html.unescape(name), "-"), used)
        if 2 <= level <= 4:
            tokens.append({"level": level, "id": ident, "name": name, "html": inner})
        return f'<h{level} id="{ident}">{inner}</h{level}>'

    return HEADING.sub(heading, raw), tokens


def toc_html(tokens: list[dict[str, Any]]) -> str:
    """The toc extension's ``<div class="toc">`` for these headings."""

    def ul(items: list[dict[str, Any]]) -> str:
        rows = "".join(
            f'<li><a href="#{item["id"]}">{item["name"]}</a>{ul(item["children"]) if item["children"] else ""}</li>\n'
            for item in items
        )
        return f"<ul>\n{rows}</ul>\n"

    nested: Any = nest_toc_tokens(tokens)  # type: ignore[arg-type]
    return f'<div class="toc">\n{ul(nested)}</div>\n'


def _image(m: re.Match[str], base_path: str) -> str:
    src, alt, title = m.group(1), m.group(2), m.group(3) or ""
    if src.startswith("/") and not src.startswith("//"):
        src = base_path + src[1:]
    return f'<img alt="{alt}" decoding="async" loading="lazy" src="{src}"{title}>'

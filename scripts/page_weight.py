#!/usr/bin/env python3
"""Bytes per page type: the HTML plus the CSS and JS each page loads, raw and gzipped.

Why: "small pages" is a promise to readers on slow connections; this makes it a number.
The assets are read from the page's own ``<link rel=stylesheet>`` and ``<script src>``
(the browser test checks that this is exactly what a browser fetches). The search page
also loads Pagefind's runtime on the first query; that is reported as its own row.

    python scripts/page_weight.py              # build the example site in memory and report
    python scripts/page_weight.py public/      # report on an existing build
    python scripts/page_weight.py --json       # machine-readable
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent

_TAG = re.compile(rb"<(link|script)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(rb'([a-zA-Z-]+)\s*=\s*"([^"]*)"')


@dataclass(frozen=True)
class Weight:
    """One page type's cost: what it is, what it loads, and the byte counts."""

    kind: str
    path: str
    assets: tuple[str, ...]
    html: int
    css: int
    js: int
    total: int
    gzip_total: int


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def asset_urls(html: bytes) -> list[str]:
    """URLs of the stylesheets and external scripts a page loads, in document order."""
    urls = []
    for match in _TAG.finditer(html):
        attrs = {k.lower(): v for k, v in _ATTR.findall(match.group(2))}
        if match.group(1).lower() == b"link" and b"stylesheet" in attrs.get(b"rel", b"").split():
            urls.append(attrs.get(b"href", b"").decode())
        elif match.group(1).lower() == b"script" and b"src" in attrs:
            urls.append(attrs[b"src"].decode())
    return [u for u in urls if u]


def to_output_path(url: str, base_path: str) -> str:
    """``/journal/static/css/x.css?v=1`` -> ``static/css/x.css`` (external URLs are kept as they are)."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return url
    return parts.path.removeprefix(base_path).lstrip("/")


def base_path_of(files: Mapping[str, bytes]) -> str:
    """The site's path prefix, from the home page's canonical link ("/journal/" or "/")."""
    match = re.search(rb'<link rel="canonical" href="([^"]+)"', files.get("index.html", b""))
    return urlsplit(match.group(1).decode()).path if match else "/"


def page_types(files: Mapping[str, bytes]) -> dict[str, str]:
    """One output file per page type; a post with an embedded diagram if there is one."""
    pages = sorted(p for p in files if p.endswith("index.html"))
    posts = [p for p in pages if p.startswith("posts/")]
    diagram_posts = [p for p in posts if b"nj-network-data" in files[p]]
    plain_posts = [p for p in posts if p not in diagram_posts]
    tags = [p for p in pages if p.startswith("tags/") and p.count("/") == 2 and p != "tags/index.html"]
    tags = [p for p in tags if b'http-equiv="refresh"' not in files[p]]
    rounds = [p for p in pages if p.startswith("network/round-")]
    chosen = {
        "index": "index.html",
        "post": (plain_posts or posts or [None])[0],
        "post+diagram": (diagram_posts or [None])[0],
        "page": "about/index.html" if "about/index.html" in files else None,
        "tags": "tags/index.html",
        "tag": (tags or [None])[0],
        "archive": "archive/index.html",
        "network": "network/index.html",
        "round": (rounds or [None])[0],
        "search": "search/index.html",
        "404": "404.html",
    }
    return {kind: path for kind, path in chosen.items() if path and path in files}


def weigh(kind: str, path: str, files: Mapping[str, bytes], base_path: str, extra: tuple[str, ...] = ()) -> Weight:
    html = files[path]
    assets = tuple(to_output_path(u, base_path) for u in asset_urls(html)) + extra
    missing = [a for a in assets if a not in files]
    if missing:
        raise SystemExit(f"{path}: loads {missing[0]}, which is not in the build (or is external)")
    css = sum(len(files[a]) for a in assets if a.endswith(".css"))
    js = sum(len(files[a]) for a in assets if not a.endswith(".css"))
    return Weight(
        kind, path, assets, len(html), css, js,
        total=len(html) + css + js,
        gzip_total=gz(html) + sum(gz(files[a]) for a in assets),
    )  # fmt: skip


def search_runtime(files: Mapping[str, bytes]) -> tuple[str, ...]:
    """What Pagefind fetches on a first query, besides index chunks and fragments (those vary)."""
    names = ["pagefind/pagefind.js", "pagefind/pagefind-entry.json"]
    names += sorted(p for p in files if p.startswith("pagefind/wasm.") and not p.endswith("unknown.pagefind"))[:1]
    names += sorted(p for p in files if p.startswith("pagefind/") and p.endswith(".pf_meta"))[:1]
    return tuple(n for n in names if n in files)


def report(files: Mapping[str, bytes]) -> list[Weight]:
    base = base_path_of(files)
    runtime = search_runtime(files)
    warm = runtime[:1]  # search.js imports pagefind.js as the page loads, so typing feels instant
    rows = [
        weigh(kind, path, files, base, warm if kind == "search" else ()) for kind, path in page_types(files).items()
    ]
    if runtime and "search/index.html" in files:
        rows.append(weigh("search+pagefind", "search/index.html", files, base, runtime))
    return rows


def read_output(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def build_example() -> dict[str, bytes]:
    sys.path.insert(0, str(ROOT))
    from builder.build import Builder, BuildOptions

    _, files = Builder().render(BuildOptions(ROOT, ROOT / "public"))
    return files


def kb(n: int) -> str:
    return f"{n / 1024:.1f}"


def format_table(rows: list[Weight]) -> str:
    lines = [
        f"{'page type':<16} {'HTML kB':>8} {'CSS kB':>7} {'JS kB':>7} {'total kB':>9} {'gzip kB':>8}  loads",
        "-" * 100,
    ]
    for r in rows:
        loads = ", ".join(Path(a).name for a in r.assets)
        sizes = f"{kb(r.html):>8} {kb(r.css):>7} {kb(r.js):>7} {kb(r.total):>9} {kb(r.gzip_total):>8}"
        lines.append(f"{r.kind:<16} {sizes}  {loads}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, help="a build output folder (default: build the example site)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    files = read_output(args.output) if args.output else build_example()
    rows = report(files)
    print(json.dumps([asdict(r) for r in rows], indent=2) if args.json else format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
